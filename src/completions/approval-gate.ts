import type { FunctionService, ToolOffer } from '../functions/index.js';
import type { Db } from '../storage/db.js';
import type { CompletionRow, ToolCallRecord } from '../storage/schema.js';
import type { ToolApprovalRow } from '../storage/tool-approvals.js';
import type { ApprovalStore } from './approval-store.js';
import { CANCELLED, type CompletionEvent, type CompletionEventLog } from './events.js';
import type { RunState } from './run-state.js';
import type { CompletionStore, Lease } from './store.js';

export interface WaitingCall {
  call: ToolCallRecord;
  arguments: unknown;
}

/**
 * The run's side of tool approval: which calls wait, pausing the run (stored, announced, no lease), what the
 * decisions were when it resumes, and what the model is told of a call that did not run.
 */
export class ApprovalGate {
  constructor(
    private readonly deps: {
      approvals: ApprovalStore;
      completions: CompletionStore;
      functions: FunctionService;
      events: CompletionEventLog;
      db: Pick<Db, 'transaction'>;
      lease: Lease;
      timeoutMs: number;
    },
  ) {}

  /** A step's tool calls: those that run now, and those that wait for a decision (with validated arguments). */
  split(offer: ToolOffer, calls: ToolCallRecord[], everyCall: boolean) {
    const now: ToolCallRecord[] = [];
    const waiting: WaitingCall[] = [];
    for (const call of calls) {
      const args = this.deps.functions.argumentsAwaitingApproval(offer, call, everyCall);
      if (args === null) now.push(call);
      else waiting.push({ call, arguments: args });
    }
    return { now, waiting };
  }

  /**
   * Stores the waiting calls and the run's state in one transaction (AWAITING_APPROVAL, lease released), then
   * announces each call. When a lease sweep ended the run first, nothing is stored and the row is as it left it.
   */
  async pause(
    completion: CompletionRow,
    waiting: WaitingCall[],
    state: Omit<RunState, 'lastSeq' | 'awaiting'>,
  ): Promise<CompletionRow> {
    const { approvals, completions, db, events, lease, timeoutMs } = this.deps;
    const firstSeq = events.lastSeq(completion.id) + 1;
    const expiresAt = new Date(Date.now() + timeoutMs);
    const runState: RunState = {
      ...state,
      lastSeq: firstSeq + waiting.length - 1,
      awaiting: waiting.map(({ call }) => call.id),
    };
    const paused = await db.transaction(async (tx) => {
      const row = await completions.pause(completion.id, lease, runState, tx);
      if (!row) return null;
      const rows = waiting.map(({ call, arguments: args }, index) => ({
        completionId: completion.id,
        ownerId: completion.ownerId,
        toolCallId: call.id,
        functionName: call.functionName,
        arguments: args,
        seq: firstSeq + index,
        expiresAt,
      }));
      await approvals.insertPending(rows, tx);
      return row;
    });
    if (!paused) return (await completions.get(completion.id)) ?? completion;
    for (const { call, arguments: args } of waiting) {
      events.append(completion.id, {
        kind: 'approvalRequested',
        toolCall: call,
        arguments: args,
        expiresAt: expiresAt.toISOString(),
      });
    }
    events.handOver(completion.id);
    await events.retain(completion.id, timeoutMs);
    return paused;
  }

  /** The calls of the pause a completion waits in or resumes from, with their decisions, in the order asked. */
  async pauseCalls(completionId: string, state: RunState): Promise<ToolApprovalRow[]> {
    const rows = await this.deps.approvals.forCompletions([completionId]);
    return rows.filter((row) => state.awaiting.includes(row.toolCallId));
  }

  /** The ToolApprovalRequested events of a waiting completion, from storage (the call with its validated arguments). */
  async requests(completion: CompletionRow): Promise<CompletionEvent[]> {
    const state = completion.runState as RunState;
    return (await this.pauseCalls(completion.id, state)).map((approval) => ({
      kind: 'approvalRequested',
      seq: approval.seq,
      completionId: completion.id,
      toolCall: {
        id: approval.toolCallId,
        functionName: approval.functionName,
        arguments: JSON.stringify(approval.arguments),
      },
      arguments: approval.arguments,
      expiresAt: approval.expiresAt.toISOString(),
    }));
  }

  /**
   * Tells the function a call of its did not run (a built-in may undo what it prepared) and returns the tool
   * result the model gets instead.
   */
  async notRun(approval: ToolApprovalRow): Promise<string> {
    const reason =
      approval.status === 'expired'
        ? (approval.reason ?? 'The call expired')
        : `The user denied this call${approval.reason ? `: ${approval.reason}` : ''}`;
    await this.deps.functions.denied(approval, {
      ownerId: approval.ownerId,
      completionId: approval.completionId,
      reason,
    });
    return JSON.stringify({ error: reason });
  }

  /**
   * Cancels a completion that waits: CANCELLED, its calls denied, subscribers told. Null when it no longer waits
   * (it was resumed or ended meanwhile).
   */
  async cancel(completionId: string): Promise<CompletionRow | null> {
    const { approvals, completions, db, events } = this.deps;
    const denied = 'The completion was cancelled';
    const row = await db.transaction(async (tx) => {
      const cancelled = await completions.cancelAwaiting(completionId, CANCELLED, tx);
      if (cancelled) await approvals.denyPending(completionId, denied, tx);
      return cancelled;
    });
    if (!row) return null;
    const state = row.runState as RunState;
    for (const approval of await this.pauseCalls(completionId, state)) {
      const { ownerId } = approval;
      await this.deps.functions.denied(approval, { ownerId, completionId, reason: denied });
    }
    await events.appendRecovered(completionId, { kind: 'failed', error: CANCELLED }, state.lastSeq);
    return row;
  }
}
