import { createHash } from 'node:crypto';
import type { ChatRequest, UpstreamDelta } from '../completions/openai-service.js';
import type { Clock } from './clock.js';

/** Where cached replies live: an LRU map in this process, or Redis shared by every instance. */
export interface CacheStore {
  get(key: string): Promise<string | null>;
  set(key: string, value: string): Promise<void>;
}

export interface CacheBounds {
  ttlMs: number;
  maxEntries: number;
}

export class MemoryCacheStore implements CacheStore {
  /** A Map iterates in insertion order, so re-inserting on every read keeps the least recently used first. */
  private readonly entries = new Map<string, { value: string; expiresAt: number }>();

  constructor(
    private readonly bounds: CacheBounds,
    private readonly clock: Clock,
  ) {}

  async get(key: string): Promise<string | null> {
    const entry = this.entries.get(key);
    if (!entry) return null;
    this.entries.delete(key);
    if (entry.expiresAt <= this.clock.now()) return null;
    this.entries.set(key, entry);
    return entry.value;
  }

  async set(key: string, value: string): Promise<void> {
    this.entries.delete(key);
    this.entries.set(key, { value, expiresAt: this.clock.now() + this.bounds.ttlMs });
    for (const oldest of this.entries.keys()) {
      if (this.entries.size <= this.bounds.maxEntries) break;
      this.entries.delete(oldest);
    }
  }
}

/**
 * Replies to identical requests (model, messages, tools, settings) from the cache, with no upstream call.
 * Only requests that ask for it (`cache: true`) or are deterministic enough to (temperature 0, unless
 * `cache: false`) are cached; a hit replays the stored deltas and reports no usage, since nothing was spent.
 */
export class ResponseCache {
  constructor(
    private readonly store: CacheStore,
    private readonly metrics: { cacheLookedUp(hit: boolean): void },
  ) {}

  async *through(
    request: ChatRequest,
    produce: () => AsyncGenerator<UpstreamDelta>,
  ): AsyncGenerator<UpstreamDelta> {
    if (!(request.cache ?? request.temperature === 0)) {
      yield* produce();
      return;
    }
    const key = cacheKey(request);
    const hit = await this.store.get(key);
    this.metrics.cacheLookedUp(hit !== null && hit !== undefined);
    if (hit) {
      for (const delta of JSON.parse(hit) as UpstreamDelta[]) {
        yield delta.type === 'finish' ? { ...delta, cached: true } : delta;
      }
      return;
    }
    const reply: UpstreamDelta[] = [];
    for await (const delta of produce()) {
      reply.push(delta);
      yield delta;
    }
    if (reply.at(-1)?.type === 'finish') await this.store.set(key, JSON.stringify(reply));
  }
}

function cacheKey(request: ChatRequest): string {
  const { promptTokens: _derived, cache: _flag, owner: _queueOnly, ...identity } = request;
  return createHash('sha256').update(JSON.stringify(identity)).digest('base64url');
}
