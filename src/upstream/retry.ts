import { APIConnectionError, APIError, APIUserAbortError } from 'openai';
import type { Clock } from '../limits/index.js';

export interface RetryOptions {
  /** Retries after the first attempt (OPENAI_MAX_RETRIES). */
  maxRetries: number;
  /** The first backoff's ceiling; each retry doubles it, up to maxDelayMs. */
  baseDelayMs: number;
  maxDelayMs: number;
  /** An upstream asking us to wait longer than this (retry-after) is not retried: the caller hears it now. */
  maxWaitMs: number;
}

/**
 * The one retry mechanism for the model API (the SDK's own is off): 408, 409, 429, 5xx and connection errors
 * are retried with exponential backoff and full jitter, waiting exactly as long as `retry-after-ms` or
 * `retry-after` ask when the upstream says. Anything else, including every other 4xx, fails at once.
 */
export class RetryPolicy {
  constructor(
    private readonly options: RetryOptions,
    private readonly clock: Clock,
    private readonly random: () => number = Math.random,
  ) {}

  /** Runs `attempt` until it succeeds or fails for good; `onRetry` hears of each new attempt. */
  async run<T>(attempt: () => Promise<T>, signal: AbortSignal, onRetry: () => void = () => {}): Promise<T> {
    for (let retry = 0; ; retry++) {
      try {
        return await attempt();
      } catch (error) {
        if (retry >= this.options.maxRetries || !isRetryable(error) || signal.aborted) throw error;
        const delayMs = this.delayMs(error, retry);
        if (delayMs > this.options.maxWaitMs) throw error;
        await this.clock.sleep(delayMs, signal);
        onRetry();
      }
    }
  }

  private delayMs(error: unknown, retry: number): number {
    const asked = retryAfterSeconds(error instanceof APIError ? error.headers : undefined);
    if (asked !== undefined) return asked * 1000;
    const ceiling = Math.min(this.options.maxDelayMs, this.options.baseDelayMs * 2 ** retry);
    return this.random() * ceiling;
  }
}

export function isRetryable(error: unknown): boolean {
  if (error instanceof APIUserAbortError) return false;
  if (error instanceof APIConnectionError) return true;
  if (!(error instanceof APIError) || error.status === undefined) return false;
  return error.status === 408 || error.status === 409 || error.status === 429 || error.status >= 500;
}

/** Seconds to wait, from `retry-after-ms` or `retry-after` (seconds or an HTTP date). */
export function retryAfterSeconds(headers: Headers | undefined): number | undefined {
  const ms = Number(headers?.get('retry-after-ms'));
  if (headers?.get('retry-after-ms') && Number.isFinite(ms)) return ms / 1000;
  const value = headers?.get('retry-after');
  if (!value) return undefined;
  const seconds = Number(value);
  if (Number.isFinite(seconds)) return seconds;
  const date = Date.parse(value);
  return Number.isNaN(date) ? undefined : Math.max(0, (date - Date.now()) / 1000);
}
