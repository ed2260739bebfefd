import type { IncomingMessage, ServerResponse } from 'node:http';
import { Server } from '@modelcontextprotocol/sdk/server/index.js';
import { StreamableHTTPServerTransport } from '@modelcontextprotocol/sdk/server/streamableHttp.js';
import {
  CallToolRequestSchema,
  type CallToolResult,
  ErrorCode as JsonRpcCode,
  ListToolsRequestSchema,
  McpError,
} from '@modelcontextprotocol/sdk/types.js';
import { ROOT_CONTEXT } from '@opentelemetry/api';
import type { Principal } from '../auth/index.js';
import { AppError, ErrorCode } from '../errors.js';
import { IMPLEMENTATION } from '../mcp/index.js';
import type { Logger } from '../observability/logger.js';
import type { Services } from '../services.js';
import type { FunctionExecutionRow } from '../storage/schema.js';
import { jsonValueProblem } from './input-check.js';
import type { OriginPolicy } from './origins.js';

export const MCP_PATH = '/mcp';

const CORS_HEADERS = {
  'access-control-allow-methods': 'POST',
  'access-control-allow-headers': 'authorization, content-type, mcp-protocol-version',
  'access-control-max-age': '600',
};

export interface McpEndpointOptions {
  services: Services;
  origins: OriginPolicy;
  logger: Logger;
  /** The body, or null once it passes MAX_REQUEST_BYTES. */
  readBody: (req: IncomingMessage) => Promise<Buffer | null>;
}

/**
 * `/mcp`: the function registry as an MCP server (Streamable HTTP, stateless: any instance behind a load
 * balancer answers any request, and no session outlives its request). The caller authenticates with an API key
 * as on /graphql, counts against CLIENT_RPM, and sees the enabled functions it may use as tools; a call goes
 * through FunctionService.executeByName like `executeFunction`: the same validation, timeout, records and stats.
 */
export function createMcpEndpoint({ services, origins, logger, readBody }: McpEndpointOptions) {
  const handle = async (req: IncomingMessage, res: ServerResponse): Promise<void> => {
    const origin = req.headers.origin;
    if (!origins.allowsOrigin(origin, req.headers.host)) return refuse(res, 403, 'Origin not allowed');
    const cors = origin ? { 'access-control-allow-origin': origin, vary: 'Origin' } : {};
    if (req.method === 'OPTIONS') return void res.writeHead(204, { ...cors, ...CORS_HEADERS }).end();
    for (const [name, value] of Object.entries(cors)) res.setHeader(name, value);
    // Stateless: no event stream to GET and no session to DELETE.
    if (req.method !== 'POST')
      return refuse(res, 405, 'Only POST: this server keeps no sessions', { allow: 'POST' });
    let principal: Principal | null;
    try {
      principal = await services.authenticator.authenticate(req.headers.authorization);
      if (!principal) throw new AppError(ErrorCode.UNAUTHENTICATED, 'Missing API key');
      await services.clientLimits.admit(principal.id);
    } catch (error) {
      if (!(error instanceof AppError)) throw error;
      if (error.code === ErrorCode.RATE_LIMITED)
        return refuse(res, 429, error.message, { 'retry-after': String(Math.ceil(error.retryAfter ?? 1)) });
      return refuse(res, 401, error.message, { 'www-authenticate': 'Bearer' });
    }
    const body = await readBody(req);
    if (!body)
      return refuse(res, 413, `Request body is larger than ${services.config.MAX_REQUEST_BYTES} bytes`);
    let message: unknown;
    try {
      message = JSON.parse(body.toString('utf8'));
    } catch {
      return refuse(res, 400, 'Parse error: the body is not JSON', {}, JsonRpcCode.ParseError);
    }
    const server = toolServer(services, principal);
    const transport = new StreamableHTTPServerTransport({
      sessionIdGenerator: undefined,
      enableJsonResponse: true,
    });
    res.on('close', () => {
      void transport.close();
      void server.close();
    });
    await server.connect(transport);
    await transport.handleRequest(req, res, message);
  };
  // Whatever failed (the database, the SDK) is logged, not shown: the client gets a coded internal error.
  return (req: IncomingMessage, res: ServerResponse): Promise<void> =>
    handle(req, res).catch((error: unknown) => {
      logger.error({ err: error }, 'MCP request failed');
      if (res.headersSent) res.destroy();
      else refuse(res, 500, 'Internal error', {}, JsonRpcCode.InternalError);
    });
}

/** An MCP server for one request of one principal: its tools are the functions it may use. */
function toolServer(services: Services, principal: Principal): Server {
  const server = new Server(IMPLEMENTATION, { capabilities: { tools: {} } });
  server.setRequestHandler(ListToolsRequestSchema, async () => ({
    tools: (await services.functions.list(principal.id))
      .filter((definition) => definition.enabled)
      .map((definition) => ({
        name: definition.name,
        description: definition.description,
        inputSchema: definition.parameters as { type: 'object' },
      })),
  }));
  server.setRequestHandler(CallToolRequestSchema, async ({ params }, extra) => {
    const problem = jsonValueProblem(
      { arguments: params.arguments ?? {} },
      services.config.MAX_MESSAGE_CHARS,
    );
    if (problem) throw new McpError(JsonRpcCode.InvalidParams, problem.message);
    try {
      const execution = await services.functions.executeByName(
        principal.id,
        params.name,
        params.arguments ?? {},
        // An MCP tool call starts its own trace: its execute_tool span is a root.
        { signal: extra.signal, trace: ROOT_CONTEXT },
      );
      return toolResult(execution);
    } catch (error) {
      // An unknown or disabled tool: a protocol error, as the MCP specification has it.
      if (error instanceof AppError && error.code === ErrorCode.BAD_USER_INPUT)
        throw new McpError(JsonRpcCode.InvalidParams, error.message);
      throw error;
    }
  });
  return server;
}

/** A FAILED execution (invalid arguments included) is a tool error the model can read and correct. */
function toolResult(execution: FunctionExecutionRow): CallToolResult {
  if (execution.status === 'failed')
    return { isError: true, content: [{ type: 'text', text: execution.error ?? 'the function failed' }] };
  const { result } = execution;
  const structured = typeof result === 'object' && result !== null && !Array.isArray(result);
  return {
    content: [{ type: 'text', text: typeof result === 'string' ? result : JSON.stringify(result) }],
    ...(structured ? { structuredContent: result as Record<string, unknown> } : {}),
  };
}

function refuse(
  res: ServerResponse,
  status: number,
  message: string,
  headers: Record<string, string> = {},
  code = -32000,
): void {
  res.writeHead(status, { 'content-type': 'application/json', ...headers });
  res.end(JSON.stringify({ jsonrpc: '2.0', error: { code, message }, id: null }));
}
