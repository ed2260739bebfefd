import { z } from 'zod';
import { AppError, ErrorCode, notFound } from '../errors.js';
import type { Logger } from '../observability/logger.js';
import type { CompletionRow } from '../storage/schema.js';
import type { ToolApprovalRow } from '../storage/tool-approvals.js';
import { parseInput } from '../validation.js';
import type { ApprovalStore } from './approval-store.js';
import type { CompletionStore, Lease } from './store.js';

/** The longest wait between two looks for expired approvals, whatever TOOL_APPROVAL_TIMEOUT_MS says. */
const MAX_SWEEP_INTERVAL_MS = 10_000;

const denyInputSchema = z.object({
  reason: z
    .string()
    .trim()
    .max(1000)
    .nullish()
    .transform((reason) => reason || null),
});

export interface ToolCallDecision {
  completionId: string;
  toolCallId: string;
  /** denyToolCall: why, told to the model. */
  reason?: string | null;
}

/**
 * The human in the loop: approveToolCall and denyToolCall, and the expiry of calls nobody decided. Decisions are
 * rows claimed by a conditional UPDATE, and a run resumes only once all its calls are decided, on whichever
 * instance claims it first (the one that took the last decision, or any instance's sweep), so nothing runs twice
 * and nothing is lost when an instance stops while a completion waits.
 */
export class ToolApprovals {
  private timer: NodeJS.Timeout | undefined;

  constructor(
    private readonly deps: {
      approvals: ApprovalStore;
      completions: CompletionStore;
      lease: Lease;
      timeoutMs: number;
      /** Runs a claimed completion on from where it paused (the runner). */
      resume: (completion: CompletionRow, logger: Logger) => void;
      logger: Logger;
    },
  ) {}

  /** When a call asked for now stops waiting. */
  expiresAt(): Date {
    return new Date(Date.now() + this.deps.timeoutMs);
  }

  approve(ownerId: string, input: ToolCallDecision, logger: Logger): Promise<CompletionRow> {
    return this.decide(ownerId, input, { status: 'approved', reason: null }, logger);
  }

  deny(ownerId: string, input: ToolCallDecision, logger: Logger): Promise<CompletionRow> {
    const { reason } = parseInput(denyInputSchema, { reason: input.reason });
    return this.decide(ownerId, input, { status: 'denied', reason }, logger);
  }

  forCompletions(completionIds: readonly string[]): Promise<ToolApprovalRow[]> {
    return this.deps.approvals.forCompletions(completionIds);
  }

  /** Expires the calls nobody decided in time, on a timer; resumes what is decided but was not resumed. */
  start(): void {
    const interval = Math.min(this.deps.timeoutMs / 2, MAX_SWEEP_INTERVAL_MS);
    this.timer = setInterval(() => {
      this.sweep().catch((error: unknown) => this.deps.logger.error({ err: error }, 'approval sweep failed'));
    }, interval);
    this.timer.unref();
  }

  stop(): void {
    clearInterval(this.timer);
  }

  async sweep(): Promise<void> {
    await this.deps.approvals.expireDue(
      `No one approved or denied this call within ${formatMs(this.deps.timeoutMs)}: it expired and did not run`,
    );
    for (const completion of await this.deps.completions.claimDecided(this.deps.lease)) {
      this.deps.resume(completion, this.deps.logger);
    }
  }

  private async decide(
    ownerId: string,
    input: ToolCallDecision,
    decision: { status: 'approved' | 'denied'; reason: string | null },
    logger: Logger,
  ): Promise<CompletionRow> {
    const { approvals, completions, lease } = this.deps;
    const completion = await completions.get(input.completionId);
    if (!completion || completion.ownerId !== ownerId) throw notFound('Completion', input.completionId);
    const decided = await approvals.decide(input.completionId, input.toolCallId, decision);
    if (!decided) throw await this.notPending(input);
    const [claimed] = await completions.claimDecided(lease, input.completionId);
    if (!claimed) return (await completions.get(input.completionId)) ?? completion;
    this.deps.resume(claimed, logger.child({ completionId: claimed.id }));
    return claimed;
  }

  private async notPending(input: ToolCallDecision): Promise<AppError> {
    let row = await this.deps.approvals.get(input.completionId, input.toolCallId);
    if (!row) return notFound('Tool call', input.toolCallId);
    if (row.status === 'pending') {
      // Past its expiry, before a sweep got to it: expire it now so the run goes on.
      await this.sweep();
      row = (await this.deps.approvals.get(input.completionId, input.toolCallId)) ?? row;
    }
    const why = row.reason ? `: ${row.reason}` : '';
    return new AppError(
      ErrorCode.TOOL_CALL_NOT_PENDING,
      `Tool call ${input.toolCallId} is no longer waiting for a decision: it was ${row.status}${why}`,
    );
  }
}

const formatMs = (ms: number) => (ms % 60_000 === 0 ? `${ms / 60_000} min` : `${ms / 1000} s`);
