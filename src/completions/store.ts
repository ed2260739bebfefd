import { randomUUID } from 'node:crypto';
import { and, eq } from 'drizzle-orm';
import type { Db } from '../storage/db.js';
import { type CompletionRow, completions } from '../storage/schema.js';

export type CompletionStatus = CompletionRow['status'];
export type CompletionOutcome = Partial<
  Pick<
    CompletionRow,
    | 'status'
    | 'messageId'
    | 'finishReason'
    | 'cached'
    | 'promptTokens'
    | 'completionTokens'
    | 'costUsd'
    | 'latencyMs'
    | 'timeToFirstTokenMs'
    | 'error'
  >
>;

export class CompletionStore {
  constructor(private readonly db: Db) {}

  /**
   * Inserts a RUNNING completion. With an idempotency key, a second call with the same key gets the first row
   * back (`created: false`) instead, so a retried request never runs twice, even across instances.
   */
  async create(input: {
    ownerId: string;
    conversationId: string;
    model: string;
    idempotencyKey?: string | null;
  }): Promise<{ row: CompletionRow; created: boolean }> {
    const [row] = await this.db
      .insert(completions)
      .values({ id: randomUUID(), status: 'running', ...input, idempotencyKey: input.idempotencyKey ?? null })
      .onConflictDoNothing({ target: [completions.ownerId, completions.idempotencyKey] })
      .returning();
    if (row) return { row, created: true };
    const [existing] = await this.db
      .select()
      .from(completions)
      .where(
        and(
          eq(completions.ownerId, input.ownerId),
          eq(completions.idempotencyKey, input.idempotencyKey ?? ''),
        ),
      );
    if (!existing) throw new Error('idempotency conflict without an existing completion');
    return { row: existing, created: false };
  }

  async finish(id: string, outcome: CompletionOutcome): Promise<CompletionRow> {
    const [row] = await this.db
      .update(completions)
      .set({ ...outcome, finishedAt: new Date() })
      .where(eq(completions.id, id))
      .returning();
    if (!row) throw new Error(`completion ${id} vanished`);
    return row;
  }

  async get(id: string): Promise<CompletionRow | null> {
    const [row] = await this.db.select().from(completions).where(eq(completions.id, id));
    return row ?? null;
  }
}
