import { Repeater } from 'graphql-yoga';
import { type CompletionEvent, type CompletionEventLog, isTerminal } from './events.js';

/**
 * While following, the replay store is re-read when nothing arrived live since the last look, so an event
 * published before the live subscription took effect (Redis SUBSCRIBE is asynchronous) or lost in a reconnect is
 * still delivered. The first look after the stream goes quiet is soon, then ever less often, so idle subscribers
 * cost next to nothing.
 */
const RESYNC_FIRST_MS = 250;
const RESYNC_MAX_MS = 30_000;

export type RecoverTerminal = (afterSeq: number) => Promise<CompletionEvent | undefined>;

/**
 * A completion's events after `afterSeq`, then live ones, ending after the terminal event or when `signal`
 * aborts. It listens live first and then reads the store, delivering strictly by seq and filling any gap from
 * the store, so it never misses or repeats an event whatever the timing or the instance. When the store has
 * nothing new at a resync, `recoverTerminal` may supply the terminal event of a completion that ended without
 * one being published (its instance died between storing the outcome and announcing it).
 */
export function followEvents(
  log: CompletionEventLog,
  completionId: string,
  afterSeq: number,
  signal: AbortSignal,
  recoverTerminal?: RecoverTerminal,
): AsyncIterableIterator<CompletionEvent> {
  return new Repeater<CompletionEvent>((push, stop) =>
    new Follower(log, completionId, afterSeq, recoverTerminal, push, stop).run(
      log.live(completionId),
      signal,
    ),
  );
}

type Push = (event: CompletionEvent) => Promise<unknown>;
type Stop = ((error?: Error) => void) & Promise<unknown>;

/**
 * One subscriber's state in fields, its steps in prototype methods: an idle subscription holds this object, its
 * timer and its live listener, where closures would each cost a function and a context (and, under tsx, which
 * keeps function names, a property dictionary per named one). As closures they cost about 2 KB more a follower.
 */
class Follower {
  private last: number;
  private ended = false;
  private heardSince = false;
  private queue = Promise.resolve();
  private resyncMs = RESYNC_FIRST_MS;
  private resync: NodeJS.Timeout | undefined;

  constructor(
    private readonly log: CompletionEventLog,
    private readonly completionId: string,
    private readonly afterSeq: number,
    private readonly recoverTerminal: RecoverTerminal | undefined,
    private readonly push: Push,
    private readonly stop: Stop,
  ) {
    this.last = afterSeq;
  }

  async run(live: AsyncIterableIterator<CompletionEvent>, signal: AbortSignal): Promise<void> {
    signal.addEventListener('abort', this, { once: true });
    if (signal.aborted) this.stop();
    this.scheduleResync(RESYNC_FIRST_MS);
    void this.serially(() => this.catchUp());
    void this.listen(live);
    await this.stop;
    this.ended = true;
    clearTimeout(this.resync);
    signal.removeEventListener('abort', this);
    await live.return?.();
  }

  /** The abort listener is the follower itself (an EventListener object), so it needs no function of its own. */
  handleEvent(): void {
    this.stop();
  }

  private async listen(live: AsyncIterableIterator<CompletionEvent>) {
    for await (const event of live) {
      this.heardSince = true;
      // A stream that resumes after a quiet spell has its next look brought forward from the backed-off one.
      if (this.resyncMs > RESYNC_FIRST_MS) this.scheduleResync(RESYNC_FIRST_MS);
      void this.serially(() => (event.seq > this.last + 1 ? this.catchUp() : this.deliver(event)));
    }
  }

  private serially(work: () => Promise<void>) {
    this.queue = this.queue.then(work).catch((error: unknown) => this.stop(error as Error));
    return this.queue;
  }

  private end() {
    this.ended = true;
    this.stop();
  }

  private async deliver(event: CompletionEvent) {
    if (this.ended) return;
    // The client asked to start at or after the end: nothing is owed, and nothing more can come.
    if (event.seq <= this.last && isTerminal(event)) return this.end();
    if (event.seq !== this.last + 1) return;
    this.last = event.seq;
    await this.push(event);
    if (isTerminal(event)) this.end();
  }

  private async catchUp() {
    const events = await this.log.read(this.completionId, this.last);
    for (const event of events) await this.deliver(event);
    // Nothing after where the client started: it may have started at or past the end, which only the
    // log's final event tells.
    if (events.length === 0 && this.last === this.afterSeq && this.last > 0) {
      const final = (await this.log.read(this.completionId, 0)).at(-1);
      if (final) await this.deliver(final);
    }
  }

  private async recover() {
    await this.catchUp();
    const terminal = this.recoverTerminal && !this.ended ? await this.recoverTerminal(this.last) : undefined;
    if (terminal) await this.deliver(terminal);
  }

  private scheduleResync(ms: number) {
    this.resyncMs = ms;
    clearTimeout(this.resync);
    this.resync = setTimeout(() => {
      // A live stream needs no look. Once it goes quiet, the first look comes soon: a terminal event may have
      // been lost at its end.
      if (this.heardSince) this.scheduleResync(RESYNC_FIRST_MS);
      else {
        void this.serially(() => this.recover());
        this.scheduleResync(Math.min(this.resyncMs * 2, RESYNC_MAX_MS));
      }
      this.heardSince = false;
    }, ms);
  }
}
