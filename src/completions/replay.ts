import type { ConversationStore } from '../conversations/store.js';
import { notFound } from '../errors.js';
import type { CompletionRow } from '../storage/schema.js';
import type { ApprovalGate } from './approval-gate.js';
import {
  type CompletionEvent,
  type CompletionEventLog,
  hasEnded,
  type NewCompletionEvent,
  terminalOf,
} from './events.js';
import { followEvents } from './follow.js';
import type { RunRegistry } from './runs.js';
import type { CompletionStore } from './store.js';

/**
 * A completion's events for its subscribers, wherever it runs: the event log's replay and live follow, or, once
 * the log has expired, what was stored.
 */
export class CompletionReplay {
  constructor(
    private readonly deps: {
      events: CompletionEventLog;
      completions: CompletionStore;
      conversations: ConversationStore;
      runs: RunRegistry;
      gate: ApprovalGate;
    },
  ) {}

  /**
   * The completion's events after `afterSeq`, then live. A finished completion whose event log has expired is
   * replayed from what was stored: its whole reply as one delta, then its end. One waiting for approvals whose
   * log is gone (kept in the memory of an instance that stopped) starts with its stored approval requests.
   */
  async *events(
    completion: CompletionRow,
    afterSeq: number,
    signal: AbortSignal,
  ): AsyncGenerator<CompletionEvent> {
    if (hasEnded(completion) && !(await this.deps.events.exists(completion.id))) {
      const message = completion.messageId
        ? await this.deps.conversations.message(completion.messageId)
        : null;
      yield* storedEvents(completion, message?.content ?? '', afterSeq);
      return;
    }
    let after = afterSeq;
    if (completion.status === 'awaiting_approval' && !(await this.deps.events.exists(completion.id))) {
      for (const event of await this.deps.gate.requests(completion)) {
        if (event.seq > after) yield event;
        after = Math.max(after, event.seq);
      }
    }
    yield* this.follow(completion.id, after, signal);
  }

  /**
   * The event log's follow, which asks the database when it hears nothing: a completion that ended on an instance
   * that died before announcing it gets its terminal event from the stored outcome instead of never ending.
   */
  follow(
    completionId: string,
    afterSeq: number,
    signal: AbortSignal,
  ): AsyncIterableIterator<CompletionEvent> {
    return followEvents(this.deps.events, completionId, afterSeq, signal, async (last) => {
      if (this.deps.runs.has(completionId)) return undefined;
      const row = await this.deps.completions.get(completionId);
      if (!row || !hasEnded(row)) return undefined;
      return { ...terminalOf(row), seq: last + 1, completionId } as CompletionEvent;
    });
  }

  /**
   * Follows the completion to its terminal event, or until it waits for approvals (or `signal`), then reads its
   * stored outcome.
   */
  async outcome(completion: CompletionRow, signal: AbortSignal): Promise<CompletionRow> {
    for await (const event of this.follow(completion.id, 0, signal)) {
      if (event.kind !== 'approvalRequested') continue;
      // A request from an earlier pause of a run that went on since does not count.
      const row = await this.deps.completions.get(completion.id);
      if (row?.status === 'awaiting_approval') return row;
    }
    const row = await this.deps.completions.get(completion.id);
    if (!row) throw notFound('Completion', completion.id);
    return row;
  }
}

/** Replays a finished completion from storage: its stored reply as one delta (if any), then its end. */
function* storedEvents(
  completion: CompletionRow,
  content: string,
  afterSeq: number,
): Generator<CompletionEvent> {
  const base = { completionId: completion.id };
  const replay: NewCompletionEvent[] = content ? [{ kind: 'content', text: content }] : [];
  replay.push(terminalOf(completion));
  for (const [index, event] of replay.entries()) {
    if (index + 1 > afterSeq) yield { ...event, ...base, seq: index + 1 } as CompletionEvent;
  }
}
