import type { PubSub } from 'graphql-yoga';
import { AppError, ErrorCode } from '../errors.js';
import type {
  CompletionErrorRecord,
  CompletionRow,
  FunctionExecutionRow,
  ToolCallRecord,
} from '../storage/schema.js';
import type { Usage } from '../upstream/index.js';

/** One step of a completion as subscribers see it; `seq` starts at 1 and has no gaps. */
export type CompletionEvent = { seq: number; completionId: string } & (
  | { kind: 'content'; text: string }
  | {
      kind: 'toolCall';
      index: number;
      toolCallId: string | null;
      functionName: string | null;
      argumentsDelta: string;
    }
  | { kind: 'functionExecuted'; execution: FunctionExecutionRow }
  | {
      kind: 'approvalRequested';
      toolCall: ToolCallRecord;
      /** As the function would receive them: validated, defaults added. */
      arguments: unknown;
      expiresAt: string;
    }
  | { kind: 'done'; finishReason: string; usage: Usage }
  | { kind: 'failed'; error: CompletionErrorRecord }
);

type DistributiveOmit<T, K extends PropertyKey> = T extends unknown ? Omit<T, K> : never;
export type NewCompletionEvent = DistributiveOmit<CompletionEvent, 'seq' | 'completionId'>;

export const isTerminal = (event: CompletionEvent) => event.kind === 'done' || event.kind === 'failed';

export const CANCELLED: CompletionErrorRecord = {
  code: 'CANCELLED',
  message: 'The completion was cancelled',
};

/** Whether a completion has ended (it may still be waiting for a tool approval, or running somewhere). */
export const hasEnded = (completion: CompletionRow) =>
  completion.status !== 'running' && completion.status !== 'awaiting_approval';

/** What a failed completion (or a failed attempt of one) stores and reports of its error; masked unless coded. */
export function errorRecord(error: unknown): CompletionErrorRecord {
  if (error instanceof AppError)
    return {
      code: error.code,
      message: error.message,
      retryAfter: error.retryAfter ?? null,
      ...(error.resetsAt ? { resetsAt: error.resetsAt.toISOString() } : {}),
    };
  return { code: ErrorCode.INTERNAL_SERVER_ERROR, message: 'Unexpected error' };
}

/** The terminal event of a completion that has ended, from its stored row. */
export function terminalOf(completion: CompletionRow): NewCompletionEvent {
  return completion.status === 'completed'
    ? {
        kind: 'done',
        finishReason: completion.finishReason ?? 'stop',
        usage: {
          promptTokens: completion.promptTokens,
          completionTokens: completion.completionTokens,
          estimated: completion.usageEstimated,
        },
      }
    : { kind: 'failed', error: completion.error ?? CANCELLED };
}

/**
 * Where a completion's events are kept for replay (`completionEvents(afterSeq)`): in this process, or in Redis
 * so that a client reconnecting to another instance resumes where it left off. Events are stored in seq order;
 * the event with seq N is the N-th entry.
 */
export interface ReplayStore {
  append(event: CompletionEvent): Promise<void>;
  /** The stored events with seq > afterSeq, in order. */
  read(completionId: string, afterSeq: number): Promise<CompletionEvent[]>;
  exists(completionId: string): Promise<boolean>;
  /** Keeps a completion's events at least `ms` longer (while it waits for a tool approval). */
  retain(completionId: string, ms: number): Promise<void>;
  close(): void;
}

/** What instances tell each other: every completion's events, and requests to cancel a run wherever it runs. */
export type CompletionTopics = {
  completion: [completionId: string, event: CompletionEvent];
  'completion-cancel': [completionId: string];
};
export type CompletionPubSub = PubSub<CompletionTopics>;

/**
 * Every completion's events: stored for replay (`afterSeq`) and published live, here or through Redis.
 * The instance running a completion is its only writer and numbers the events; `followEvents` delivers them.
 */
export class CompletionEventLog {
  private readonly nextSeq = new Map<string, number>();

  constructor(
    private readonly pubSub: CompletionPubSub,
    private readonly replay: ReplayStore,
    private readonly onError: (error: unknown) => void,
  ) {}

  append(completionId: string, event: NewCompletionEvent): CompletionEvent {
    const seq = this.nextSeq.get(completionId) ?? 1;
    const stored = { ...event, seq, completionId } as CompletionEvent;
    if (isTerminal(stored)) this.nextSeq.delete(completionId);
    else this.nextSeq.set(completionId, seq + 1);
    this.publish(stored);
    return stored;
  }

  /** The seq of the last event this instance numbered for a running completion (0 before the first). */
  lastSeq(completionId: string): number {
    return (this.nextSeq.get(completionId) ?? 1) - 1;
  }

  /**
   * This instance stops numbering a completion's events (its run paused for an approval) or, with `lastSeq`,
   * takes the numbering over where the run left it (it resumes here, perhaps after another instance).
   */
  handOver(completionId: string, lastSeq?: number): void {
    if (lastSeq === undefined) this.nextSeq.delete(completionId);
    else this.nextSeq.set(completionId, lastSeq + 1);
  }

  retain(completionId: string, ms: number): Promise<void> {
    return this.replay.retain(completionId, ms);
  }

  /**
   * Appends for a completion whose writer is gone (its instance died, or its run waits for approvals): numbered
   * after `lastSeq` when known, else after what was stored.
   */
  async appendRecovered(completionId: string, event: NewCompletionEvent, lastSeq?: number): Promise<void> {
    const seq = (lastSeq ?? (await this.replay.read(completionId, 0)).length) + 1;
    this.publish({ ...event, seq, completionId } as CompletionEvent);
  }

  private publish(event: CompletionEvent) {
    // The store and the publisher share one connection, so the event is stored before it is announced.
    this.replay.append(event).catch(this.onError);
    this.pubSub.publish('completion', event.completionId, event);
  }

  exists(completionId: string): Promise<boolean> {
    return this.replay.exists(completionId);
  }

  /** The stored events with seq > afterSeq, in order. */
  read(completionId: string, afterSeq: number): Promise<CompletionEvent[]> {
    return this.replay.read(completionId, afterSeq);
  }

  /** The completion's events as they are published, from now on. */
  live(completionId: string): AsyncIterableIterator<CompletionEvent> {
    return this.pubSub.subscribe('completion', completionId);
  }

  /** Asks whichever instance runs the completion to cancel it. */
  requestCancel(completionId: string): void {
    this.pubSub.publish('completion-cancel', completionId);
  }

  cancelRequests(signal: AbortSignal): AsyncIterable<string> {
    const requests = this.pubSub.subscribe('completion-cancel');
    signal.addEventListener('abort', () => void requests.return?.(), { once: true });
    return requests;
  }

  close(): void {
    this.replay.close();
  }
}
