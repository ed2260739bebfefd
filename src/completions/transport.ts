import { createRedisEventTarget } from '@graphql-yoga/redis-event-target';
import { createPubSub } from 'graphql-yoga';
import type { Redis } from 'ioredis';
import {
  type CompletionEvent,
  type CompletionPubSub,
  type CompletionTopics,
  isTerminal,
  type ReplayStore,
} from './events.js';

export interface EventTransport {
  pubSub: CompletionPubSub;
  replay: ReplayStore;
  close(): Promise<void>;
}

/**
 * In one process: Yoga's in-memory pub/sub and a map. With Redis: Redis pub/sub (channels `completion:<id>` and
 * `completion-cancel`) and Redis lists, the publisher and the lists sharing one connection so that an event is
 * always stored before it is announced.
 */
export function openEventTransport(redis: Redis | null, keyPrefix: string, retainMs: number): EventTransport {
  if (!redis) {
    return {
      pubSub: createPubSub<CompletionTopics>(),
      replay: new MemoryReplayStore(retainMs),
      close: async () => {},
    };
  }
  const subscriber = redis.duplicate();
  return {
    pubSub: createPubSub<CompletionTopics>({
      eventTarget: createRedisEventTarget({ publishClient: redis, subscribeClient: subscriber }),
    }),
    replay: new RedisReplayStore(redis, keyPrefix, retainMs),
    close: async () => {
      await subscriber.quit();
    },
  };
}

/** One process: a map, each completion's entry dropped `retainMs` after its terminal event. */
export class MemoryReplayStore implements ReplayStore {
  private readonly logs = new Map<string, { events: CompletionEvent[]; expiry?: NodeJS.Timeout }>();

  constructor(private readonly retainMs: number) {}

  async append(event: CompletionEvent): Promise<void> {
    let log = this.logs.get(event.completionId);
    if (!log) {
      log = { events: [] };
      this.logs.set(event.completionId, log);
    }
    log.events.push(event);
    // Every run ends with a terminal event (its instance's finally block), so that is when the clock starts.
    if (isTerminal(event))
      log.expiry = setTimeout(() => this.logs.delete(event.completionId), this.retainMs).unref();
  }

  async read(completionId: string, afterSeq: number): Promise<CompletionEvent[]> {
    const events = this.logs.get(completionId)?.events ?? [];
    // A run resumed after a restart starts a new log mid-way: its first entry is not seq 1.
    const first = events[0]?.seq ?? 1;
    return events.slice(Math.max(0, afterSeq - first + 1));
  }

  async exists(completionId: string): Promise<boolean> {
    return this.logs.has(completionId);
  }

  /** Entries are dropped only after the terminal event: nothing to extend. */
  async retain(): Promise<void> {}

  close(): void {
    for (const log of this.logs.values()) clearTimeout(log.expiry);
    this.logs.clear();
  }
}

/** Many instances: a Redis list per completion whose TTL restarts with every event. */
export class RedisReplayStore implements ReplayStore {
  constructor(
    private readonly redis: Redis,
    private readonly prefix: string,
    private readonly retainMs: number,
  ) {}

  private key(completionId: string) {
    return `${this.prefix}completion:${completionId}:events`;
  }

  async append(event: CompletionEvent): Promise<void> {
    const key = this.key(event.completionId);
    await this.redis.multi().rpush(key, JSON.stringify(event)).pexpire(key, this.retainMs).exec();
  }

  async read(completionId: string, afterSeq: number): Promise<CompletionEvent[]> {
    const entries = await this.redis.lrange(this.key(completionId), afterSeq, -1);
    return entries.map((entry) => JSON.parse(entry) as CompletionEvent);
  }

  async exists(completionId: string): Promise<boolean> {
    return (await this.redis.exists(this.key(completionId))) === 1;
  }

  async retain(completionId: string, ms: number): Promise<void> {
    await this.redis.pexpire(this.key(completionId), ms + this.retainMs);
  }

  close(): void {}
}
