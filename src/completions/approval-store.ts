import { randomUUID } from 'node:crypto';
import { and, asc, eq, gt, inArray, lte } from 'drizzle-orm';
import type { Db } from '../storage/db.js';
import { type ToolApprovalRow, toolApprovals } from '../storage/tool-approvals.js';

export type NewToolApproval = Pick<
  ToolApprovalRow,
  'completionId' | 'ownerId' | 'toolCallId' | 'functionName' | 'arguments' | 'seq' | 'expiresAt'
>;

/** The tool calls that wait for a human's decision, and the decisions. */
export class ApprovalStore {
  constructor(private readonly db: Db) {}

  async insertPending(rows: NewToolApproval[], db: Pick<Db, 'insert'> = this.db): Promise<void> {
    if (rows.length === 0) return;
    await db
      .insert(toolApprovals)
      .values(rows.map((row) => ({ id: randomUUID(), status: 'pending' as const, ...row })));
  }

  /**
   * Decides a pending call that has not expired. The UPDATE claims the row once: of two decisions racing (on one
   * instance or two) only one gets the row back, so nothing runs twice.
   */
  async decide(
    completionId: string,
    toolCallId: string,
    decision: { status: 'approved' | 'denied'; reason: string | null },
  ): Promise<ToolApprovalRow | null> {
    const [row] = await this.db
      .update(toolApprovals)
      .set({ ...decision, decidedAt: new Date() })
      .where(
        and(
          eq(toolApprovals.completionId, completionId),
          eq(toolApprovals.toolCallId, toolCallId),
          eq(toolApprovals.status, 'pending'),
          gt(toolApprovals.expiresAt, new Date()),
        ),
      )
      .returning();
    return row ?? null;
  }

  async get(completionId: string, toolCallId: string): Promise<ToolApprovalRow | null> {
    const [row] = await this.db
      .select()
      .from(toolApprovals)
      .where(and(eq(toolApprovals.completionId, completionId), eq(toolApprovals.toolCallId, toolCallId)));
    return row ?? null;
  }

  /** Every approval of the given completions, in the order they were asked for. */
  async forCompletions(completionIds: readonly string[]): Promise<ToolApprovalRow[]> {
    return this.db
      .select()
      .from(toolApprovals)
      .where(inArray(toolApprovals.completionId, [...completionIds]))
      .orderBy(asc(toolApprovals.seq));
  }

  /** Marks every pending call past its expiry EXPIRED with `reason`, each claimed once across instances. */
  async expireDue(reason: string): Promise<ToolApprovalRow[]> {
    return this.db
      .update(toolApprovals)
      .set({ status: 'expired', reason, decidedAt: new Date() })
      .where(and(eq(toolApprovals.status, 'pending'), lte(toolApprovals.expiresAt, new Date())))
      .returning();
  }

  /** A completion's pending calls end with it (cancelled): DENIED with `reason`. */
  async denyPending(completionId: string, reason: string, db: Pick<Db, 'update'> = this.db): Promise<void> {
    await db
      .update(toolApprovals)
      .set({ status: 'denied', reason, decidedAt: new Date() })
      .where(and(eq(toolApprovals.completionId, completionId), eq(toolApprovals.status, 'pending')));
  }
}
