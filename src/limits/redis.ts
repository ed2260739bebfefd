import { createHash, randomUUID } from 'node:crypto';
import type { Redis } from 'ioredis';
import type { Bucket, BucketStore, Draw } from './buckets.js';
import type { CacheBounds, CacheStore } from './cache.js';
import type { Allowance, Counter, Refusal, Spend, SpendingStore, Unseeded } from './spending.js';
import type { StreamSlots } from './streams.js';

/**
 * The Redis side of the limits: every instance sharing a Redis (and key prefix) shares the same buckets, cache
 * and stream slots. Each read-modify-write is one Lua script, so it is atomic, and time is Redis's own (TIME),
 * so instances whose clocks differ still agree.
 */

/** A script run by its SHA, loaded on first use (or after a Redis restart emptied the script cache). */
class LuaScript {
  private readonly sha: string;

  constructor(private readonly lua: string) {
    this.sha = createHash('sha1').update(lua).digest('hex');
  }

  async run(redis: Redis, keys: string[], args: (string | number)[]): Promise<unknown> {
    try {
      return await redis.evalsha(this.sha, keys.length, ...keys, ...args);
    } catch (error) {
      if (!(error instanceof Error) || !error.message.startsWith('NOSCRIPT')) throw error;
      return redis.eval(this.lua, keys.length, ...keys, ...args);
    }
  }
}

/** Every script starts by reading Redis's clock into `now` (milliseconds). */
const NOW = `local time = redis.call('TIME')
local now = tonumber(time[1]) * 1000 + tonumber(time[2]) / 1000
`;

/** Bucket state is a hash {level, at}; absent means full. `refill` brings a level up to now. */
const REFILL = `local function refill(key, capacity, window)
  local state = redis.call('HMGET', key, 'level', 'at')
  if not state[1] then return capacity end
  return math.min(capacity, tonumber(state[1]) + (now - tonumber(state[2])) * capacity / window)
end
local function store(key, level, capacity, window)
  redis.call('HSET', key, 'level', tostring(level), 'at', tostring(now))
  redis.call('PEXPIRE', key, math.ceil((capacity - level) * window / capacity) + 1000)
end
`;

/** KEYS: buckets; ARGV: capacity, window, cost for each. Returns 0 when all were taken, else ms to wait. */
const TAKE = new LuaScript(`${NOW}${REFILL}
local levels, wait = {}, 0
for i, key in ipairs(KEYS) do
  local capacity, window, cost = tonumber(ARGV[i * 3 - 2]), tonumber(ARGV[i * 3 - 1]), tonumber(ARGV[i * 3])
  levels[i] = refill(key, capacity, window)
  if levels[i] < cost then wait = math.max(wait, (cost - levels[i]) * window / capacity) end
end
if wait > 0 then return math.ceil(wait) end
for i, key in ipairs(KEYS) do
  local capacity, window, cost = tonumber(ARGV[i * 3 - 2]), tonumber(ARGV[i * 3 - 1]), tonumber(ARGV[i * 3])
  store(key, levels[i] - cost, capacity, window)
end
return 0`);

/** KEYS: one bucket; ARGV: capacity, window, amount to add, and an upper bound ('' for none). */
const ADJUST = new LuaScript(`${NOW}${REFILL}
local capacity, window = tonumber(ARGV[1]), tonumber(ARGV[2])
local level = math.min(capacity, refill(KEYS[1], capacity, window) + tonumber(ARGV[3]))
local bound = tonumber(ARGV[4])
if bound then level = math.min(level, bound) end
store(KEYS[1], level, capacity, window)
return 0`);

export class RedisBucketStore implements BucketStore {
  constructor(
    private readonly redis: Redis,
    private readonly prefix: string,
  ) {}

  async take(draws: Draw[]): Promise<number> {
    const keys = draws.map(({ bucket }) => this.key(bucket));
    const args = draws.flatMap(({ bucket, cost }) => [bucket.capacity, bucket.windowMs, cost]);
    return Number(await TAKE.run(this.redis, keys, args));
  }

  async give(bucket: Bucket, amount: number): Promise<void> {
    await ADJUST.run(this.redis, [this.key(bucket)], [bucket.capacity, bucket.windowMs, amount, '']);
  }

