import { createPubSub, Repeater } from 'graphql-yoga';
import type { CompletionErrorRecord, FunctionExecutionRow } from '../storage/schema.js';
import type { Usage } from './openai-service.js';

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
  | { kind: 'done'; finishReason: string; usage: Usage }
  | { kind: 'failed'; error: CompletionErrorRecord }
);

type DistributiveOmit<T, K extends PropertyKey> = T extends unknown ? Omit<T, K> : never;
export type NewCompletionEvent = DistributiveOmit<CompletionEvent, 'seq' | 'completionId'>;

export const isTerminal = (event: CompletionEvent) => event.kind === 'done' || event.kind === 'failed';

interface Log {
  events: CompletionEvent[];
  expiry?: NodeJS.Timeout;
}

/**
 * Every completion's events, kept for replay (`afterSeq`) for a while after the end and published live.
 * A subscriber listens live first and then reads the log, skipping what it has seen by seq, so it never misses
 * or repeats an event whatever the timing.
 */
export class CompletionEventLog {
  private readonly logs = new Map<string, Log>();
  private readonly pubSub = createPubSub<{ completion: [completionId: string, event: CompletionEvent] }>();

  constructor(private readonly retainMs: number) {}

  append(completionId: string, event: NewCompletionEvent): CompletionEvent {
    let log = this.logs.get(completionId);
    if (!log) {
      log = { events: [] };
      this.logs.set(completionId, log);
    }
    const stored = { ...event, seq: log.events.length + 1, completionId } as CompletionEvent;
    log.events.push(stored);
    if (isTerminal(stored)) {
      log.expiry = setTimeout(() => this.logs.delete(completionId), this.retainMs);
      log.expiry.unref();
    }
    this.pubSub.publish('completion', completionId, stored);
    return stored;
  }

  has(completionId: string): boolean {
    return this.logs.has(completionId);
  }

  /** Events after `afterSeq`, then live ones, ending after the terminal event or when `signal` aborts. */
  follow(
    completionId: string,
    afterSeq: number,
    signal: AbortSignal,
  ): AsyncIterableIterator<CompletionEvent> {
    return new Repeater<CompletionEvent>(async (push, stop) => {
      const live = this.pubSub.subscribe('completion', completionId);
      const onAbort = () => stop();
      signal.addEventListener('abort', onAbort, { once: true });
      if (signal.aborted) stop();
      let last = afterSeq;
      const deliver = async (event: CompletionEvent) => {
        if (event.seq <= last) return;
        last = event.seq;
        await push(event);
        if (isTerminal(event)) stop();
      };
      for (const event of [...(this.logs.get(completionId)?.events ?? [])]) await deliver(event);
      void (async () => {
        for await (const event of live) await deliver(event);
      })();
      await stop;
      signal.removeEventListener('abort', onAbort);
      await live.return?.();
    });
  }

  close(): void {
    for (const log of this.logs.values()) clearTimeout(log.expiry);
    this.logs.clear();
  }
}
