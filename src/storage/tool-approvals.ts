import { sql } from 'drizzle-orm';
import { index, integer, jsonb, pgTable, text, timestamp, uniqueIndex } from 'drizzle-orm/pg-core';
import { completions, createdAt, ownerColumn } from './schema.js';

/** A tool call the model made that waits for (or got) a human's decision before it runs. */
export const toolApprovals = pgTable(
  'tool_approvals',
  {
    id: text('id').primaryKey(),
    completionId: text('completion_id')
      .notNull()
      .references(() => completions.id, { onDelete: 'cascade' }),
    ownerId: ownerColumn(),
    toolCallId: text('tool_call_id').notNull(),
    functionName: text('function_name').notNull(),
    /** As the function would receive them (validated, defaults added). */
    arguments: jsonb('arguments').$type<unknown>().notNull(),
    status: text('status', { enum: ['pending', 'approved', 'denied', 'expired'] }).notNull(),
    /** Why it was denied or expired: sent to the model as the call's result. */
    reason: text('reason'),
    /** The seq of its ToolApprovalRequested event. */
    seq: integer('seq').notNull(),
    expiresAt: timestamp('expires_at', { withTimezone: true, mode: 'date' }).notNull(),
    decidedAt: timestamp('decided_at', { withTimezone: true, mode: 'date' }),
    createdAt: createdAt(),
  },
  (table) => [
    uniqueIndex('tool_approvals_completion_call_idx').on(table.completionId, table.toolCallId),
    index('tool_approvals_pending_expiry_idx').on(table.expiresAt).where(sql`${table.status} = 'pending'`),
  ],
);

export type ToolApprovalRow = typeof toolApprovals.$inferSelect;
