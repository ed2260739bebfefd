export type { Bucket, BucketStore, Draw, LimitMetrics } from './buckets.js';
export type { CacheBounds, CacheStore } from './cache.js';
export { ClientLimits } from './client.js';
export { type Clock, systemClock } from './clock.js';
export type { Allowance, Counter, Refusal, Spend, SpendingStore, Unseeded } from './spending.js';
export { type LimitStores, openLimitStores } from './stores.js';
export type { StreamSlots } from './streams.js';
