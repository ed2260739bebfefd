import { and, eq, inArray, lt } from 'drizzle-orm';
import type { TurnOutcome } from '../conversations/turns.js';
import type { Db } from '../storage/db.js';
import { type CompletionErrorRecord, type CompletionRow, completions } from '../storage/schema.js';
import { type UsageFilter, usageOf } from '../storage/usage.js';

/** This instance's claim on the completions it runs, renewed while they run. */
export interface Lease {
  instanceId: string;
  ms: number;
}

/** What ending a completion sets: a turn's outcome, or (lease sweep) the PARTIAL reply's id. */
export type CompletionOutcome = TurnOutcome & Partial<Pick<CompletionRow, 'messageId'>>;

export class CompletionStore {
  constructor(private readonly db: Db) {}

  async finish(
    id: string,
    outcome: CompletionOutcome,
    db: Pick<Db, 'update'> = this.db,
  ): Promise<CompletionRow> {
    const [row] = await db
      .update(completions)
      .set({ ...outcome, finishedAt: new Date() })
      .where(eq(completions.id, id))
      .returning();
    if (!row) throw new Error(`completion ${id} vanished`);
    return row;
  }

  /** Extends the leases of this instance's running completions, saving each one's reply so far. */
  async renewLeases(lease: Lease, runs: { id: string; partialContent: string }[]): Promise<void> {
    const leaseExpiresAt = new Date(Date.now() + lease.ms);
    await Promise.all(
      runs.map(({ id, partialContent }) =>
        this.db.update(completions).set({ leaseExpiresAt, partialContent }).where(held(id, lease)),
      ),
    );
  }

  /**
   * Fails every running completion whose lease has expired and returns them. The UPDATE claims each row once,
   * so when several instances sweep at the same moment only one of them handles a given completion.
   */
  async failExpired(error: CompletionErrorRecord): Promise<CompletionRow[]> {
    return this.db
      .update(completions)
      .set({ status: 'failed', error, finishedAt: new Date() })
      .where(and(eq(completions.status, 'running'), lt(completions.leaseExpiresAt, new Date())))
      .returning();
  }

  async byIds(ids: readonly string[]): Promise<CompletionRow[]> {
    return this.db
      .select()
      .from(completions)
      .where(inArray(completions.id, [...ids]));
  }

  /** The completions' usage by model or conversation (each completion counts once). */
  usage(key: 'model' | 'conversationId', filter: UsageFilter) {
    return usageOf(this.db, completions, true, key, filter);
  }

  async get(id: string): Promise<CompletionRow | null> {
    const [row] = await this.db.select().from(completions).where(eq(completions.id, id));
    return row ?? null;
  }
}

/** A completion still RUNNING under this instance's lease (not yet taken by a sweep). */
function held(id: string, lease: Lease) {
  return and(
    eq(completions.id, id),
    eq(completions.status, 'running'),
    eq(completions.instanceId, lease.instanceId),
  );
}
