import { type DocumentNode, type FragmentDefinitionNode, getOperationAST, Kind } from 'graphql';
import type { Plugin } from 'graphql-yoga';
import { AppError, ErrorCode } from '../errors.js';
import type { Context } from '../schema/builder.js';
import type { BucketStore } from './buckets.js';
import type { StreamSlots } from './streams.js';
import type { LimitMetrics } from './upstream-limiter.js';

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

/**
 * Applies the client limits to every operation: queries and mutations count against the rate, subscriptions
 * against it and hold a stream slot until they end. Unauthenticated operations are left to the schema to refuse.
 */
export function useClientLimits(limits: ClientLimits): Plugin<Context> {
  return {
    onExecute: async ({ args, setResultAndStopExecution }) => {
      const principal = args.contextValue.principal;
      if (!principal) return;
      try {
        await limits.admit(principal.id, rootFieldCount(args.document, args.operationName));
      } catch (error) {
        if (!(error instanceof AppError)) throw error;
        setResultAndStopExecution({ errors: [error] });
      }
    },
    onSubscribe: async ({ args, setResultAndStopExecution }) => {
      const principal = args.contextValue.principal;
      if (!principal) return;
      let release: () => Promise<void>;
      try {
        await limits.admit(principal.id);
        release = await limits.openStream(principal.id);
      } catch (error) {
        if (!(error instanceof AppError)) throw error;
        setResultAndStopExecution({ errors: [error] });
        return;
      }
      const end = () => void release().catch(() => undefined);
      return {
        onSubscribeResult: ({ result, setResult }) => {
          if (Symbol.asyncIterator in result) setResult(releasingAtEnd(result, end));
          else end();
        },
      };
    },
  };
}

/**
 * The stream, calling `release` once when it completes, is closed, or fails. Envelop's `onEnd` misses the last:
 * a subscription whose resolver threw (a refused input, a missing completion) kept its slot for good.
 */
function releasingAtEnd<T>(stream: AsyncIterable<T>, release: () => void): AsyncIterableIterator<T> {
  const iterator = stream[Symbol.asyncIterator]();
  const settle = <R>(step: Promise<IteratorResult<T, R>>) =>
    step.then(
      (result) => {
        if (result.done) release();
        return result;
      },
      (error: unknown) => {
        release();
        throw error;
      },
    );
  return {
    [Symbol.asyncIterator]() {
      return this;
    },
    next: () => settle(iterator.next()),
    return: (value?: unknown) => settle(iterator.return?.(value) ?? Promise.resolve({ done: true, value })),
    throw: (error?: unknown) => settle(iterator.throw?.(error) ?? Promise.reject(error)),
  };
}

/** The operation's root fields, through fragments and aliases alike; at least 1. */
function rootFieldCount(document: DocumentNode, operationName: string | null | undefined): number {
  const fragments = new Map(
    document.definitions
      .filter(
        (definition): definition is FragmentDefinitionNode => definition.kind === Kind.FRAGMENT_DEFINITION,
      )
      .map((fragment) => [fragment.name.value, fragment]),
  );
  const pending = [...(getOperationAST(document, operationName)?.selectionSet.selections ?? [])];
  const spread = new Set<string>();
  let count = 0;
  for (let selection = pending.pop(); selection; selection = pending.pop()) {
    if (selection.kind === Kind.FIELD) count += 1;
    else if (selection.kind === Kind.INLINE_FRAGMENT) pending.push(...selection.selectionSet.selections);
    else if (!spread.has(selection.name.value)) {
      spread.add(selection.name.value);
      pending.push(...(fragments.get(selection.name.value)?.selectionSet.selections ?? []));
    }
  }
  return Math.max(1, count);
}
