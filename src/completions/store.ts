import { randomUUID } from 'node:crypto';
import { and, eq, lt, notExists, sql } from 'drizzle-orm';
import type { Db } from '../storage/db.js';
import { type CompletionErrorRecord, type CompletionRow, completions } from '../storage/schema.js';
import { toolApprovals } from '../storage/tool-approvals.js';

/** This instance's claim on the completions it runs, renewed while they run. */
export interface Lease {
  instanceId: string;
  ms: number;
}

export type CompletionOutcome = Partial<
  Pick<
    CompletionRow,
    | 'status'
    | 'messageId'
    | 'finishReason'
    | 'cached'
    | 'promptTokens'
    | 'completionTokens'
    | 'reasoningTokens'
    | 'usageEstimated'
    | 'costUsd'
    | 'latencyMs'
    | 'timeToFirstTokenMs'
    | 'error'
    | 'parsed'
  >
>;

export class CompletionStore {
  constructor(private readonly db: Db) {}

  /**
   * Inserts a RUNNING completion. With an idempotency key, a second call with the same key gets the first row
   * back (`created: false`) instead, so a retried request never runs twice, even across instances.
   */
  async create(
    input: {
      ownerId: string;
      conversationId: string;
      model: string;
      idempotencyKey?: string | null;
      apiKeyId: string | null;
      lease: Lease;
    },
    db: Pick<Db, 'insert' | 'select'> = this.db,
  ): Promise<{ row: CompletionRow; created: boolean }> {
    const { lease, ...fields } = input;
    const [row] = await db
      .insert(completions)
      .values({
        id: randomUUID(),
        status: 'running',
        ...fields,
        idempotencyKey: input.idempotencyKey ?? null,
        instanceId: lease.instanceId,
        leaseExpiresAt: new Date(Date.now() + lease.ms),
      })
      .onConflictDoNothing({ target: [completions.ownerId, completions.idempotencyKey] })
      .returning();
    if (row) return { row, created: true };
    const [existing] = await db
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

  /**
   * Ends a run this instance still holds (RUNNING under its lease); null, writing nothing, when a lease sweep
   * ended it first.
   */
  async finishHeld(
    id: string,
    lease: Lease,
    outcome: CompletionOutcome,
    db: Pick<Db, 'update'> = this.db,
  ): Promise<CompletionRow | null> {
    const [row] = await db
      .update(completions)
      .set({ ...outcome, finishedAt: new Date() })
      .where(held(id, lease))
      .returning();
    return row ?? null;
  }

  /**
   * A run this instance holds stops to wait for tool approvals: AWAITING_APPROVAL with what resuming it needs, and
   * no lease (no instance holds it while it waits, so the lease sweep leaves it alone). Null when a sweep ended it.
   */
  async pause(
    id: string,
    lease: Lease,
    runState: unknown,
    db: Pick<Db, 'update'> = this.db,
  ): Promise<CompletionRow | null> {
    const [row] = await db
      .update(completions)
      .set({
        status: 'awaiting_approval',
        runState,
        instanceId: null,
        leaseExpiresAt: null,
        partialContent: null,
      })
      .where(held(id, lease))
      .returning();
    return row ?? null;
  }

  /**
   * Takes waiting completions whose calls are all decided (`id`: that one only) back to RUNNING under this
   * instance's lease. The UPDATE claims each row once, so of several instances only one resumes a run.
   */
  async claimDecided(lease: Lease, id?: string): Promise<CompletionRow[]> {
    const pending = this.db
      .select({ one: sql`1` })
      .from(toolApprovals)
      .where(and(eq(toolApprovals.completionId, completions.id), eq(toolApprovals.status, 'pending')));
    return this.db
      .update(completions)
      .set({
        status: 'running',
        instanceId: lease.instanceId,
        leaseExpiresAt: new Date(Date.now() + lease.ms),
      })
      .where(
        and(
          eq(completions.status, 'awaiting_approval'),
          id === undefined ? undefined : eq(completions.id, id),
          notExists(pending),
        ),
      )
      .returning();
  }

  /** Ends a completion waiting for approvals (cancelCompletion); null when it no longer waits. */
  async cancelAwaiting(
    id: string,
    error: CompletionErrorRecord,
    db: Pick<Db, 'update'> = this.db,
  ): Promise<CompletionRow | null> {
    const [row] = await db
      .update(completions)
      .set({ status: 'cancelled', error, finishedAt: new Date() })
      .where(and(eq(completions.id, id), eq(completions.status, 'awaiting_approval')))
      .returning();
    return row ?? null;
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
