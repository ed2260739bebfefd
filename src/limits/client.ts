import { AppError, ErrorCode } from '../errors.js';
import type { BucketStore, LimitMetrics } from './buckets.js';
import type { StreamSlots } from './streams.js';

export interface ClientLimitOptions {
  buckets: BucketStore;
  streams: StreamSlots;
  /** Operations per principal per window (CLIENT_RPM). */
  requestsPerWindow: number;
  windowMs: number;
  /** Open subscriptions per principal (CLIENT_MAX_STREAMS). */
  maxStreams: number;
  metrics: LimitMetrics;
}

/** Per API key (principal): operations per window and open streams, so one client cannot starve the others. */
export class ClientLimits {
  constructor(private readonly options: ClientLimitOptions) {}

  /**
   * Counts an operation as its root fields (30 aliased sendMessage are 30 requests); throws RATE_LIMITED (with
   * retryAfter, and HTTP 429 + Retry-After) when over, BAD_USER_INPUT when one operation asks for more than a window.
   */
  async admit(principalId: string, rootFields = 1): Promise<void> {
    const { buckets, requestsPerWindow, windowMs } = this.options;
    if (rootFields > requestsPerWindow)
      throw new AppError(
        ErrorCode.BAD_USER_INPUT,
        `This operation has ${rootFields} root fields, more than CLIENT_RPM (${requestsPerWindow}) allows per window`,
      );
    const bucket = { key: `client:${principalId}:requests`, capacity: requestsPerWindow, windowMs };
    const waitMs = await buckets.take([{ bucket, cost: rootFields }]);
    if (waitMs === 0) return;
    this.options.metrics.rateLimitRejected('client_requests');
    const retryAfter = waitMs / 1000;
    const error = new AppError(
      ErrorCode.RATE_LIMITED,
      `Too many requests for this API key (CLIENT_RPM ${requestsPerWindow}); retry after ${retryAfter} s`,
      { retryAfter },
    );
    // Yoga turns this into the HTTP status and headers of the response, and leaves it out of the body.
    error.extensions.http = { status: 429, headers: { 'retry-after': String(Math.ceil(retryAfter)) } };
    throw error;
  }

  /** Takes a stream slot; the returned function gives it back. Throws RATE_LIMITED when all are open. */
  async openStream(principalId: string): Promise<() => Promise<void>> {
    const release = await this.options.streams.acquire(principalId, this.options.maxStreams);
    if (release) return release;
    this.options.metrics.rateLimitRejected('client_streams');
    throw new AppError(
      ErrorCode.RATE_LIMITED,
      `This API key already has ${this.options.maxStreams} open streams (CLIENT_MAX_STREAMS); close one first`,
    );
  }
}
