import { AppError, ErrorCode } from '../errors.js';
import type { Bucket, BucketStore, Clock, Draw, LimitMetrics } from '../limits/index.js';

export interface RateLimits {
  requestsPerWindow: number;
  tokensPerWindow: number;
}

export interface UpstreamLimiterOptions {
  buckets: BucketStore;
  clock: Clock;
  /** Names the upstream in bucket keys, so instances sharing Redis and an upstream share its buckets. */
  upstream: string;
  limits: RateLimits;
  /** Models with limits of their own draw from their own buckets instead of the upstream's. */
  modelLimits: Record<string, RateLimits>;
  windowMs: number;
  /** How long a request may queue for capacity before it fails with RATE_LIMITED. */
  maxWaitMs: number;
  metrics: LimitMetrics;
}

/** Capacity taken for one upstream request; settle it once the actual usage is known. */
export interface Reservation {
  /** Corrects the token reservation by what the request really used (undefined: unknown, keep it all). */
  settle(usedTokens: number | undefined): Promise<void>;
  /** Applies the upstream's `x-ratelimit-remaining-*` headers: our buckets never hold more than it has left. */
  observe(headers: Headers): Promise<void>;
}

interface Waiter {
  owner: string;
  draws: Draw[];
  deadline: number;
  resolve(): void;
  reject(error: unknown): void;
}

interface Queue {
  /**
   * Waiters by owner. The map's order is the turn order: the head is the first owner's oldest waiter, and an
   * owner just served goes to the back, so owners take turns however many requests each has queued.
   */
  lanes: Map<string, Waiter[]>;
  serving: boolean;
  /** The head is waiting for the buckets to refill: nobody else moves until then. */
  blocked: boolean;
  /** The latest wait the buckets reported, the retryAfter hint of a waiter that times out behind the head. */
  lastWaitMs: number;
}

/**
 * Token buckets for requests and tokens per window in front of the model API. A request reserves its estimated
 * tokens (prompt + maxTokens) and one request before it is sent; requests that do not fit wait in a queue that
 * serves owners (principals) in turn, each owner's requests in order: one principal's flood delays another's
 * request by at most one request per other waiting owner. The head is served before anyone else, so a large
 * request is never overtaken forever by small ones. Instances sharing Redis share the buckets, each serving
 * its own queue this way.
 */
export class UpstreamLimiter {
  private readonly queues = new Map<string, Queue>();

  constructor(private readonly options: UpstreamLimiterOptions) {}

  async reserve(
    model: string,
    estimatedTokens: number,
    signal: AbortSignal,
    owner = '',
  ): Promise<Reservation> {
    const { requests, tokens } = this.bucketsFor(model);
    const reserved = Math.min(estimatedTokens, tokens.capacity);
    const { buckets, clock, metrics } = this.options;
    const queuedAt = clock.now();
    try {
      await this.enqueue(
        requests.key,
        owner,
        [
          { bucket: requests, cost: 1 },
          { bucket: tokens, cost: reserved },
        ],
        signal,
      );
    } catch (error) {
      if (error instanceof AppError && error.code === ErrorCode.RATE_LIMITED)
        metrics.rateLimitRejected('upstream');
      throw error;
    }
    const waitedMs = clock.now() - queuedAt;
    if (waitedMs > 0) metrics.rateLimitWaited('upstream', waitedMs / 1000);
    let settled = false;
    return {
      settle: async (usedTokens) => {
        if (settled || usedTokens === undefined) return;
        settled = true;
        await buckets.give(tokens, reserved - usedTokens);
      },
      observe: async (headers) => {
        const remainingRequests = headerNumber(headers, 'x-ratelimit-remaining-requests');
        const remainingTokens = headerNumber(headers, 'x-ratelimit-remaining-tokens');
        if (remainingRequests !== undefined) await buckets.lower(requests, remainingRequests);
        if (remainingTokens !== undefined) await buckets.lower(tokens, remainingTokens);
      },
    };
  }

