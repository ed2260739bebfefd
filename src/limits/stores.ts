import type { Redis } from 'ioredis';
import { type BucketStore, MemoryBucketStore } from './buckets.js';
import { type CacheBounds, type CacheStore, MemoryCacheStore } from './cache.js';
import type { Clock } from './clock.js';
import { RedisBucketStore, RedisCacheStore, RedisSpendingStore, RedisStreamSlots } from './redis.js';
import { MemorySpendingStore, type SpendingStore } from './spending.js';
import { MemoryStreamSlots, type StreamSlots } from './streams.js';

export interface LimitStores {
  buckets: BucketStore;
  cache: CacheStore;
  streams: StreamSlots;
  spending: SpendingStore;
}

/** The limits' state: in Redis (shared by every instance using it and `prefix`) when given one, else in memory. */
export function openLimitStores(
  redis: Redis | null,
  options: { prefix: string; cache: CacheBounds; clock: Clock },
): LimitStores {
  if (!redis) {
    return {
      buckets: new MemoryBucketStore(options.clock),
      cache: new MemoryCacheStore(options.cache, options.clock),
      streams: new MemoryStreamSlots(),
      spending: new MemorySpendingStore(options.clock),
    };
  }
  return {
    buckets: new RedisBucketStore(redis, options.prefix),
    cache: new RedisCacheStore(redis, options.prefix, options.cache),
    streams: new RedisStreamSlots(redis, options.prefix),
    spending: new RedisSpendingStore(redis, options.prefix),
  };
}
