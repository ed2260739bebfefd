CREATE TABLE "tool_approvals" (
	"id" text PRIMARY KEY NOT NULL,
	"completion_id" text NOT NULL,
	"owner_id" text NOT NULL,
	"tool_call_id" text NOT NULL,
	"function_name" text NOT NULL,
	"arguments" jsonb NOT NULL,
	"status" text NOT NULL,
	"reason" text,
	"seq" integer NOT NULL,
	"expires_at" timestamp with time zone NOT NULL,
	"decided_at" timestamp with time zone,
	"created_at" timestamp with time zone DEFAULT now() NOT NULL
);
--> statement-breakpoint
ALTER TABLE "completions" ADD COLUMN "run_state" jsonb;--> statement-breakpoint
ALTER TABLE "function_definitions" ADD COLUMN "requires_approval" boolean DEFAULT false NOT NULL;--> statement-breakpoint
ALTER TABLE "tool_approvals" ADD CONSTRAINT "tool_approvals_completion_id_completions_id_fk" FOREIGN KEY ("completion_id") REFERENCES "public"."completions"("id") ON DELETE cascade ON UPDATE no action;--> statement-breakpoint
ALTER TABLE "tool_approvals" ADD CONSTRAINT "tool_approvals_owner_id_principals_id_fk" FOREIGN KEY ("owner_id") REFERENCES "public"."principals"("id") ON DELETE cascade ON UPDATE no action;--> statement-breakpoint
CREATE UNIQUE INDEX "tool_approvals_completion_call_idx" ON "tool_approvals" USING btree ("completion_id","tool_call_id");--> statement-breakpoint
CREATE INDEX "tool_approvals_pending_expiry_idx" ON "tool_approvals" USING btree ("expires_at") WHERE "tool_approvals"."status" = 'pending';--> statement-breakpoint
CREATE INDEX "completions_awaiting_idx" ON "completions" USING btree ("id") WHERE "completions"."status" = 'awaiting_approval';