import { sql } from 'drizzle-orm';
import {
  boolean,
  doublePrecision,
  index,
  integer,
  jsonb,
  pgTable,
  real,
  text,
  timestamp,
  unique,
  uniqueIndex,
} from 'drizzle-orm/pg-core';

export const createdAt = () =>
  timestamp('created_at', { withTimezone: true, mode: 'date' }).notNull().defaultNow();
/** The principal a row belongs to: every read checks it, and the row goes with its principal. */
export const ownerColumn = () =>
  text('owner_id')
    .notNull()
    .references(() => principals.id, { onDelete: 'cascade' });
/** The conversation a row belongs to; it goes with its conversation. */
const conversationColumn = () =>
  text('conversation_id')
    .notNull()
    .references(() => conversations.id, { onDelete: 'cascade' });

export const principals = pgTable('principals', {
  id: text('id').primaryKey(),
  name: text('name').notNull().unique(),
  scopes: text('scopes').array().notNull().default(sql`'{}'::text[]`),
  createdAt: createdAt(),
});

export const apiKeys = pgTable('api_keys', {
  id: text('id').primaryKey(),
  principalId: text('principal_id')
    .notNull()
    .references(() => principals.id, { onDelete: 'cascade' }),
  keyHash: text('key_hash').notNull().unique(),
  /** The key's first characters, enough to tell keys apart in a list; the rest exists only as the hash. */
  prefix: text('prefix').notNull().default(''),
  /** `config`: listed in API_KEYS, and revoked at start once no longer listed; `created`: by createApiKey. */
  source: text('source', { enum: ['config', 'created'] })
    .notNull()
    .default('created'),
  lastUsedAt: timestamp('last_used_at', { withTimezone: true }),
  createdAt: createdAt(),
});

export const conversations = pgTable(
  'conversations',
  {
    id: text('id').primaryKey(),
    ownerId: ownerColumn(),
    title: text('title'),
    model: text('model').notNull(),
    temperature: real('temperature').notNull(),
    maxTokens: integer('max_tokens').notNull(),
    topP: real('top_p').notNull(),
    frequencyPenalty: real('frequency_penalty').notNull(),
    presencePenalty: real('presence_penalty').notNull(),
    /** Reasoning models: the `reasoning_effort` sent; null leaves it to the model's default. */
    reasoningEffort: text('reasoning_effort', {
      enum: ['none', 'minimal', 'low', 'medium', 'high', 'xhigh'],
    }),
    /** Tried in order when the model fails in a way another could answer; null: FALLBACK_MODELS' list. */
    fallbackModels: text('fallback_models').array(),
    systemPrompt: text('system_prompt'),
    /** Highest message seq handed out; bumped atomically so concurrent writers never collide. */
    lastSeq: integer('last_seq').notNull().default(0),
    /** How the context is fitted to the model's window before each completion (see conversations/context.ts). */
    contextStrategy: text('context_strategy', { enum: ['drop_oldest', 'summarize'] })
      .notNull()
      .default('drop_oldest'),
    createdAt: createdAt(),
    updatedAt: timestamp('updated_at', { withTimezone: true, mode: 'date' }).notNull().defaultNow(),
  },
  (table) => [index('conversations_owner_created_idx').on(table.ownerId, table.createdAt, table.id)],
);

export type ToolCallRecord = { id: string; functionName: string; arguments: string };

export const messages = pgTable(
  'messages',
  {
    id: text('id').primaryKey(),
    conversationId: conversationColumn(),
    seq: integer('seq').notNull(),
    role: text('role', { enum: ['system', 'user', 'assistant', 'tool'] }).notNull(),
    content: text('content'),
    name: text('name'),
    toolCalls: jsonb('tool_calls').$type<ToolCallRecord[]>(),
    toolCallId: text('tool_call_id'),
    /** An assistant reply the model refused to give (OpenAI's `message.refusal`); its content is then null. */
    refusal: text('refusal'),
    tokenCount: integer('token_count').notNull(),
    status: text('status', { enum: ['complete', 'partial', 'failed'] })
      .notNull()
      .default('complete'),
    /** False once trimmed out of the context: the row stays readable but is no longer sent upstream. */
    inContext: boolean('in_context').notNull().default(true),
    /**
     * Set on a summary written by SUMMARIZE: the context position of the first message it replaces. The context
     * is ordered by `coalesce(summary_of_seq, seq), seq`, so the summary sits where its span began while its own
     * seq (write order, the `messages` cursor) stays unique and increasing.
     */
    summaryOfSeq: integer('summary_of_seq'),
    completionId: text('completion_id'),
    createdAt: createdAt(),
  },
  (table) => [
    uniqueIndex('messages_conversation_seq_idx').on(table.conversationId, table.seq),
    // Context operations walk the in-context messages oldest first and stop early; this keeps that O(dropped).
    index('messages_context_idx')
      .on(table.conversationId, sql`coalesce(${table.summaryOfSeq}, ${table.seq})`, table.seq)
      .where(sql`in_context`),
  ],
);

