CREATE TABLE "mcp_servers" (
	"name" text PRIMARY KEY NOT NULL,
	"url" text NOT NULL,
	"headers" jsonb NOT NULL,
	"principals" text[] NOT NULL,
	"created_at" timestamp with time zone DEFAULT now() NOT NULL,
	"updated_at" timestamp with time zone DEFAULT now() NOT NULL
);
--> statement-breakpoint
ALTER TABLE "function_definitions" ADD COLUMN "mcp_server" text;--> statement-breakpoint
ALTER TABLE "function_definitions" ADD COLUMN "mcp_tool" text;--> statement-breakpoint
ALTER TABLE "function_definitions" ADD CONSTRAINT "function_definitions_mcp_server_mcp_servers_name_fk" FOREIGN KEY ("mcp_server") REFERENCES "public"."mcp_servers"("name") ON DELETE cascade ON UPDATE no action;