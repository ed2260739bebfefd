import type { Clock } from './clock.js';

/** A token bucket: holds up to `capacity`, refills `capacity` evenly over `windowMs`, starts full. */
export interface Bucket {
  key: string;
  capacity: number;
  windowMs: number;
}

export interface Draw {
  bucket: Bucket;
  /** At most the bucket's capacity, or it could never be served. */
  cost: number;
}

/**
 * Where bucket levels live: in this process, or in Redis so that every instance draws from the same buckets.
 * Levels may go below zero (a reservation corrected upwards): that debt delays the next draws.
 */
export interface BucketStore {
  /** Takes every draw, all or none. Answers 0 when taken, else the milliseconds until all would succeed. */
  take(draws: Draw[]): Promise<number>;
  /** Adds `amount` (negative to charge more), never above capacity. */
  give(bucket: Bucket, amount: number): Promise<void>;
  /** Lowers the level to at most `level`, as when the upstream says that is all that remains. */
  lower(bucket: Bucket, level: number): Promise<void>;
}

interface Level {
  level: number;
  at: number;
}

export class MemoryBucketStore implements BucketStore {
  private readonly levels = new Map<string, Level>();

  constructor(private readonly clock: Clock) {}

  async take(draws: Draw[]): Promise<number> {
    const now = this.clock.now();
    const levels = draws.map(({ bucket }) => this.refilled(bucket, now));
    const waitMs = Math.max(0, ...draws.map((draw, i) => shortfallMs(draw, levels[i] ?? 0)));
    if (waitMs > 0) return Math.ceil(waitMs);
    for (const [i, draw] of draws.entries()) {
      this.levels.set(draw.bucket.key, { level: (levels[i] ?? 0) - draw.cost, at: now });
    }
    return 0;
  }

  async give(bucket: Bucket, amount: number): Promise<void> {
    const now = this.clock.now();
    this.levels.set(bucket.key, {
      level: Math.min(bucket.capacity, this.refilled(bucket, now) + amount),
      at: now,
    });
  }

  async lower(bucket: Bucket, level: number): Promise<void> {
    const now = this.clock.now();
    this.levels.set(bucket.key, { level: Math.min(level, this.refilled(bucket, now)), at: now });
  }

  private refilled(bucket: Bucket, now: number): number {
    const state = this.levels.get(bucket.key);
    if (!state) return bucket.capacity;
    return Math.min(bucket.capacity, state.level + ((now - state.at) * bucket.capacity) / bucket.windowMs);
  }
}

/** How long until the bucket holds the draw's cost (0 if it does). */
function shortfallMs({ bucket, cost }: Draw, level: number): number {
  return level >= cost ? 0 : ((cost - level) * bucket.windowMs) / bucket.capacity;
}

/** What the limits report (src/observability's Metrics): waits that went on, and refusals. */
export interface LimitMetrics {
  rateLimitWaited(limit: string, seconds: number): void;
  rateLimitRejected(limit: string): void;
}
