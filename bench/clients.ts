import { type Client, createClient } from 'graphql-ws';
import WebSocket from 'ws';
import type { TypedDocumentString } from '../test/gql/graphql.js';
import { graphql } from '../test/gql/index.js';
import { BENCH_API_KEY } from './processes.js';

export const CreateConversation = graphql(`
  mutation BenchCreateConversation($input: CreateConversationInput!) {
    createConversation(input: $input) {
      id
    }
  }
`);

export const SendMessage = graphql(`
  mutation BenchSendMessage($input: SendMessageInput!) {
    sendMessage(input: $input) {
      id
      status
      message {
        content
      }
      usage {
        promptTokens
        completionTokens
        costUsd
      }
    }
  }
`);

export const StartCompletion = graphql(`
  mutation BenchStartCompletion($input: SendMessageInput!) {
    startCompletion(input: $input) {
      id
    }
  }
`);

export const CancelCompletion = graphql(`
  mutation BenchCancelCompletion($id: ID!) {
    cancelCompletion(id: $id) {
      status
    }
  }
`);

export const Chat = graphql(`
  subscription BenchChat($input: SendMessageInput!) {
    chat(input: $input) {
      __typename
      seq
      ... on ContentDelta {
        text
      }
      ... on CompletionFailed {
        error {
          code
          message
        }
      }
    }
  }
`);

export const CompletionEvents = graphql(`
  subscription BenchCompletionEvents($completionId: ID!, $afterSeq: Int) {
    completionEvents(completionId: $completionId, afterSeq: $afterSeq) {
      __typename
      seq
      ... on ContentDelta {
        text
      }
    }
  }
`);

/** The system prompt of every benchmark conversation, and the user message of every request. */
export const SYSTEM_PROMPT = 'You are a concise assistant for a shopping platform.';
export const USER_MESSAGE = 'Suggest a weekly grocery budget for a family of four, with a short reason.';

/** GraphQL over HTTP with fetch, authenticated with the benchmark key. */
export class GraphQLHttp {
  constructor(private readonly url: string) {}

  async data<R, V>(document: TypedDocumentString<R, V>, variables: V): Promise<R> {
    const response = await fetch(this.url, {
      method: 'POST',
      headers: { 'content-type': 'application/json', authorization: `Bearer ${BENCH_API_KEY}` },
      body: JSON.stringify({ query: document.toString(), variables }),
    });
    const body = (await response.json()) as { data?: R | null; errors?: unknown[] };
    if (body.errors?.length || !body.data) throw new Error(`GraphQL errors: ${JSON.stringify(body.errors)}`);
    return body.data;
  }

  /** Conversations made up front, so every measured request has the same context as the baseline's. */
  async conversations(count: number, parallel = 8): Promise<string[]> {
    const ids: string[] = [];
    let started = 0;
    await Promise.all(
      Array.from({ length: parallel }, async () => {
        while (started < count) {
          started++;
          const { createConversation } = await this.data(CreateConversation, {
            input: { title: 'bench', systemPrompt: SYSTEM_PROMPT },
          });
          ids.push(createConversation.id);
        }
      }),
    );
    return ids;
  }
}

/** An open graphql-ws connection (the socket is up and acknowledged before anything is measured). */
export async function connectWs(url: string): Promise<Client> {
  const client = createClient({
    url: url.replace(/^http/, 'ws'),
    webSocketImpl: WebSocket,
    connectionParams: { authorization: `Bearer ${BENCH_API_KEY}` },
    lazy: false,
    retryAttempts: 0,
    // An idle connection must stay open for the whole run.
    lazyCloseTimeout: Number.POSITIVE_INFINITY,
  });
  await new Promise<void>((resolve, reject) => {
    const off = client.on('connected', () => {
      off();
      resolve();
    });
    client.on('error', reject);
  });
  return client;
}

export interface StreamObserver<R> {
  next(value: R): void;
  error?(error: unknown): void;
}

/** Subscribes with a typed document; resolves when the server completes the stream. */
export function subscribe<R, V>(
  client: Client,
  document: TypedDocumentString<R, V>,
  variables: V,
  observer: StreamObserver<R>,
): { done: Promise<void>; unsubscribe: () => void } {
  let unsubscribe = () => {};
  const done = new Promise<void>((resolve, reject) => {
    unsubscribe = client.subscribe<R>(
      { query: document.toString(), variables: variables as Record<string, unknown> },
      {
        next: (result) => {
          if (result.errors?.length)
            reject(new Error(`subscription errors: ${JSON.stringify(result.errors)}`));
          else if (result.data) observer.next(result.data);
        },
        error: (error) => {
          observer.error?.(error);
          reject(error instanceof Error ? error : new Error(JSON.stringify(error)));
        },
        complete: resolve,
      },
    );
  });
  return { done, unsubscribe };
}
