CREATE TABLE "api_keys" (
	"id" text PRIMARY KEY NOT NULL,
	"principal_id" text NOT NULL,
	"key_hash" text NOT NULL,
	"created_at" timestamp with time zone DEFAULT now() NOT NULL,
	CONSTRAINT "api_keys_key_hash_unique" UNIQUE("key_hash")
);
--> statement-breakpoint
CREATE TABLE "completions" (
	"id" text PRIMARY KEY NOT NULL,
	"owner_id" text NOT NULL,
	"conversation_id" text NOT NULL,
	"status" text NOT NULL,
	"model" text NOT NULL,
	"message_id" text,
	"finish_reason" text,
	"cached" boolean DEFAULT false NOT NULL,
	"prompt_tokens" integer DEFAULT 0 NOT NULL,
	"completion_tokens" integer DEFAULT 0 NOT NULL,
	"cost_usd" double precision DEFAULT 0 NOT NULL,
	"latency_ms" integer,
	"time_to_first_token_ms" integer,
	"error" jsonb,
	"idempotency_key" text,
	"created_at" timestamp with time zone DEFAULT now() NOT NULL,
	"finished_at" timestamp with time zone,
	"instance_id" text,
	"lease_expires_at" timestamp with time zone,
	"partial_content" text
);
--> statement-breakpoint
CREATE TABLE "conversations" (
	"id" text PRIMARY KEY NOT NULL,
	"owner_id" text NOT NULL,
	"title" text,
	"model" text NOT NULL,
	"temperature" real NOT NULL,
	"max_tokens" integer NOT NULL,
	"top_p" real NOT NULL,
	"frequency_penalty" real NOT NULL,
	"presence_penalty" real NOT NULL,
	"system_prompt" text,
	"last_seq" integer DEFAULT 0 NOT NULL,
	"context_strategy" text DEFAULT 'drop_oldest' NOT NULL,
	"created_at" timestamp with time zone DEFAULT now() NOT NULL,
	"updated_at" timestamp with time zone DEFAULT now() NOT NULL
);
--> statement-breakpoint
CREATE TABLE "function_definitions" (
	"name" text PRIMARY KEY NOT NULL,
	"owner_id" text,
	"kind" text NOT NULL,
	"description" text NOT NULL,
	"parameters" jsonb NOT NULL,
	"webhook_url" text,
	"enabled" boolean DEFAULT true NOT NULL,
	"created_at" timestamp with time zone DEFAULT now() NOT NULL,
	"updated_at" timestamp with time zone DEFAULT now() NOT NULL
);
--> statement-breakpoint
CREATE TABLE "function_executions" (
	"id" text PRIMARY KEY NOT NULL,
	"owner_id" text NOT NULL,
	"completion_id" text,
	"tool_call_id" text,
	"function_name" text NOT NULL,
	"arguments" jsonb,
	"result" jsonb,
	"error" text,
	"status" text NOT NULL,
	"duration_ms" double precision NOT NULL,
	"created_at" timestamp with time zone DEFAULT now() NOT NULL
);
--> statement-breakpoint
CREATE TABLE "messages" (
	"id" text PRIMARY KEY NOT NULL,
	"conversation_id" text NOT NULL,
	"seq" integer NOT NULL,
	"role" text NOT NULL,
	"content" text,
	"name" text,
	"tool_calls" jsonb,
	"tool_call_id" text,
	"token_count" integer NOT NULL,
	"status" text DEFAULT 'complete' NOT NULL,
	"in_context" boolean DEFAULT true NOT NULL,
	"summary_of_seq" integer,
	"completion_id" text,
	"created_at" timestamp with time zone DEFAULT now() NOT NULL
);
--> statement-breakpoint
CREATE TABLE "principals" (
	"id" text PRIMARY KEY NOT NULL,
	"name" text NOT NULL,
	"scopes" text[] DEFAULT '{}'::text[] NOT NULL,
	"created_at" timestamp with time zone DEFAULT now() NOT NULL,
	CONSTRAINT "principals_name_unique" UNIQUE("name")
);
--> statement-breakpoint
CREATE TABLE "spending_rules" (
	"id" text PRIMARY KEY NOT NULL,
	"owner_id" text NOT NULL,
	"kind" text NOT NULL,
	"scope" text NOT NULL,
	"category" text,
	"merchant" text,
	"amount" numeric(14, 2),
	"currency" text,
	"max_transactions" integer,
	"window_minutes" integer,
	"enabled" boolean DEFAULT true NOT NULL,
	"created_at" timestamp with time zone DEFAULT now() NOT NULL,
	"updated_at" timestamp with time zone DEFAULT now() NOT NULL
);
--> statement-breakpoint
CREATE TABLE "transactions" (
	"id" text PRIMARY KEY NOT NULL,
	"owner_id" text NOT NULL,
	"amount" numeric(14, 2) NOT NULL,
	"currency" text NOT NULL,
	"merchant" text NOT NULL,
	"category" text NOT NULL,
	"status" text NOT NULL,
	"violations" jsonb NOT NULL,
	"remaining_budget" numeric(14, 2),
	"completion_id" text,
	"created_at" timestamp with time zone DEFAULT now() NOT NULL
);
--> statement-breakpoint
ALTER TABLE "api_keys" ADD CONSTRAINT "api_keys_principal_id_principals_id_fk" FOREIGN KEY ("principal_id") REFERENCES "public"."principals"("id") ON DELETE cascade ON UPDATE no action;--> statement-breakpoint
ALTER TABLE "completions" ADD CONSTRAINT "completions_owner_id_principals_id_fk" FOREIGN KEY ("owner_id") REFERENCES "public"."principals"("id") ON DELETE cascade ON UPDATE no action;--> statement-breakpoint
ALTER TABLE "completions" ADD CONSTRAINT "completions_conversation_id_conversations_id_fk" FOREIGN KEY ("conversation_id") REFERENCES "public"."conversations"("id") ON DELETE cascade ON UPDATE no action;--> statement-breakpoint
ALTER TABLE "conversations" ADD CONSTRAINT "conversations_owner_id_principals_id_fk" FOREIGN KEY ("owner_id") REFERENCES "public"."principals"("id") ON DELETE cascade ON UPDATE no action;--> statement-breakpoint
ALTER TABLE "function_definitions" ADD CONSTRAINT "function_definitions_owner_id_principals_id_fk" FOREIGN KEY ("owner_id") REFERENCES "public"."principals"("id") ON DELETE set null ON UPDATE no action;--> statement-breakpoint
ALTER TABLE "function_executions" ADD CONSTRAINT "function_executions_owner_id_principals_id_fk" FOREIGN KEY ("owner_id") REFERENCES "public"."principals"("id") ON DELETE cascade ON UPDATE no action;--> statement-breakpoint
ALTER TABLE "function_executions" ADD CONSTRAINT "function_executions_completion_id_completions_id_fk" FOREIGN KEY ("completion_id") REFERENCES "public"."completions"("id") ON DELETE cascade ON UPDATE no action;--> statement-breakpoint
ALTER TABLE "messages" ADD CONSTRAINT "messages_conversation_id_conversations_id_fk" FOREIGN KEY ("conversation_id") REFERENCES "public"."conversations"("id") ON DELETE cascade ON UPDATE no action;--> statement-breakpoint
ALTER TABLE "spending_rules" ADD CONSTRAINT "spending_rules_owner_id_principals_id_fk" FOREIGN KEY ("owner_id") REFERENCES "public"."principals"("id") ON DELETE cascade ON UPDATE no action;--> statement-breakpoint
ALTER TABLE "transactions" ADD CONSTRAINT "transactions_owner_id_principals_id_fk" FOREIGN KEY ("owner_id") REFERENCES "public"."principals"("id") ON DELETE cascade ON UPDATE no action;--> statement-breakpoint
ALTER TABLE "transactions" ADD CONSTRAINT "transactions_completion_id_completions_id_fk" FOREIGN KEY ("completion_id") REFERENCES "public"."completions"("id") ON DELETE set null ON UPDATE no action;--> statement-breakpoint
CREATE UNIQUE INDEX "completions_owner_idempotency_idx" ON "completions" USING btree ("owner_id","idempotency_key");--> statement-breakpoint
CREATE INDEX "completions_conversation_idx" ON "completions" USING btree ("conversation_id");--> statement-breakpoint
CREATE INDEX "completions_running_lease_idx" ON "completions" USING btree ("lease_expires_at") WHERE "completions"."status" = 'running';--> statement-breakpoint
CREATE INDEX "conversations_owner_created_idx" ON "conversations" USING btree ("owner_id","created_at","id");--> statement-breakpoint
CREATE INDEX "function_executions_completion_idx" ON "function_executions" USING btree ("completion_id");--> statement-breakpoint
CREATE INDEX "function_executions_tool_call_idx" ON "function_executions" USING btree ("tool_call_id");--> statement-breakpoint
CREATE INDEX "function_executions_name_idx" ON "function_executions" USING btree ("function_name");--> statement-breakpoint
CREATE UNIQUE INDEX "messages_conversation_seq_idx" ON "messages" USING btree ("conversation_id","seq");--> statement-breakpoint
CREATE INDEX "messages_context_idx" ON "messages" USING btree ("conversation_id",coalesce("summary_of_seq", "seq"),"seq") WHERE in_context;--> statement-breakpoint
CREATE UNIQUE INDEX "spending_rules_owner_kind_scope_idx" ON "spending_rules" USING btree ("owner_id","kind","scope");--> statement-breakpoint
CREATE INDEX "transactions_owner_created_idx" ON "transactions" USING btree ("owner_id","created_at","id");