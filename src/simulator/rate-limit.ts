import type { Headers } from './http.js';
import type { Fault } from './types.js';

const WINDOW_MS = 60_000;

/**
 * OpenAI's rate-limit headers: `x-ratelimit-*` counted over a 60 s window with the configured limits (none when
 * no limits are configured), and `retry-after` / `retry-after-ms` on a rate_limit fault.
 */
export class RateLimitHeaders {
  private window = { startedAt: 0, requests: 0, tokens: 0 };

  constructor(private readonly limits?: { requests: number; tokens: number }) {}

  /** Counts one request that used `tokens` and returns the headers of its response. */
  count(tokens: number): Headers {
    return this.headers(tokens, false);
  }

  /** The headers of a 429: nothing remaining, and when to retry as the fault says. */
  exhausted(fault: Extract<Fault, { type: 'rate_limit' }>): Headers {
    const headers = this.headers(0, true);
    if (fault.retryAfterSeconds !== undefined) headers['retry-after'] = String(fault.retryAfterSeconds);
    if (fault.retryAfterMs !== undefined) headers['retry-after-ms'] = String(fault.retryAfterMs);
    return headers;
  }

  private headers(tokens: number, exhausted: boolean): Headers {
    if (!this.limits) return {};
    const now = Date.now();
    if (now - this.window.startedAt >= WINDOW_MS) this.window = { startedAt: now, requests: 0, tokens: 0 };
    this.window.requests++;
    this.window.tokens += tokens;
    const reset = formatDuration(WINDOW_MS - (now - this.window.startedAt));
    const remaining = (limit: number, used: number) => String(exhausted ? 0 : Math.max(0, limit - used));
    return {
      'x-ratelimit-limit-requests': String(this.limits.requests),
      'x-ratelimit-remaining-requests': remaining(this.limits.requests, this.window.requests),
      'x-ratelimit-reset-requests': reset,
      'x-ratelimit-limit-tokens': String(this.limits.tokens),
      'x-ratelimit-remaining-tokens': remaining(this.limits.tokens, this.window.tokens),
      'x-ratelimit-reset-tokens': reset,
    };
  }
}

/** `850ms`, `59.15s`: the duration format of OpenAI's reset headers. */
function formatDuration(ms: number): string {
  return ms < 1000 ? `${ms}ms` : `${Number((ms / 1000).toFixed(3))}s`;
}
