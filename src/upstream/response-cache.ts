import { createHash } from 'node:crypto';
import type { CacheStore } from '../limits/index.js';
import type { ChatRequest, UpstreamDelta } from './types.js';

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