  private bucketsFor(model: string): { requests: Bucket; tokens: Bucket } {
    const { upstream, windowMs } = this.options;
    const own = this.options.modelLimits[model];
    const scope = own ? `upstream:${upstream}:model:${model}` : `upstream:${upstream}`;
    const limits = own ?? this.options.limits;
    return {
      requests: { key: `${scope}:requests`, capacity: limits.requestsPerWindow, windowMs },
      tokens: { key: `${scope}:tokens`, capacity: limits.tokensPerWindow, windowMs },
    };
  }

  private enqueue(scope: string, owner: string, draws: Draw[], signal: AbortSignal): Promise<void> {
    signal.throwIfAborted();
    let queue = this.queues.get(scope);
    if (!queue) {
      queue = { lanes: new Map(), serving: false, blocked: false, lastWaitMs: 0 };
      this.queues.set(scope, queue);
    }
    const current = queue;
    return new Promise<void>((resolve, reject) => {
      const expiry = new AbortController();
      const leave = () => {
        expiry.abort();
        signal.removeEventListener('abort', onAbort);
        const lane = current.lanes.get(owner) ?? [];
        const index = lane.indexOf(waiter);
        if (index >= 0) lane.splice(index, 1);
        if (lane.length === 0) current.lanes.delete(owner);
      };
      const onAbort = () => {
        leave();
        reject(signal.reason);
      };
      const waiter: Waiter = {
        owner,
        draws,
        deadline: this.options.clock.now() + this.options.maxWaitMs,
        resolve: () => {
          leave();
          resolve();
        },
        reject: (error) => {
          leave();
          reject(error);
        },
      };
      // A waiter stuck behind a blocked head fails when its time is up. Otherwise the serving loop decides: it
      // asks the buckets for every waiter at least once, and fails one that cannot be served before its deadline.
      this.options.clock.sleep(this.options.maxWaitMs, expiry.signal).then(
        () => {
          if (current.blocked && headOf(current) !== waiter) waiter.reject(rateLimited(current.lastWaitMs));
        },
        () => {},
      );
      signal.addEventListener('abort', onAbort, { once: true });
      const lane = current.lanes.get(owner);
      if (lane) lane.push(waiter);
      else current.lanes.set(owner, [waiter]);
      if (!current.serving) void this.serve(scope, current);
    });
  }

  /** Serves a queue head first until it is empty; one loop per queue. */
  private async serve(scope: string, queue: Queue): Promise<void> {
    const { buckets, clock } = this.options;
    queue.serving = true;
    for (let head = headOf(queue); head; head = headOf(queue)) {
      try {
        const waitMs = await buckets.take(head.draws);
        queue.lastWaitMs = waitMs;
        const now = clock.now();
        if (waitMs === 0) {
          head.resolve();
          takeTurn(queue, head.owner);
        } else if (now + waitMs > head.deadline) head.reject(rateLimited(waitMs));
        else {
          for (const waiter of [...queue.lanes.values()].flat()) {
            if (waiter !== head && waiter.deadline <= now) waiter.reject(rateLimited(waitMs));
          }
          queue.blocked = true;
          await clock.sleep(waitMs);
          queue.blocked = false;
        }
      } catch (error) {
        head.reject(error);
      }
    }
    queue.serving = false;
    this.queues.delete(scope);
  }
}

function headOf(queue: Queue): Waiter | undefined {
  return queue.lanes.values().next().value?.[0];
}

/** Sends an owner that was just served to the back of the turn order. */
function takeTurn(queue: Queue, owner: string): void {
  const lane = queue.lanes.get(owner);
  if (!lane) return;
  queue.lanes.delete(owner);
  queue.lanes.set(owner, lane);
}

function rateLimited(waitMs: number): AppError {
  const retryAfter = Math.max(waitMs, 1) / 1000;
  return new AppError(
    ErrorCode.RATE_LIMITED,
    `The model API rate limit (RATE_LIMIT_RPM / RATE_LIMIT_TPM) is used up; retry after ${retryAfter} s`,
    { retryAfter },
  );
}

function headerNumber(headers: Headers, name: string): number | undefined {
  const value = headers.get(name);
  if (value === null || value.trim() === '') return undefined;
  const number = Number(value);
  return Number.isFinite(number) ? number : undefined;
}
