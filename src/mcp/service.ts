import type { Tool } from '@modelcontextprotocol/sdk/types.js';
import { z } from 'zod';
import type { PrincipalStore } from '../auth/index.js';
import { AppError, badInput, ErrorCode, notFound } from '../errors.js';
import type { ArgumentValidator, FunctionStore, McpCaller, WebhookCaller } from '../functions/index.js';
import type { Logger } from '../observability/logger.js';
import type { FunctionDefinitionRow, McpServerRow } from '../storage/schema.js';
import { parseInput } from '../validation.js';
import { McpSession, type McpSessionStatus } from './session.js';
import type { McpServerStore } from './store.js';
import { MCP_SERVER_NAME, resultValue, toolDefinitions } from './tools.js';

export const EVERY_PRINCIPAL = '*';

/** What the API shows of a server: its header names, never their values. */
export interface McpServerView {
  name: string;
  url: string;
  headerNames: string[];
  /** Principal names, or `*`. */
  principals: string[];
  status: McpSessionStatus;
  error: string | null;
  createdAt: Date;
  updatedAt: Date;
}

export interface RegisterMcpServerInput {
  name: string;
  url: string;
  headers?: { name: string; value: string }[] | null;
  principals: string[];
}

/** Headers the transport sets itself, or that would change what the request is. */
const RESERVED_HEADERS = new Set([
  'accept',
  'connection',
  'content-length',
  'content-type',
  'host',
  'last-event-id',
  'mcp-protocol-version',
  'mcp-session-id',
  'transfer-encoding',
]);

const registerSchema = z.object({
  name: z.string().regex(MCP_SERVER_NAME, 'letters and digits, single - or _ between them, at most 32'),
  url: z.string().max(2048),
  headers: z
    .array(
      z.object({
        name: z
          .string()
          .regex(/^[A-Za-z0-9!#$%&'*+.^_`|~-]{1,64}$/, 'not a header name')
          .refine((name) => !RESERVED_HEADERS.has(name.toLowerCase()), 'is set by the MCP transport'),
        // Printable ASCII and tabs: no line breaks to split the request with.
        value: z
          .string()
          .max(4096)
          .regex(/^[\t\x20-\x7e]*$/, 'only printable ASCII'),
      }),
    )
    .max(16)
    .nullish(),
  principals: z.array(z.string().min(1).max(200)).min(1, 'name at least one principal, or "*"').max(100),
});

export interface McpServersOptions {
  store: McpServerStore;
  functions: FunctionStore;
  validator: ArgumentValidator;
  webhooks: WebhookCaller;
  principals: PrincipalStore;
  timeoutMs: number;
  maxResponseBytes: number;
  logger: Logger;
}

/**
 * MCP servers as a source of functions: registration (with the webhook allow-list), one session per server on
 * this instance, and the calls of their tools, which FunctionService makes like any other function's.
 */
export class McpServers implements McpCaller {
  private readonly sessions = new Map<string, McpSession>();

  constructor(private readonly deps: McpServersOptions) {}

  /** Opens a session to every registered server, without waiting for them: a server that is down delays nothing. */
  async start(): Promise<void> {
    for (const server of await this.deps.store.list()) this.sessionFor(server);
  }

  async register(input: RegisterMcpServerInput): Promise<McpServerView> {
    const { name, url, headers, principals } = parseInput(registerSchema, input);
    const allowedUrl = this.deps.webhooks.allowedUrl(url, 'input.url');
    const row = await this.deps.store.upsert({
      name,
      url: allowedUrl,
      headers: Object.fromEntries((headers ?? []).map((header) => [header.name, header.value])),
      principals: await this.principalIds(principals),
    });
    // The tools are listed before the answer when the server is up; when it is not, the view says why.
    await this.sessionFor(row)
      .ready()
      .catch(() => {});
    return this.view(row);
  }

  async refresh(name: string): Promise<McpServerView> {
    const row = await this.row(name);
    await this.sessionFor(row)
      .refresh()
      .catch(() => {});
    return this.view(row);
  }

  async delete(name: string): Promise<McpServerView> {
    const view = await this.view(await this.row(name));
    if (!(await this.deps.store.delete(name))) throw notFound('McpServer', name);
    await this.sessions.get(name)?.close();
    this.sessions.delete(name);
    return view;
  }

  async list(): Promise<McpServerView[]> {
    return Promise.all((await this.deps.store.list()).map((row) => this.view(row)));
  }

  functionsOf(server: string): Promise<FunctionDefinitionRow[]> {
    return this.deps.functions.mcpDefinitions(server);
  }

  async call(definition: FunctionDefinitionRow, args: Record<string, unknown>, signal: AbortSignal) {
    const server = definition.mcpServer && (await this.deps.store.get(definition.mcpServer));
    if (!server || !definition.mcpTool)
      throw new AppError(
        ErrorCode.FUNCTION_FAILED,
        `${definition.name}: its MCP server is no longer registered`,
      );
    const result = await this.sessionFor(server).call(definition.mcpTool, args, signal);
    return resultValue(server.name, result);
  }

  async close(): Promise<void> {
    await Promise.all([...this.sessions.values()].map((session) => session.close()));
    this.sessions.clear();
  }

  /** The session for the server as stored: a registration changed on any instance gets a new one here. */
  private sessionFor(server: McpServerRow): McpSession {
    const current = this.sessions.get(server.name);
    if (current && current.server.updatedAt.getTime() === server.updatedAt.getTime()) return current;
    void current?.close();
    const session = new McpSession(server, {
      timeoutMs: this.deps.timeoutMs,
      maxResponseBytes: this.deps.maxResponseBytes,
      onTools: (name, tools) => this.storeTools(name, tools),
      checkUrl: (url) => this.deps.webhooks.allowedUrl(url, 'url'),
      logger: this.deps.logger,
    });
    this.sessions.set(server.name, session);
    return session;
  }

  private async storeTools(server: string, tools: Tool[]): Promise<void> {
    const { definitions, skipped } = toolDefinitions(server, tools, this.deps.validator);
    const stored = new Set(await this.deps.functions.replaceMcpTools(server, definitions));
    for (const { tool, reason } of skipped)
      this.deps.logger.warn({ mcpServer: server, tool, reason }, 'MCP tool left out');
    for (const definition of definitions.filter((d) => !stored.has(d.name)))
      this.deps.logger.warn(
        { mcpServer: server, function: definition.name },
        'MCP tool left out: its name is taken',
      );
  }

  private async principalIds(names: string[]): Promise<string[]> {
    if (names.includes(EVERY_PRINCIPAL)) return [EVERY_PRINCIPAL];
    const found = await this.deps.principals.byNames(names);
    const missing = names.find((name) => !found.some((principal) => principal.name === name));
    if (missing !== undefined)
      throw badInput('input.principals', `no principal named ${JSON.stringify(missing)}`);
    return found.map((principal) => principal.id);
  }

  private async row(name: string): Promise<McpServerRow> {
    const row = await this.deps.store.get(name);
    if (!row) throw notFound('McpServer', name);
    return row;
  }

  private async view(row: McpServerRow): Promise<McpServerView> {
    const principals = row.principals.includes(EVERY_PRINCIPAL)
      ? [EVERY_PRINCIPAL]
      : (await this.deps.principals.byIds(row.principals)).map((principal) => principal.name);
    const { status, error } = this.sessionFor(row).status;
    return {
      name: row.name,
      url: row.url,
      headerNames: Object.keys(row.headers),
      principals,
      status,
      error,
      createdAt: row.createdAt,
      updatedAt: row.updatedAt,
    };
  }
}