  async lower(bucket: Bucket, level: number): Promise<void> {
    await ADJUST.run(this.redis, [this.key(bucket)], [bucket.capacity, bucket.windowMs, 0, level]);
  }

  private key(bucket: Bucket): string {
    return `${this.prefix}bucket:${bucket.key}`;
  }
}

/** KEYS: the entry, the recency index (a sorted set of entry keys by last use). */
const CACHE_GET = new LuaScript(`${NOW}
local value = redis.call('GET', KEYS[1])
if value then redis.call('ZADD', KEYS[2], now, KEYS[1]) end
return value`);

/** KEYS: the entry, the recency index; ARGV: value, ttl ms, max entries. Evicts the least recently used. */
const CACHE_SET = new LuaScript(`${NOW}
redis.call('SET', KEYS[1], ARGV[1], 'PX', ARGV[2])
redis.call('ZADD', KEYS[2], now, KEYS[1])
redis.call('ZREMRANGEBYSCORE', KEYS[2], '-inf', now - tonumber(ARGV[2]))
local excess = redis.call('ZCARD', KEYS[2]) - tonumber(ARGV[3])
if excess > 0 then
  local evicted = redis.call('ZPOPMIN', KEYS[2], excess)
  for i = 1, #evicted, 2 do redis.call('DEL', evicted[i]) end
end
return 0`);

export class RedisCacheStore implements CacheStore {
  constructor(
    private readonly redis: Redis,
    private readonly prefix: string,
    private readonly bounds: CacheBounds,
  ) {}

  async get(key: string): Promise<string | null> {
    const value = await CACHE_GET.run(this.redis, [this.key(key), this.index()], []);
    return typeof value === 'string' ? value : null;
  }

  async set(key: string, value: string): Promise<void> {
    await CACHE_SET.run(
      this.redis,
      [this.key(key), this.index()],
      [value, this.bounds.ttlMs, this.bounds.maxEntries],
    );
  }

  private key(key: string): string {
    return `${this.prefix}cache:${key}`;
  }

  private index(): string {
    return `${this.prefix}cache-index`;
  }
}

/**
 * An open stream holds a lease in its owner's sorted set (score: when it lapses) and renews it while open, so
 * the slots of an instance that died free themselves after STREAM_LEASE_MS.
 */
const STREAM_LEASE_MS = 30_000;

/** KEYS: the owner's leases; ARGV: limit, lease id, lease ms. Returns 1 when a slot was taken. */
const STREAM_ACQUIRE = new LuaScript(`${NOW}
redis.call('ZREMRANGEBYSCORE', KEYS[1], '-inf', now)
if redis.call('ZCARD', KEYS[1]) >= tonumber(ARGV[1]) then return 0 end
redis.call('ZADD', KEYS[1], now + tonumber(ARGV[3]), ARGV[2])
redis.call('PEXPIRE', KEYS[1], ARGV[3])
return 1`);

/** KEYS: the owner's leases; ARGV: lease id, lease ms. */
const STREAM_RENEW = new LuaScript(`${NOW}
redis.call('ZADD', KEYS[1], 'XX', now + tonumber(ARGV[2]), ARGV[1])
redis.call('PEXPIRE', KEYS[1], ARGV[2])
return 0`);

export class RedisStreamSlots implements StreamSlots {
  constructor(
    private readonly redis: Redis,
    private readonly prefix: string,
  ) {}

  async acquire(owner: string, limit: number): Promise<(() => Promise<void>) | null> {
    const key = `${this.prefix}streams:${owner}`;
    const lease = randomUUID();
    const taken = await STREAM_ACQUIRE.run(this.redis, [key], [limit, lease, STREAM_LEASE_MS]);
    if (Number(taken) !== 1) return null;
    const renewal = setInterval(() => {
      STREAM_RENEW.run(this.redis, [key], [lease, STREAM_LEASE_MS]).catch(() => {
        // A missed renewal only shortens the lease; the next one (or the lapse) sets it right.
      });
    }, STREAM_LEASE_MS / 3);
    renewal.unref();
    let released = false;
    return async () => {
      if (released) return;
      released = true;
      clearInterval(renewal);
      await this.redis.zrem(key, lease);
    };
  }
}

