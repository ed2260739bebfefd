import { setTimeout as delay } from 'node:timers/promises';
import { Redis } from 'ioredis';
import { afterEach, describe, expect, it } from 'vitest';
import { AppError } from '../../src/errors.js';
import { type Allowance, type LimitStores, openLimitStores, systemClock } from '../../src/limits/index.js';
import { Metrics } from '../../src/observability/metrics.js';
import { type RateLimits, UpstreamLimiter } from '../../src/upstream/index.js';
import { redisAvailable, TEST_REDIS_URL, testRedisPrefix } from '../support/redis.js';

/**
 * One suite, two scales: every limiter, cache and stream-slot behaviour below holds for the in-memory stores and
 * for Redis. "Instances" are what separate processes would hold: for memory, stores of their own; for Redis,
 * each its own connection to the same Redis and key prefix. Only Redis shares state between instances, which is
 * why running more than one instance needs REDIS_URL.
 */
interface Backend {
  name: string;
  /** Whether instances share state (Redis) or each hold their own (memory). */
  shared: boolean;
  /** Stores for one more instance of the app. */
  instance(): LimitStores;
  cleanup(): Promise<void>;
}

const CACHE = { ttlMs: 200, maxEntries: 3 };

function memoryBackend(): Backend {
  return {
    name: 'memory',
    shared: false,
    instance: () => openLimitStores(null, { prefix: '', cache: CACHE, clock: systemClock }),
    cleanup: async () => {},
  };
}

function redisBackend(): Backend {
  const { prefix, drop } = testRedisPrefix();
  const connections: Redis[] = [];
  return {
    name: 'redis',
    shared: true,
    instance: () => {
      const redis = new Redis(TEST_REDIS_URL);
      connections.push(redis);
      return openLimitStores(redis, { prefix, cache: CACHE, clock: systemClock });
    },
    cleanup: async () => {
      await Promise.all(connections.map((redis) => redis.quit()));
      await drop();
    },
  };
}

const backends = [memoryBackend, ...((await redisAvailable()) ? [redisBackend] : [])];

const never = new AbortController().signal;

function limiter(
  stores: LimitStores,
  limits: RateLimits,
  options: { windowMs?: number; maxWaitMs?: number; modelLimits?: Record<string, RateLimits> } = {},
) {
  return new UpstreamLimiter({
    buckets: stores.buckets,
    clock: systemClock,
    upstream: 'https://model.example/v1',
    limits,
    modelLimits: options.modelLimits ?? {},
    windowMs: options.windowMs ?? 60_000,
    maxWaitMs: options.maxWaitMs ?? 0,
    metrics: new Metrics(),
  });
}

/** Settles every reservation attempt: 'ok' or the error's code. */
async function outcomes(attempts: Promise<unknown>[]): Promise<string[]> {
  const settled = await Promise.allSettled(attempts);
  return settled.map((result) =>
    result.status === 'fulfilled' ? 'ok' : result.reason instanceof AppError ? result.reason.code : 'other',
  );
}

