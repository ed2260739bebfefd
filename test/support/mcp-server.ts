import { randomUUID } from 'node:crypto';
import { once } from 'node:events';
import { createServer, type IncomingHttpHeaders, type IncomingMessage, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { McpServer } from '@modelcontextprotocol/sdk/server/mcp.js';
import { StreamableHTTPServerTransport } from '@modelcontextprotocol/sdk/server/streamableHttp.js';
import { isInitializeRequest } from '@modelcontextprotocol/sdk/types.js';
import { z } from 'zod';

/**
 * A real MCP server (the SDK's server side, stateful Streamable HTTP, so it can send `list_changed` on its event
 * stream) with a few tools:
 * - `forecast {city}`: text; `add {a, b}`: structured content; `broken {}`: an `isError` result; `nul {}`: a NUL.
 * `addTool(name)` adds an echo tool to every session, which notifies the clients with `list_changed`.
 */
export interface TestMcpServer {
  url: string;
  port: number;
  /** Headers of every request received. */
  headers: IncomingHttpHeaders[];
  /** Tool calls received, by tool name. */
  calls: { tool: string; arguments: unknown }[];
  /** Resolves at the next `initialize` a client sends. */
  nextInitialize(): Promise<void>;
  /** Resolves when the next client opens its event stream (GET), which carries `list_changed`. */
  nextEventStream(): Promise<void>;
  addTool(name: string): void;
  close(): Promise<void>;
}

export async function startMcpServer(port = 0): Promise<TestMcpServer> {
  const sessions = new Map<string, { transport: StreamableHTTPServerTransport; server: McpServer }>();
  const headers: IncomingHttpHeaders[] = [];
  const calls: TestMcpServer['calls'] = [];
  const extraTools: string[] = [];
  let initializeWaiters: (() => void)[] = [];
  let streamWaiters: (() => void)[] = [];

  const build = () => {
    const server = new McpServer({ name: 'test-tools', version: '1.0.0' });
    const record = (tool: string, args: unknown) => calls.push({ tool, arguments: args });
    server.registerTool(
      'forecast',
      { description: 'The weather forecast for a city', inputSchema: { city: z.string() } },
      async ({ city }) => {
        record('forecast', { city });
        return { content: [{ type: 'text', text: `Sunny in ${city}` }] };
      },
    );
    server.registerTool(
      'add',
      {
        description: 'Adds two numbers',
        inputSchema: { a: z.number(), b: z.number() },
        outputSchema: { sum: z.number() },
      },
      async ({ a, b }) => {
        record('add', { a, b });
        return { content: [{ type: 'text', text: String(a + b) }], structuredContent: { sum: a + b } };
      },
    );
    server.registerTool('broken', { description: 'Always fails', inputSchema: {} }, async () => {
      record('broken', {});
      return { isError: true, content: [{ type: 'text', text: 'the tool broke' }] };
    });
    server.registerTool(
      'nul',
      { description: 'Answers with a NUL character', inputSchema: {} },
      async () => ({
        content: [{ type: 'text', text: 'a\u0000b' }],
      }),
    );
    for (const name of extraTools) addEcho(server, name);
    return server;
  };

  const http: Server = createServer(async (req, res) => {
    headers.push(req.headers);
    const sessionId = req.headers['mcp-session-id'];
    const body = req.method === 'POST' ? JSON.parse(await readBody(req)) : undefined;
    const existing = typeof sessionId === 'string' ? sessions.get(sessionId) : undefined;
    // The event stream is open (the transport holds it) once its headers go out.
    if (existing && req.method === 'GET') {
      const writeHead = res.writeHead.bind(res) as (...args: unknown[]) => typeof res;
      res.writeHead = ((...args: unknown[]) => {
        const written = writeHead(...args);
        for (const resolve of streamWaiters.splice(0)) resolve();
        return written;
      }) as typeof res.writeHead;
    }
    if (existing) return existing.transport.handleRequest(req, res, body);
    if (sessionId !== undefined || !isInitializeRequest(body)) {
      res.writeHead(404, { 'content-type': 'application/json' });
      return res.end(
        JSON.stringify({ jsonrpc: '2.0', error: { code: -32001, message: 'Session not found' }, id: null }),
      );
    }
    const server = build();
    const transport: StreamableHTTPServerTransport = new StreamableHTTPServerTransport({
      sessionIdGenerator: randomUUID,
      onsessioninitialized: (id) => {
        sessions.set(id, { transport, server });
        for (const resolve of initializeWaiters.splice(0)) resolve();
      },
    });
    await server.connect(transport);
    await transport.handleRequest(req, res, body);
  });
  http.listen(port, '127.0.0.1');
  await once(http, 'listening');
  const address = http.address() as AddressInfo;
  return {
    url: `http://127.0.0.1:${address.port}/mcp`,
    port: address.port,
    headers,
    calls,
    nextInitialize: () => new Promise((resolve) => initializeWaiters.push(resolve)),
    nextEventStream: () => new Promise((resolve) => streamWaiters.push(resolve)),
    addTool: (name) => {
      extraTools.push(name);
      for (const { server } of sessions.values()) addEcho(server, name);
    },
    close: async () => {
      initializeWaiters = [];
      streamWaiters = [];
      await Promise.all([...sessions.values()].map(({ server }) => server.close()));
      http.closeAllConnections();
      await new Promise<void>((resolve) => http.close(() => resolve()));
    },
  };
}

function addEcho(server: McpServer, name: string) {
  server.registerTool(
    name,
    { description: 'Echoes its text', inputSchema: { text: z.string() } },
    async ({ text }) => ({
      content: [{ type: 'text', text }],
    }),
  );
}

async function readBody(req: IncomingMessage): Promise<string> {
  const chunks: Buffer[] = [];
  for await (const chunk of req) chunks.push(chunk as Buffer);
  return Buffer.concat(chunks).toString();
}
