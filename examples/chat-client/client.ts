import { type Client, createClient } from 'graphql-ws';
import WebSocket from 'ws';
import type { CompletionEventsSubscription, TypedDocumentString } from './gql/graphql.js';
import { CompletionEvents, CreateConversation, StartCompletion } from './operations.js';

export type CompletionEvent = CompletionEventsSubscription['completionEvents'];

export interface ChatClientOptions {
  /** The server's GraphQL endpoint, e.g. http://127.0.0.1:4000/graphql (WebSocket on the same path). */
  url: string;
  /** Sent as `Authorization: Bearer <key>` over HTTP and in graphql-ws connectionParams. */
  apiKey?: string;
  /** How many times a dropped stream is resumed before giving up. */
  maxReconnects?: number;
  /**
   * Send each operation's id from codegen's persisted-documents manifest instead of its text: what a server
   * running trusted documents only (PERSISTED_DOCUMENTS_ONLY) accepts.
   */
  trustedDocuments?: boolean;
}

/** A small typed client: mutations over HTTP (fetch), the stream over graphql-ws, resumed by seq after a drop. */
export class ChatClient {
  private readonly ws: Client;

  constructor(private readonly options: ChatClientOptions) {
    this.ws = createClient({
      url: options.url.replace(/^http/, 'ws'),
      webSocketImpl: WebSocket,
      connectionParams: options.apiKey ? { authorization: `Bearer ${options.apiKey}` } : undefined,
      lazy: true,
      // Resuming is ours (afterSeq), so graphql-ws must not replay the original subscription on its own.
      retryAttempts: 0,
    });
  }

  async createConversation(title: string): Promise<string> {
    const data = await this.request(CreateConversation, { input: { title } });
    return data.createConversation.id;
  }

  async startCompletion(conversationId: string, content: string, functions?: string[]): Promise<string> {
    const data = await this.request(StartCompletion, { input: { conversationId, content, functions } });
    return data.startCompletion.id;
  }

  /**
   * Every event of the completion exactly once, in order. When the connection drops, it subscribes again with
   * `afterSeq` set to the last event seen: the server replays what was missed and goes on live.
   */
  async *events(
    completionId: string,
    onReconnect?: (afterSeq: number) => void,
  ): AsyncGenerator<CompletionEvent> {
    let afterSeq = 0;
    let reconnects = 0;
    for (;;) {
      try {
        const stream = this.ws.iterate({
          ...this.operation(CompletionEvents),
          variables: { completionId, afterSeq },
        });
        for await (const result of stream) {
          if (result.errors?.length) throw new GraphQLResponseError(result.errors);
          const event = (result.data as CompletionEventsSubscription | undefined)?.completionEvents;
          if (!event || event.seq <= afterSeq) continue;
          afterSeq = event.seq;
          yield event;
          if (event.__typename === 'CompletionDone' || event.__typename === 'CompletionFailed') return;
        }
        return;
      } catch (error) {
        if (error instanceof GraphQLResponseError || reconnects >= (this.options.maxReconnects ?? 5))
          throw error;
        reconnects += 1;
        onReconnect?.(afterSeq);
        await new Promise((resolve) => setTimeout(resolve, Math.min(2000, 100 * 2 ** reconnects)));
      }
    }
  }

  /** The document's text, or its id (graphql-ws insists on a `query` string, so it goes empty beside the id). */
  private operation<R, V>(document: TypedDocumentString<R, V>): { query: string; documentId?: string } {
    const id = document.__meta__?.hash as string | undefined;
    if (this.options.trustedDocuments && id) return { query: '', documentId: id };
    return { query: document.toString() };
  }

  close(): Promise<void> {
    return this.ws.dispose() as Promise<void>;
  }

  private async request<R, V>(document: TypedDocumentString<R, V>, variables: V): Promise<R> {
    const response = await fetch(this.options.url, {
      method: 'POST',
      headers: {
        'content-type': 'application/json',
        ...(this.options.apiKey ? { authorization: `Bearer ${this.options.apiKey}` } : {}),
      },
      body: JSON.stringify({ ...this.operation(document), variables }),
    });
    const body = (await response.json()) as { data?: R; errors?: readonly unknown[] };
    if (body.errors?.length || !body.data) throw new GraphQLResponseError(body.errors ?? []);
    return body.data;
  }
}

/** The server answered with GraphQL errors: not a dropped connection, so not worth a retry. */
export class GraphQLResponseError extends Error {
  constructor(readonly errors: readonly unknown[]) {
    super(`GraphQL errors: ${JSON.stringify(errors)}`);
  }
}
