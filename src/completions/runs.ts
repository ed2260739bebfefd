import { AppError, ErrorCode } from '../errors.js';
import type { CompletionRow } from '../storage/schema.js';
import type { CompletionEventLog } from './events.js';

/** A completion running on this instance. */
export interface ActiveRun {
  controller: AbortController;
  done: Promise<CompletionRow>;
  /** `chat`: the run is aborted when its last subscriber leaves. */
  cancelWhenUnwatched: boolean;
  /** The reply so far, saved with each lease renewal. */
  content: () => string;
}

/**
 * The completions this instance runs: who watches them, cancelling them here or on behalf of another instance
 * (through pub/sub), their replies so far for the lease keeper, and draining them at shutdown.
 */
export class RunRegistry {
  private readonly runs = new Map<string, ActiveRun & { watchers: number }>();
  private readonly stopListening = new AbortController();
  private draining = false;

  constructor(private readonly events: CompletionEventLog) {}

  /** Refuses new runs once draining: they would be cut off by the shutdown. */
  assertAccepting(): void {
    if (this.draining) {
      throw new AppError(
        ErrorCode.UPSTREAM_UNAVAILABLE,
        'This instance is shutting down: retry on another one',
      );
    }
  }

  /** Registers a run until `outcome` settles (it is gone before anyone awaiting `done` resumes). */
  add(id: string, run: Omit<ActiveRun, 'done'>, outcome: Promise<CompletionRow>): void {
    const active = {
      ...run,
      watchers: 0,
      // Only its own entry: a run that paused may already run again here, resumed by a quick decision.
      done: outcome.finally(() => {
        if (this.runs.get(id) === active) this.runs.delete(id);
      }),
    };
    this.runs.set(id, active);
  }

  /** The run's outcome when it runs here; undefined when it does not. */
  done(id: string): Promise<CompletionRow> | undefined {
    return this.runs.get(id)?.done;
  }

  has(id: string): boolean {
    return this.runs.has(id);
  }

  /** Counts a subscriber; the returned function counts it out, and cancels a `chat` run that nobody watches. */
  watch(id: string): () => void {
    const run = this.runs.get(id);
    if (!run) return () => undefined;
    run.watchers += 1;
    return () => {
      run.watchers -= 1;
      if (run.watchers === 0 && run.cancelWhenUnwatched) run.controller.abort();
    };
  }

  /** Aborts the run when it runs here and resolves with its stored outcome; undefined when it does not. */
  cancel(id: string): Promise<CompletionRow> | undefined {
    const run = this.runs.get(id);
    run?.controller.abort();
    return run?.done;
  }

  /** Starts answering cancel requests from other instances and keeping this instance's leases. */
  listen(leases: { start(): void }): void {
    leases.start();
    void (async () => {
      for await (const completionId of this.events.cancelRequests(this.stopListening.signal)) {
        this.runs.get(completionId)?.controller.abort();
      }
    })();
  }

  /** Running completions with their replies so far, for lease renewal. */
  active(): { id: string; partialContent: string }[] {
    return [...this.runs].map(([id, run]) => ({ id, partialContent: run.content() }));
  }

  /** Waits for running completions up to `graceMs`, then cancels the rest and waits for them to be stored. */
  async drain(graceMs: number): Promise<void> {
    this.draining = true;
    this.stopListening.abort();
    const pending = [...this.runs.values()].map((run) => run.done.catch(() => undefined));
    let timer: NodeJS.Timeout | undefined;
    const deadline = new Promise<void>((resolve) => {
      timer = setTimeout(resolve, graceMs);
    });
    await Promise.race([Promise.all(pending), deadline]);
    clearTimeout(timer);
    for (const run of this.runs.values()) run.controller.abort();
    await Promise.all(pending);
  }
}
