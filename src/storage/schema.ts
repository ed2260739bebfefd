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
  uniqueIndex,
} from 'drizzle-orm/pg-core';

const createdAt = () => timestamp('created_at', { withTimezone: true, mode: 'date' }).notNull().defaultNow();

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
  createdAt: createdAt(),
});

export const conversations = pgTable(
  'conversations',
  {
    id: text('id').primaryKey(),
    ownerId: text('owner_id')
      .notNull()
      .references(() => principals.id, { onDelete: 'cascade' }),
    title: text('title'),
    model: text('model').notNull(),
    temperature: real('temperature').notNull(),
    maxTokens: integer('max_tokens').notNull(),
    topP: real('top_p').notNull(),
    frequencyPenalty: real('frequency_penalty').notNull(),
    presencePenalty: real('presence_penalty').notNull(),
    systemPrompt: text('system_prompt'),
    /** Highest message seq handed out; bumped atomically so concurrent writers never collide. */
    lastSeq: integer('last_seq').notNull().default(0),
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
    conversationId: text('conversation_id')
      .notNull()
      .references(() => conversations.id, { onDelete: 'cascade' }),
    seq: integer('seq').notNull(),
    role: text('role', { enum: ['system', 'user', 'assistant', 'tool'] }).notNull(),
    content: text('content'),
    name: text('name'),
    toolCalls: jsonb('tool_calls').$type<ToolCallRecord[]>(),
    toolCallId: text('tool_call_id'),
    tokenCount: integer('token_count').notNull(),
    status: text('status', { enum: ['complete', 'partial', 'failed'] })
      .notNull()
      .default('complete'),
    /** False once trimmed out of the context: the row stays readable but is no longer sent upstream. */
    inContext: boolean('in_context').notNull().default(true),
    completionId: text('completion_id'),
    createdAt: createdAt(),
  },
  (table) => [uniqueIndex('messages_conversation_seq_idx').on(table.conversationId, table.seq)],
);

export type CompletionErrorRecord = { code: string; message: string; retryAfter?: number | null };

export const completions = pgTable(
  'completions',
  {
    id: text('id').primaryKey(),
    ownerId: text('owner_id')
      .notNull()
      .references(() => principals.id, { onDelete: 'cascade' }),
    conversationId: text('conversation_id')
      .notNull()
      .references(() => conversations.id, { onDelete: 'cascade' }),
    status: text('status', { enum: ['running', 'completed', 'failed', 'cancelled'] }).notNull(),
    model: text('model').notNull(),
    messageId: text('message_id'),
    finishReason: text('finish_reason'),
    promptTokens: integer('prompt_tokens').notNull().default(0),
    completionTokens: integer('completion_tokens').notNull().default(0),
    costUsd: doublePrecision('cost_usd').notNull().default(0),
    latencyMs: integer('latency_ms'),
    timeToFirstTokenMs: integer('time_to_first_token_ms'),
    error: jsonb('error').$type<CompletionErrorRecord>(),
    idempotencyKey: text('idempotency_key'),
    createdAt: createdAt(),
    finishedAt: timestamp('finished_at', { withTimezone: true, mode: 'date' }),
  },
  (table) => [
    uniqueIndex('completions_owner_idempotency_idx').on(table.ownerId, table.idempotencyKey),
    index('completions_conversation_idx').on(table.conversationId),
  ],
);

export type PrincipalRow = typeof principals.$inferSelect;
export type ConversationRow = typeof conversations.$inferSelect;
export type MessageRow = typeof messages.$inferSelect;
export type CompletionRow = typeof completions.$inferSelect;
