import { Client } from '@modelcontextprotocol/sdk/client/index.js';
import { StreamableHTTPClientTransport } from '@modelcontextprotocol/sdk/client/streamableHttp.js';
import {
  type CallToolResult,
  CallToolResultSchema,
  ErrorCode as JsonRpcCode,
  McpError,
  type Tool,
} from '@modelcontextprotocol/sdk/types.js';
import { AppError, ErrorCode } from '../errors.js';
import type { Logger } from '../observability/logger.js';
import type { McpServerRow } from '../storage/schema.js';
import { guardedFetch } from './fetch.js';
import { IMPLEMENTATION } from './tools.js';

export type McpSessionStatus = 'connecting' | 'connected' | 'unavailable';

export interface McpSessionOptions {
  /** Each request to the server (initialize, tools/list, tools/call) and each response body. */
  timeoutMs: number;
  maxResponseBytes: number;
  /** The server's whole tool list, after each connection and each `list_changed`. */
  onTools: (server: string, tools: Tool[]) => Promise<void>;
  /** Throws when the URL is no longer allowed (the allow-list may have shrunk since registration). */
  checkUrl: (url: string) => void;
  logger: Logger;
}

/** Reconnection backoff: doubling from the first delay to the cap, with jitter so instances spread out. */
const FIRST_RETRY_MS = 200;
const MAX_RETRY_MS = 30_000;
/** tools/list pages read at most: a server cannot keep the session busy listing forever. */
const MAX_TOOL_PAGES = 20;

type State =
  | { status: 'connecting'; client: Client; ready: Promise<Client> }
  | { status: 'connected'; client: Client }
  | { status: 'unavailable'; error: string; retry: NodeJS.Timeout | null };

/**
 * This instance's one session with an MCP server (Streamable HTTP, with the SDK's client). It connects, lists the
 * tools, and follows `list_changed`; when the session is lost (the event stream ends, a request fails below
 * JSON-RPC) it reconnects with backoff, and meanwhile calls fail at once with the reason.
 */
export class McpSession {
  private state: State;
  private failures = 0;
  private closed = false;

  constructor(
    readonly server: McpServerRow,
    private readonly options: McpSessionOptions,
  ) {
    this.state = this.connect();
  }

  get status(): { status: McpSessionStatus; error: string | null } {
    return {
      status: this.state.status,
      error: this.state.status === 'unavailable' ? this.state.error : null,
    };
  }

  /** Resolves once connected with the tools listed, or rejects with why not. */
  ready(): Promise<Client> {
    if (this.state.status === 'connecting') return this.state.ready;
    if (this.state.status === 'connected') return Promise.resolve(this.state.client);
    return Promise.reject(this.unavailable(this.state.error));
  }

  /** On demand: lists the tools again, or reconnects now when the session is down. */
  async refresh(): Promise<void> {
    if (this.state.status === 'unavailable') {
      if (this.state.retry) clearTimeout(this.state.retry);
      this.state = this.connect();
    }
    const client = await this.ready();
    await this.listTools(client);
  }

  async call(tool: string, args: Record<string, unknown>, signal: AbortSignal): Promise<CallToolResult> {
    const client = await this.ready();
    try {
      return (await client.callTool({ name: tool, arguments: args }, CallToolResultSchema, {
        signal,
        timeout: this.options.timeoutMs,
      })) as CallToolResult;
    } catch (error) {
      if (signal.aborted) throw error;
      // A JSON-RPC error is the server answering: the session is fine (unless the SDK reports it closed).
      if (error instanceof McpError && error.code !== JsonRpcCode.ConnectionClosed)
        throw new AppError(ErrorCode.FUNCTION_FAILED, `${this.server.name}: ${error.message}`);
      const reason = describe(error);
      this.lost(client, reason);
      throw this.unavailable(reason);
    }
  }

  async close(): Promise<void> {
    this.closed = true;
    if (this.state.status === 'unavailable') {
      if (this.state.retry) clearTimeout(this.state.retry);
      return;
    }
    await this.state.client.close().catch(() => {});
  }

  private connect(): State {
    const { timeoutMs, maxResponseBytes } = this.options;
    const client = new Client(IMPLEMENTATION, {
      listChanged: {
        tools: {
          autoRefresh: false,
          onChanged: () =>
            void this.listTools(client).catch((error: unknown) =>
              this.options.logger.warn({ mcpServer: this.server.name, err: error }, 'MCP tools/list failed'),
            ),
        },
      },
    });
    const transport = new StreamableHTTPClientTransport(new URL(this.server.url), {
      requestInit: { headers: this.server.headers },
      fetch: guardedFetch(maxResponseBytes, () => this.lost(client, 'the server closed its event stream')),
      // The session as a whole is reconnected here, not the event stream alone: after a restart it is gone.
      reconnectionOptions: {
        maxRetries: 0,
        initialReconnectionDelay: FIRST_RETRY_MS,
        maxReconnectionDelay: MAX_RETRY_MS,
        reconnectionDelayGrowFactor: 2,
      },
    });
    const ready = (async () => {
      this.options.checkUrl(this.server.url);
      await client.connect(transport, { timeout: timeoutMs });
      await this.listTools(client);
      return client;
    })();
    ready.then(
      () => {
        if (this.state.status !== 'connecting' || this.state.client !== client) return;
        this.state = { status: 'connected', client };
        this.failures = 0;
        this.options.logger.info({ mcpServer: this.server.name }, 'MCP server connected');
      },
      (error: unknown) => {
        if (this.state.status !== 'connecting' || this.state.client !== client) return;
        void client.close().catch(() => {});
        this.down(describe(error));
      },
    );
    return { status: 'connecting', client, ready };
  }

  private async listTools(client: Client): Promise<void> {
    const tools: Tool[] = [];
    let cursor: string | undefined;
    for (let page = 0; page < MAX_TOOL_PAGES; page += 1) {
      const result = await client.listTools(cursor ? { cursor } : undefined, {
        timeout: this.options.timeoutMs,
      });
      tools.push(...result.tools);
      cursor = result.nextCursor;
      if (!cursor) break;
    }
    if (cursor)
      this.options.logger.warn(
        { mcpServer: this.server.name },
        `MCP tools past ${MAX_TOOL_PAGES} pages left out`,
      );
    await this.options.onTools(this.server.name, tools);
  }

  /** The connected session of `client` broke: drop it and reconnect soon. */
  private lost(client: Client, reason: string): void {
    if (this.state.status !== 'connected' || this.state.client !== client) return;
    void client.close().catch(() => {});
    this.down(reason);
  }

  private down(error: string): void {
    if (this.closed) {
      this.state = { status: 'unavailable', error: 'closed', retry: null };
      return;
    }
    const delay = Math.min(FIRST_RETRY_MS * 2 ** this.failures, MAX_RETRY_MS) * (0.5 + Math.random() / 2);
    this.failures += 1;
    const retry = setTimeout(() => {
      this.state = this.connect();
    }, delay);
    retry.unref();
    this.state = { status: 'unavailable', error, retry };
    this.options.logger.warn(
      { mcpServer: this.server.name, reason: error, retryInMs: Math.round(delay) },
      'MCP server unavailable',
    );
  }

  private unavailable(reason: string): AppError {
    return new AppError(
      ErrorCode.FUNCTION_FAILED,
      `MCP server ${this.server.name} is unavailable: ${reason}`,
    );
  }
}

function describe(error: unknown): string {
  if (!(error instanceof Error)) return String(error);
  const cause = (error as Error & { cause?: unknown }).cause;
  return cause instanceof Error ? `${error.message} (${cause.message})` : error.message;
}
