import { z } from 'zod';
import type { ConversationStore } from '../conversations/store.js';
import { AppError, ErrorCode, notFound } from '../errors.js';
import type { FunctionService } from '../functions/index.js';
import type { Logger } from '../observability/logger.js';
import type { Db } from '../storage/db.js';
import type { CompletionRow } from '../storage/schema.js';
import type { ToolApprovalRow } from '../storage/tool-approvals.js';
import { parseInput } from '../validation.js';
import { ApprovalGate } from './approval-gate.js';
import { ApprovalStore } from './approval-store.js';
import type { CompletionEventLog } from './events.js';
import type { CompletionStore, Lease } from './store.js';
import { ToolCalls } from './tool-calls.js';

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

  /**
   * Expires the calls nobody decided in time, now and on a timer, and resumes what is decided but was not resumed
   * (its instance stopped between the decision and the resumption).
   */
  start(): void {
    const sweep = () =>
      void this.sweep().catch((error: unknown) =>
        this.deps.logger.error({ err: error }, 'approval sweep failed'),
      );
    this.timer = setInterval(sweep, Math.min(this.deps.timeoutMs / 2, MAX_SWEEP_INTERVAL_MS));
    this.timer.unref();
    sweep();
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
    const outcome = OUTCOMES[row.status];
    const why = row.reason ? ` (${row.reason})` : '';
    return new AppError(
      ErrorCode.TOOL_CALL_NOT_PENDING,
      `Tool call ${input.toolCallId} no longer waits for a decision: ${outcome}${why}`,
    );
  }
}

const OUTCOMES = {
  approved: 'it was approved already',
  denied: 'it was denied',
  expired: 'it expired',
  pending: 'it expired',
} as const;

const formatMs = (ms: number) => (ms % 60_000 === 0 ? `${ms / 60_000} min` : `${ms / 1000} s`);

/**
 * The parts of tool approval, built together: the runner's tool calls and approval gate, and the service behind
 * approveToolCall / denyToolCall, which resumes runs through `resume` (the completion service's).
 */
export function toolApproval(deps: {
  db: Db;
  conversations: ConversationStore;
  completions: CompletionStore;
  functions: FunctionService;
  events: CompletionEventLog;
  lease: Lease;
  timeoutMs: number;
  logger: Logger;
  resume: (completion: CompletionRow, logger: Logger) => void;
}) {
  const { db, conversations, completions, functions, events, lease, timeoutMs, logger, resume } = deps;
  const approvals = new ApprovalStore(db);
  const gate = new ApprovalGate({ approvals, completions, functions, events, db, lease, timeoutMs });
  return {
    gate,
    toolCalls: new ToolCalls({ conversations, events, functions, gate }),
    service: new ToolApprovals({ approvals, completions, lease, timeoutMs, resume, logger }),
  };
}