/**
 * A spending counter is a hash {usd, tokens} that expires when its period ends. KEYS: the counters; ARGV: the
 * charge's usd and tokens, then each counter's usd limit and token limit ('' for none). Returns 0 when the charge
 * was added to every counter; {'unseeded', indexes...} when some do not exist; else {index, 'usd' | 'tokens'} of
 * the first it would exceed (indexes 1-based).
 */
const SPEND_RESERVE = new LuaScript(`
local usd, tokens = tonumber(ARGV[1]), tonumber(ARGV[2])
local unseeded = {'unseeded'}
for i, key in ipairs(KEYS) do
  if redis.call('EXISTS', key) == 0 then unseeded[#unseeded + 1] = i end
end
if #unseeded > 1 then return unseeded end
for i, key in ipairs(KEYS) do
  local usdLimit, tokenLimit = tonumber(ARGV[i * 2 + 1]), tonumber(ARGV[i * 2 + 2])
  local spent = redis.call('HMGET', key, 'usd', 'tokens')
  if usdLimit and tonumber(spent[1]) + usd > usdLimit then return {i, 'usd'} end
  if tokenLimit and tonumber(spent[2]) + tokens > tokenLimit then return {i, 'tokens'} end
end
for i, key in ipairs(KEYS) do
  redis.call('HINCRBYFLOAT', key, 'usd', ARGV[1])
  redis.call('HINCRBY', key, 'tokens', ARGV[2])
end
return 0`);

/** KEYS: the counters; ARGV: each counter's usd, tokens and end. Counters that exist keep their count. */
const SPEND_SEED = new LuaScript(`
for i, key in ipairs(KEYS) do
  if redis.call('EXISTS', key) == 0 then
    redis.call('HSET', key, 'usd', ARGV[i * 3 - 2], 'tokens', ARGV[i * 3 - 1])
    redis.call('PEXPIREAT', key, ARGV[i * 3])
  end
end
return 0`);

/** KEYS: the counters; ARGV: usd and tokens to add to those that exist. */
const SPEND_ADD = new LuaScript(`
for i, key in ipairs(KEYS) do
  if redis.call('EXISTS', key) == 1 then
    redis.call('HINCRBYFLOAT', key, 'usd', ARGV[1])
    redis.call('HINCRBY', key, 'tokens', ARGV[2])
  end
end
return 0`);

export class RedisSpendingStore implements SpendingStore {
  constructor(
    private readonly redis: Redis,
    private readonly prefix: string,
  ) {}

  async reserve(allowances: Allowance[], charge: Spend): Promise<Refusal | Unseeded | null> {
    const limits = allowances.flatMap(({ usd, tokens }) => [usd ?? '', tokens ?? '']);
    const outcome = await SPEND_RESERVE.run(this.redis, this.keys(allowances), [
      charge.usd,
      charge.tokens,
      ...limits,
    ]);
    if (!Array.isArray(outcome)) return null;
    const [first, ...rest] = outcome as (string | number)[];
    if (first === 'unseeded') return { unseeded: rest.map((index) => Number(index) - 1) };
    return { index: Number(first) - 1, limit: rest[0] === 'usd' ? 'usd' : 'tokens' };
  }

  async seed(counters: Counter[], spends: Spend[]): Promise<void> {
    const args = counters.flatMap(({ endsAt }, index) => {
      const spend = spends[index] ?? { usd: 0, tokens: 0 };
      return [spend.usd, spend.tokens, endsAt];
    });
    await SPEND_SEED.run(this.redis, this.keys(counters), args);
  }

  async add(counters: Counter[], amount: Spend): Promise<void> {
    await SPEND_ADD.run(this.redis, this.keys(counters), [amount.usd, amount.tokens]);
  }

  async spent(counters: Counter[]): Promise<(Spend | null)[]> {
    const pipeline = this.redis.pipeline();
    for (const key of this.keys(counters)) pipeline.hmget(key, 'usd', 'tokens');
    const results = (await pipeline.exec()) ?? [];
    return results.map(([error, values]) => {
      if (error) throw error;
      const [usd, tokens] = values as (string | null)[];
      return usd === null || usd === undefined ? null : { usd: Number(usd), tokens: Number(tokens ?? 0) };
    });
  }

  private keys(counters: Counter[]): string[] {
    return counters.map(({ key }) => `${this.prefix}spend:${key}`);
  }
}
