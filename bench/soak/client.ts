import { createClient } from 'graphql-ws';
import WebSocket from 'ws';
import type { TypedDocumentString } from '../../test/gql/graphql.js';
import { BENCH_API_KEY } from '../processes.js';

export interface GraphQLError {
  message: string;
  extensions?: { code?: string };
}

export interface Answer<R> {
  data?: R | null;
  errors?: GraphQLError[];
}

/** The code of the first error of an answer (`NO_CODE` when it has none, which is itself a finding). */
export const codeOf = (errors: readonly GraphQLError[]) => errors[0]?.extensions?.code ?? 'NO_CODE';

/** One GraphQL request over HTTP. Rejects only when no answer came back (the instance is down or died). */
export async function post<R, V>(
  url: string,
  document: TypedDocumentString<R, V>,
  variables: V,
  timeoutMs = 60_000,
): Promise<Answer<R>> {
  const response = await fetch(url, {
    method: 'POST',
    headers: { 'content-type': 'application/json', authorization: `Bearer ${BENCH_API_KEY}` },
    body: JSON.stringify({ query: document.toString(), variables }),
    signal: AbortSignal.timeout(timeoutMs),
  });
  return (await response.json()) as Answer<R>;
}

export type StreamEnd =
  /** The server completed the stream. */
  | { end: 'complete' }
  /** `onEvent` asked to stop: the client left. */
  | { end: 'left' }
  /** The server answered with GraphQL errors. */
  | { end: 'errors'; code: string }
  /** The connection broke (an instance was killed) or nothing arrived in time. */
  | { end: 'broken'; reason: string };

/**
 * A subscription on a WebSocket of its own (so a killed instance breaks only its own streams). `onEvent` returns
 * false to leave mid-stream.
 */
export function stream<R, V>(
  url: string,
  document: TypedDocumentString<R, V>,
  variables: V,
  onEvent: (data: R) => boolean,
  idleTimeoutMs: number,
): Promise<StreamEnd> {
  const client = createClient({
    url: url.replace(/^http/, 'ws'),
    webSocketImpl: WebSocket,
    connectionParams: { authorization: `Bearer ${BENCH_API_KEY}` },
    retryAttempts: 0,
    lazyCloseTimeout: 0,
  });
  return new Promise<StreamEnd>((resolve) => {
    let idle: NodeJS.Timeout | undefined;
    let unsubscribe = () => {};
    const finish = (end: StreamEnd) => {
      clearTimeout(idle);
      unsubscribe();
      void client.dispose();
      resolve(end);
    };
    const arm = () => {
      clearTimeout(idle);
      idle = setTimeout(() => finish({ end: 'broken', reason: 'idle timeout' }), idleTimeoutMs);
    };
    arm();
    unsubscribe = client.subscribe<R>(
      { query: document.toString(), variables: variables as Record<string, unknown> },
      {
        next: (result) => {
          arm();
          if (result.errors?.length) finish({ end: 'errors', code: codeOf(result.errors as GraphQLError[]) });
          else if (result.data && !onEvent(result.data)) finish({ end: 'left' });
        },
        error: (error) => {
          const reason =
            error instanceof Error ? error.message : `close ${(error as { code?: number }).code}`;
          if (Array.isArray(error)) finish({ end: 'errors', code: codeOf(error as GraphQLError[]) });
          else finish({ end: 'broken', reason });
        },
        complete: () => finish({ end: 'complete' }),
      },
    );
  });
}
