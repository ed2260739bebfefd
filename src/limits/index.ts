export type { BucketStore } from './buckets.js';
export type { CacheBounds, CacheStore } from './cache.js';
export { ClientLimits } from './client.js';
export { type Clock, systemClock } from './clock.js';
export { UpstreamGate } from './gate.js';
export { isRetryable, RetryPolicy, retryAfterSeconds } from './retry.js';
export { type LimitStores, openLimitStores } from './stores.js';
export type { StreamSlots } from './streams.js';
export { type RateLimits, type Reservation, UpstreamLimiter } from './upstream-limiter.js';
