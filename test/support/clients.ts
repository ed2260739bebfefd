import { createClient as createSseClient } from 'graphql-sse';
import { type Client, createClient as createWsClient } from 'graphql-ws';
import WebSocket from 'ws';
import type { TypedDocumentString } from '../gql/graphql.js';

/** A subscription whose messages are awaited one by one or all together; no sleeps. */
export interface Subscription<R> {
  /** The next result; rejects if the stream ends or errors first. */
  next(): Promise<R>;
  /** Every result until the server completes the stream. */
  all(): Promise<R[]>;
  /** Everything received so far. */
  received: R[];
  /** Resolves when the server has completed the stream. */
  completed: Promise<void>;
  unsubscribe(): void;
}

type Sink<R> = {
  next(value: { data?: R | null; errors?: readonly unknown[] }): void;
  error(error: unknown): void;
  complete(): void;
};

function subscription<R>(start: (sink: Sink<R>) => () => void): Subscription<R> {
  const received: R[] = [];
  const waiters: { resolve: (value: R) => void; reject: (error: unknown) => void }[] = [];
  let cursor = 0;
  let failure: unknown = null;
  let done = false;
  let finish: () => void = () => {};
  let fail: (error: unknown) => void = () => {};
  const completed = new Promise<void>((resolve, reject) => {
    finish = resolve;
    fail = reject;
  });
  completed.catch(() => {});
  const settle = () => {
    while (waiters.length > 0 && cursor < received.length) waiters.shift()?.resolve(received[cursor++] as R);
    if (done || failure) {
      for (const waiter of waiters.splice(0)) waiter.reject(failure ?? new Error('subscription completed'));
    }
  };
  const dispose = start({
    next: (value) => {
      if (value.errors?.length) {
        failure = new Error(`subscription errors: ${JSON.stringify(value.errors)}`);
        fail(failure);
      } else if (value.data) received.push(value.data);
      settle();
    },
    error: (error) => {
      failure = asError(error);
      fail(failure);
      settle();
    },
    complete: () => {
      done = true;
      finish();
      settle();
    },
  });
  return {
    received,
    completed,
    next: () =>
      new Promise<R>((resolve, reject) => {
        waiters.push({ resolve, reject });
        settle();
      }),
    all: async () => {
      await completed;
      return received;
    },
    unsubscribe: dispose,
  };
}

export interface WsClient {
  client: Client;
  subscribe<R, V>(document: TypedDocumentString<R, V>, variables?: V): Subscription<R>;
  close(): Promise<void>;
}

/** graphql-ws over a real WebSocket; the key goes in connectionParams as clients send it, with any `params`. */
export function wsClient(url: string, apiKey?: string, params: Record<string, string> = {}): WsClient {
  const client = createWsClient({
    url,
    webSocketImpl: WebSocket,
    connectionParams: { ...params, ...(apiKey ? { authorization: `Bearer ${apiKey}` } : {}) },
    retryAttempts: 0,
    lazy: true,
  });
  return {
    client,
    subscribe: (document, variables) =>
      subscription((sink) =>
        client.subscribe(
          { query: document.toString(), variables: variables as Record<string, unknown> | undefined },
          sink as never,
        ),
      ),
    close: () => client.dispose() as Promise<void>,
  };
}

/** graphql-sse (distinct connections mode) against Yoga's built-in SSE support. */
export function sseClient(url: string, apiKey?: string) {
  const client = createSseClient({
    url,
    headers: apiKey ? { authorization: `Bearer ${apiKey}` } : undefined,
    retryAttempts: 0,
  });
  return {
    subscribe: <R, V>(document: TypedDocumentString<R, V>, variables?: V) =>
      subscription<R>((sink) =>
        client.subscribe(
          { query: document.toString(), variables: variables as Record<string, unknown> | undefined },
          sink as never,
        ),
      ),
    close: () => client.dispose(),
  };
}

/** graphql-ws reports a closed socket as a CloseEvent; keep its code and reason on a real Error. */
function asError(error: unknown): Error {
  if (error instanceof Error) return error;
  const { code, reason } = (error ?? {}) as { code?: number; reason?: string };
  if (code !== undefined)
    return Object.assign(new Error(`socket closed ${code}: ${reason ?? ''}`), { code, reason });
  return new Error(JSON.stringify(error));
}
