import { APIError } from 'openai';
import type { Config } from '../config.js';
import { systemClock } from '../limits/index.js';
import { RetryPolicy } from './retry.js';
import { UpstreamLimiter, type UpstreamLimiterOptions } from './upstream-limiter.js';

/** What the limiter needs to know about a request before it is sent. */
export interface GatedRequest {
  model: string;
  /** From the stored per-message counts, not a new tokenization. */
  promptTokens: number;
  maxTokens: number;
  /** Whose request it is: owners take turns in the queue. */
  owner?: string;
}

export interface Admitted<T> {
  data: T;
  /** Corrects the token reservation by the actual usage (undefined when unknown: the reservation stands). */
  settle(usedTokens: number | undefined): Promise<void>;
}

/**
 * The start of every upstream request goes through here: each attempt takes its place in the rate limits,
 * transient failures are retried, and the response headers tighten the buckets. Only the start: what follows
 * (a stream's chunks) is the caller's, so content already delivered is never requested again.
 */
export class UpstreamGate {
  constructor(
    private readonly limiter: UpstreamLimiter,
    private readonly retry: RetryPolicy,
  ) {}

  send<T>(
    request: GatedRequest,
    signal: AbortSignal,
    onRetry: () => void,
    start: () => Promise<{ data: T; response: Response }>,
  ): Promise<Admitted<T>> {
    return this.retry.run(
      async () => {
        const reservation = await this.limiter.reserve(
          request.model,
          request.promptTokens + request.maxTokens,
          signal,
          request.owner,
        );
        try {
          const { data, response } = await start();
          await reservation.observe(response.headers);
          return { data, settle: (usedTokens) => reservation.settle(usedTokens) };
        } catch (error) {
          // A refused attempt cost a request but no tokens; its headers still say what the upstream has left.
          await reservation.settle(0);
          if (error instanceof APIError && error.headers) await reservation.observe(error.headers);
          throw error;
        }
      },
      signal,
      onRetry,
    );
  }
}

/** The gate of the upstream at `upstream`: the rate limits and retry policy the configuration sets. */
export function upstreamGate(
  config: Config,
  deps: Pick<UpstreamLimiterOptions, 'buckets' | 'metrics' | 'upstream'>,
): UpstreamGate {
  return new UpstreamGate(
    new UpstreamLimiter({
      ...deps,
      clock: systemClock,
      limits: { requestsPerWindow: config.RATE_LIMIT_RPM, tokensPerWindow: config.RATE_LIMIT_TPM },
      modelLimits: config.RATE_LIMIT_MODELS,
      windowMs: config.RATE_LIMIT_WINDOW_MS,
      maxWaitMs: config.RATE_LIMIT_MAX_WAIT,
    }),
    new RetryPolicy(
      {
        maxRetries: config.OPENAI_MAX_RETRIES,
        baseDelayMs: config.OPENAI_RETRY_BASE_DELAY_MS,
        maxDelayMs: config.OPENAI_RETRY_MAX_DELAY_MS,
        maxWaitMs: config.RATE_LIMIT_MAX_WAIT,
      },
      systemClock,
    ),
  );
}