/** What every row that stands for model requests stores of their usage (completions, summary requests). */
const usageColumns = () => ({
  promptTokens: integer('prompt_tokens').notNull().default(0),
  completionTokens: integer('completion_tokens').notNull().default(0),
  /** Of the completion tokens, those the model spent reasoning (reasoning models report them). */
  reasoningTokens: integer('reasoning_tokens').notNull().default(0),
  /** The upstream sent no usage for some of the requests: their tokens are our tiktoken estimate. */
  usageEstimated: boolean('usage_estimated').notNull().default(false),
  costUsd: doublePrecision('cost_usd').notNull().default(0),
});

export type CompletionErrorRecord = {
  code: string;
  message: string;
  retryAfter?: number | null;
  /** BUDGET_EXCEEDED: when the budget resets (ISO 8601). */
  resetsAt?: string | null;
};
/** One model a completion asked, in order, with the error it failed with (null: it answered). */
export type CompletionAttemptRecord = { model: string; error: CompletionErrorRecord | null };

export const completions = pgTable(
  'completions',
  {
    id: text('id').primaryKey(),
    ownerId: ownerColumn(),
    conversationId: conversationColumn(),
    status: text('status', {
      enum: ['running', 'awaiting_approval', 'completed', 'failed', 'cancelled'],
    }).notNull(),
    /** The key the completion was started with: its requests count against that key's budgets too. */
    apiKeyId: text('api_key_id').references(() => apiKeys.id, { onDelete: 'set null' }),
    model: text('model').notNull(),
    messageId: text('message_id'),
    finishReason: text('finish_reason'),
    /** Answered by the response cache, without an upstream request. */
    cached: boolean('cached').notNull().default(false),
    ...usageColumns(),
    latencyMs: integer('latency_ms'),
    timeToFirstTokenMs: integer('time_to_first_token_ms'),
    error: jsonb('error').$type<CompletionErrorRecord>(),
    /** The models asked, in order: more than one when a model failed and a fallback model was tried. */
    attempts: jsonb('attempts').$type<CompletionAttemptRecord[]>().notNull().default([]),
    /** A structured-output reply (responseFormat JSON_OBJECT or JSON_SCHEMA) parsed and validated. */
    parsed: jsonb('parsed').$type<unknown>(),
    idempotencyKey: text('idempotency_key'),
    createdAt: createdAt(),
    finishedAt: timestamp('finished_at', { withTimezone: true, mode: 'date' }),
    /** The instance running it, and until when: an expired lease means the instance died mid-run. */
    instanceId: text('instance_id'),
    leaseExpiresAt: timestamp('lease_expires_at', { withTimezone: true, mode: 'date' }),
    /** The reply so far, saved with each lease renewal so a sweep can keep it as a PARTIAL message. */
    partialContent: text('partial_content'),
    /** What a run paused for tool approvals needs to go on, on any instance (see completions/run-state.ts). */
    runState: jsonb('run_state').$type<unknown>(),
  },
  (table) => [
    uniqueIndex('completions_owner_idempotency_idx').on(table.ownerId, table.idempotencyKey),
    index('completions_conversation_idx').on(table.conversationId),
    index('completions_running_lease_idx').on(table.leaseExpiresAt).where(sql`${table.status} = 'running'`),
    index('completions_awaiting_idx').on(table.id).where(sql`${table.status} = 'awaiting_approval'`),
  ],
);

/**
 * One row per SUMMARIZE model request (trimContext or the automatic fit): its tokens and cost, counted against
 * the conversation and its owner next to the completions'.
 */