describe.each(backends)('limits on $name', (makeBackend) => {
  let backend: Backend;
  const open = () => {
    backend ??= makeBackend();
    return backend.instance();
  };
  afterEach(async () => {
    await backend?.cleanup();
    backend = undefined as unknown as Backend;
  });

  describe('upstream limiter', () => {
    it('admits the requests per window at once and fails the next with RATE_LIMITED and retryAfter', async () => {
      const upstream = limiter(open(), { requestsPerWindow: 5, tokensPerWindow: 1_000_000 });
      const results = await outcomes(Array.from({ length: 6 }, () => upstream.reserve('gpt-4', 10, never)));
      expect(results).toEqual(['ok', 'ok', 'ok', 'ok', 'ok', 'RATE_LIMITED']);
      const error = await upstream.reserve('gpt-4', 10, never).catch((caught: AppError) => caught);
      expect(error).toBeInstanceOf(AppError);
      // One request refills every 60 s / 5 = 12 s.
      expect((error as AppError).retryAfter).toBeGreaterThan(10);
      expect((error as AppError).retryAfter).toBeLessThanOrEqual(12);
    });

    it('reserves the estimated tokens and gives back what the actual usage did not need', async () => {
      const upstream = limiter(open(), { requestsPerWindow: 100, tokensPerWindow: 1000 });
      const first = await upstream.reserve('gpt-4', 600, never);
      await expect(upstream.reserve('gpt-4', 600, never)).rejects.toMatchObject({ code: 'RATE_LIMITED' });
      await first.settle(100);
      await expect(upstream.reserve('gpt-4', 600, never)).resolves.toBeDefined();
    });

    it('charges usage beyond the estimate against the next requests', async () => {
      const upstream = limiter(open(), { requestsPerWindow: 100, tokensPerWindow: 1000 });
      const first = await upstream.reserve('gpt-4', 100, never);
      await first.settle(900);
      await expect(upstream.reserve('gpt-4', 200, never)).rejects.toMatchObject({ code: 'RATE_LIMITED' });
      await expect(upstream.reserve('gpt-4', 100, never)).resolves.toBeDefined();
    });

    it('serves waiting requests first in, first out', async () => {
      // Two requests per 400 ms: one more every 200 ms once the first two are taken.
      const upstream = limiter(
        open(),
        { requestsPerWindow: 2, tokensPerWindow: 1_000_000 },
        { windowMs: 400, maxWaitMs: 5000 },
      );
      await upstream.reserve('gpt-4', 1, never);
      await upstream.reserve('gpt-4', 1, never);
      const order: string[] = [];
      await Promise.all(
        ['a', 'b', 'c'].map((name) => upstream.reserve('gpt-4', 1, never).then(() => order.push(name))),
      );
      expect(order).toEqual(['a', 'b', 'c']);
    });

    it('lets a waiting request through once the bucket refills within the max wait', async () => {
      const upstream = limiter(
        open(),
        { requestsPerWindow: 1, tokensPerWindow: 1_000_000 },
        { windowMs: 300, maxWaitMs: 2000 },
      );
      await upstream.reserve('gpt-4', 1, never);
      const started = Date.now();
      await upstream.reserve('gpt-4', 1, never);
      expect(Date.now() - started).toBeGreaterThanOrEqual(250);
    });

    it('tightens its buckets to the x-ratelimit-remaining headers of the upstream', async () => {
      const upstream = limiter(open(), { requestsPerWindow: 100, tokensPerWindow: 100_000 });
      const reservation = await upstream.reserve('gpt-4', 10, never);
      await reservation.observe(new Headers({ 'x-ratelimit-remaining-tokens': '50' }));
      await expect(upstream.reserve('gpt-4', 60, never)).rejects.toMatchObject({ code: 'RATE_LIMITED' });
      await expect(upstream.reserve('gpt-4', 40, never)).resolves.toBeDefined();
      await reservation.observe(new Headers({ 'x-ratelimit-remaining-requests': '0' }));
      await expect(upstream.reserve('gpt-4', 1, never)).rejects.toMatchObject({ code: 'RATE_LIMITED' });
    });

    it('gives a model with limits of its own its own buckets', async () => {
      const upstream = limiter(
        open(),
        { requestsPerWindow: 1, tokensPerWindow: 1_000_000 },
        { modelLimits: { 'gpt-4o-mini': { requestsPerWindow: 2, tokensPerWindow: 1_000_000 } } },
      );
      const results = await outcomes([
        upstream.reserve('gpt-4', 1, never),
        upstream.reserve('gpt-4', 1, never),
        upstream.reserve('gpt-4o-mini', 1, never),
        upstream.reserve('gpt-4o-mini', 1, never),
        upstream.reserve('gpt-4o-mini', 1, never),
      ]);
      expect(results).toEqual(['ok', 'RATE_LIMITED', 'ok', 'ok', 'RATE_LIMITED']);
    });

    it('holds one limit across two instances when the store is shared, one limit each in memory', async () => {
      const limits = { requestsPerWindow: 10, tokensPerWindow: 1_000_000 };
      const one = limiter(open(), limits);
      const two = limiter(open(), limits);
      const results = await outcomes(
        Array.from({ length: 30 }, (_, i) => (i % 2 === 0 ? one : two).reserve('gpt-4', 1, never)),
      );
      const admitted = backend.shared ? 10 : 20;
      expect(results.filter((result) => result === 'ok')).toHaveLength(admitted);
      expect(results.filter((result) => result === 'RATE_LIMITED')).toHaveLength(30 - admitted);
    });
  });

  describe('response cache store', () => {
    it('returns what was stored under a key, and nothing for another', async () => {
      const { cache } = open();
      await cache.set('a', 'reply a');
      expect(await cache.get('a')).toBe('reply a');
      expect(await cache.get('b')).toBeNull();
    });

    it('is seen by every instance when the store is shared, by its own instance only in memory', async () => {
      await open().cache.set('a', 'reply a');
      expect(await open().cache.get('a')).toBe(backend.shared ? 'reply a' : null);
    });

    it('forgets an entry after its TTL', async () => {
      const { cache } = open();
      await cache.set('a', 'reply a');
      await delay(CACHE.ttlMs + 50);
      expect(await cache.get('a')).toBeNull();
    });

    it('evicts the least recently used entry beyond its size', async () => {
      const { cache } = open();
      await cache.set('a', 'reply a');
      await cache.set('b', 'reply b');
      await cache.set('c', 'reply c');
      expect(await cache.get('a')).toBe('reply a');
      await cache.set('d', 'reply d');
      expect(await cache.get('b')).toBeNull();
      expect(await Promise.all(['a', 'c', 'd'].map((key) => cache.get(key)))).toEqual([
        'reply a',
        'reply c',
        'reply d',
      ]);
    });
  });

  describe('spending counters', () => {
    const NOTHING = { usd: 0, tokens: 0 };
    const day = (
      key: string,
      limits: { usd?: number; tokens?: number } = {},
      endsAt = Date.now() + 60_000,
    ) => ({
      key,
      endsAt,
      usd: limits.usd ?? null,
      tokens: limits.tokens ?? null,
    });
    /** Stores of one more instance, with `counters` started at nothing spent. */
    const seeded = async (counters: Allowance[]) => {
      const { spending } = open();
      await spending.seed(
        counters,
        counters.map(() => NOTHING),
      );
      return spending;
    };

    it('adds a charge that fits every limit to every counter', async () => {
      const counters = [day('p', { usd: 1 }), day('k', { tokens: 100 })];
      const spending = await seeded(counters);
      expect(await spending.reserve(counters, { usd: 0.25, tokens: 40 })).toBeNull();
      expect(await spending.spent(counters)).toEqual([
        { usd: 0.25, tokens: 40 },
        { usd: 0.25, tokens: 40 },
      ]);
    });

    it('refuses a charge that would pass any limit, naming the first, and adds it nowhere', async () => {
      const counters = [day('p', { usd: 1 }), day('k', { tokens: 100 })];
      const spending = await seeded(counters);
      await spending.reserve(counters, { usd: 0.25, tokens: 40 });
      expect(await spending.reserve(counters, { usd: 0.25, tokens: 61 })).toEqual({
        index: 1,
        limit: 'tokens',
      });
      expect(await spending.reserve(counters, { usd: 0.76, tokens: 1 })).toEqual({ index: 0, limit: 'usd' });
      expect(await spending.spent(counters)).toEqual([
        { usd: 0.25, tokens: 40 },
        { usd: 0.25, tokens: 40 },
      ]);
    });

    it('names the counters that do not exist and adds nothing until they are seeded', async () => {
      const { spending } = open();
      const counters = [day('p', { tokens: 100 }), day('k', { tokens: 100 }), day('m', { tokens: 100 })];
      await spending.seed([counters[1] as Allowance], [{ usd: 0.5, tokens: 30 }]);
      expect(await spending.reserve(counters, { usd: 0, tokens: 10 })).toEqual({ unseeded: [0, 2] });
      expect(await spending.spent(counters)).toEqual([null, { usd: 0.5, tokens: 30 }, null]);
      await spending.seed(counters, [
        { usd: 0, tokens: 5 },
        { usd: 9, tokens: 99 },
        { usd: 0, tokens: 0 },
      ]);
      expect(await spending.reserve(counters, { usd: 0, tokens: 10 })).toBeNull();
      expect(await spending.spent(counters)).toEqual([
        { usd: 0, tokens: 15 },
        { usd: 0.5, tokens: 40 },
        { usd: 0, tokens: 10 },
      ]);
    });

    it('adds what usage differed from the reservation, past the limit or back below it', async () => {
      const counters = [day('p', { tokens: 100 })];
      const spending = await seeded(counters);
      await spending.reserve(counters, { usd: 0, tokens: 90 });
      await spending.add(counters, { usd: 0, tokens: 30 });
      expect(await spending.spent(counters)).toEqual([{ usd: 0, tokens: 120 }]);
      expect(await spending.reserve(counters, { usd: 0, tokens: 0 })).toEqual({ index: 0, limit: 'tokens' });
      await spending.add(counters, { usd: 0, tokens: -100 });
      expect(await spending.reserve(counters, { usd: 0, tokens: 80 })).toBeNull();
    });

    it('takes concurrent reservations up to the limit and not one more', async () => {
      const counters = [day('p', { usd: 1 })];
      const spending = await seeded(counters);
      const results = await Promise.all(
        Array.from({ length: 30 }, () => spending.reserve(counters, { usd: 0.1, tokens: 1 })),
      );
      expect(results.filter((refusal) => refusal === null)).toHaveLength(10);
      expect((await spending.spent(counters))[0]?.tokens).toBe(10);
    });

    it('forgets a counter when its period ends', async () => {
      const counter = day('p', { tokens: 10 }, Date.now() + 150);
      const spending = await seeded([counter]);
      await spending.reserve([counter], { usd: 0, tokens: 10 });
      await delay(200);
      expect(await spending.spent([counter])).toEqual([null]);
    });

    it('counts every instance on one counter when the store is shared, each its own in memory', async () => {
      const counters = [day('p', { tokens: 10 })];
      expect(await (await seeded(counters)).reserve(counters, { usd: 0, tokens: 10 })).toBeNull();
      const second = await (await seeded(counters)).reserve(counters, { usd: 0, tokens: 10 });
      expect(second).toEqual(backend.shared ? { index: 0, limit: 'tokens' } : null);
    });
  });

  describe('stream slots', () => {
    it('grants up to the limit per owner and frees a slot on release', async () => {
      const { streams } = open();
      const first = await streams.acquire('alice', 2);
      const second = await streams.acquire('alice', 2);
      expect(first && second).toBeTruthy();
      expect(await streams.acquire('alice', 2)).toBeNull();
      expect(await streams.acquire('bob', 2)).not.toBeNull();
      await first?.();
      expect(await streams.acquire('alice', 2)).not.toBeNull();
    });

    it('counts every instance against one limit when the store is shared, each on its own in memory', async () => {
      expect(await open().streams.acquire('alice', 1)).not.toBeNull();
      const second = await open().streams.acquire('alice', 1);
      if (backend.shared) expect(second).toBeNull();
      else expect(second).not.toBeNull();
    });
  });
});