export const summaryRequests = pgTable(
  'summary_requests',
  {
    id: text('id').primaryKey(),
    ownerId: ownerColumn(),
    conversationId: conversationColumn(),
    model: text('model').notNull(),
    ...usageColumns(),
    createdAt: createdAt(),
  },
  (table) => [
    index('summary_requests_conversation_idx').on(table.conversationId),
    index('summary_requests_owner_created_idx').on(table.ownerId, table.createdAt),
  ],
);

/** MCP servers: the API never returns `headers` (credentials); `principals` holds principal ids, or `*`. */
export const mcpServers = pgTable('mcp_servers', {
  name: text('name').primaryKey(),
  url: text('url').notNull(),
  headers: jsonb('headers').$type<Record<string, string>>().notNull(),
  principals: text('principals').array().notNull(),
  createdAt: createdAt(),
  updatedAt: timestamp('updated_at', { withTimezone: true, mode: 'date' }).notNull().defaultNow(),
});

/** The function registry: built-ins (in code), webhook functions, and MCP servers' tools (`<server>__<tool>`). */
export const functionDefinitions = pgTable('function_definitions', {
  name: text('name').primaryKey(),
  /** Who registered a webhook function; null for built-ins and MCP tools. */
  ownerId: text('owner_id').references(() => principals.id, { onDelete: 'set null' }),
  kind: text('kind', { enum: ['builtin', 'webhook', 'mcp'] }).notNull(),
  description: text('description').notNull(),
  parameters: jsonb('parameters').$type<Record<string, unknown>>().notNull(),
  webhookUrl: text('webhook_url'),
  /** An MCP tool's server and its name there. */
  mcpServer: text('mcp_server').references(() => mcpServers.name, { onDelete: 'cascade' }),
  mcpTool: text('mcp_tool'),
  enabled: boolean('enabled').notNull().default(true),
  /** A call by the model waits for approveToolCall / denyToolCall before it runs. */
  requiresApproval: boolean('requires_approval').notNull().default(false),
  createdAt: createdAt(),
  updatedAt: timestamp('updated_at', { withTimezone: true, mode: 'date' }).notNull().defaultNow(),
});

export const functionExecutions = pgTable(
  'function_executions',
  {
    id: text('id').primaryKey(),
    ownerId: ownerColumn(),
    /** Null for a direct `executeFunction`. */
    completionId: text('completion_id').references(() => completions.id, { onDelete: 'cascade' }),
    toolCallId: text('tool_call_id'),
    functionName: text('function_name').notNull(),
    arguments: jsonb('arguments').$type<unknown>(),
    result: jsonb('result').$type<unknown>(),
    error: text('error'),
    status: text('status', { enum: ['succeeded', 'failed'] }).notNull(),
    durationMs: doublePrecision('duration_ms').notNull(),
    createdAt: createdAt(),
  },
  (table) => [
    index('function_executions_completion_idx').on(table.completionId),
    index('function_executions_tool_call_idx').on(table.toolCallId),
    index('function_executions_name_idx').on(table.functionName),
  ],
);

/** Spending limits per UTC day or month: a principal's (api_key_id null) or one key's; counted in limits/. */
export const budgets = pgTable(
  'budgets',
  {
    id: text('id').primaryKey(),
    principalId: text('principal_id')
      .notNull()
      .references(() => principals.id, { onDelete: 'cascade' }),
    apiKeyId: text('api_key_id').references(() => apiKeys.id, { onDelete: 'cascade' }),
    period: text('period', { enum: ['day', 'month'] }).notNull(),
    /** Null: no limit of that kind (one of them is set); tokens are prompt plus completion tokens. */
    limitUsd: doublePrecision('limit_usd'),
    limitTokens: integer('limit_tokens'),
    createdAt: createdAt(),
    updatedAt: timestamp('updated_at', { withTimezone: true, mode: 'date' }).notNull().defaultNow(),
  },
  (table) => [
    unique('budgets_scope_period_key').on(table.principalId, table.apiKeyId, table.period).nullsNotDistinct(),
  ],
);

export type ConversationRow = typeof conversations.$inferSelect;
export type MessageRow = typeof messages.$inferSelect;
export type CompletionRow = typeof completions.$inferSelect;
export type FunctionDefinitionRow = typeof functionDefinitions.$inferSelect;
export type McpServerRow = typeof mcpServers.$inferSelect;
export type FunctionExecutionRow = typeof functionExecutions.$inferSelect;
export type BudgetRow = typeof budgets.$inferSelect;
