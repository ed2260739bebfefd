import { Client } from '@modelcontextprotocol/sdk/client/index.js';
import {
  StreamableHTTPClientTransport,
  StreamableHTTPError,
} from '@modelcontextprotocol/sdk/client/streamableHttp.js';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startTestServer, type TestServer } from '../support/server.js';
import { McpFunctionStats } from './documents.js';

const USER = 'sk-user-mcp-endpoint';

let server: TestServer;
let mcpUrl: URL;
beforeAll(async () => {
  server = await startTestServer({
    env: { API_KEYS: `user:${USER}`, MAX_REQUEST_BYTES: '4096', CORS_ORIGINS: 'https://app.example.com' },
  });
  mcpUrl = new URL('/mcp', server.url);
});
afterAll(() => server.close());

async function connect(apiKey?: string): Promise<Client> {
  const client = new Client({ name: 'test-client', version: '1.0.0' });
  const headers = apiKey ? { authorization: `Bearer ${apiKey}` } : undefined;
  await client.connect(new StreamableHTTPClientTransport(mcpUrl, { requestInit: { headers } }));
  return client;
}

const post = (body: string, headers: Record<string, string> = {}) =>
  fetch(mcpUrl, {
    method: 'POST',
    headers: {
      authorization: `Bearer ${USER}`,
      'content-type': 'application/json',
      accept: 'application/json, text/event-stream',
      ...headers,
    },
    body,
  });

describe('the registry served over MCP at /mcp', () => {
  it('lists the functions the key may use as tools, with their JSON Schemas', async () => {
    const client = await connect(USER);
    try {
      const { tools } = await client.listTools();
      const validate = tools.find((tool) => tool.name === 'validate_transaction');
      expect(validate?.inputSchema).toMatchObject({
        type: 'object',
        required: expect.arrayContaining(['amount']),
      });
    } finally {
      await client.close();
    }
  });

  it('calls a function as a tool, recorded like any execution', async () => {
    const client = await connect(USER);
    try {
      const result = await client.callTool({
        name: 'validate_transaction',
        arguments: { amount: 12, merchant: 'Amazon' },
      });
      expect(result.isError).toBeFalsy();
      expect(result.structuredContent).toEqual({ approved: true, violations: [], remainingBudget: null });
      const stats = await server.data(McpFunctionStats, { name: 'validate_transaction' }, { apiKey: USER });
      expect(stats.function.stats.successes).toBeGreaterThanOrEqual(1);
    } finally {
      await client.close();
    }
  });

  it('answers invalid arguments with an isError result naming the problem', async () => {
    const client = await connect(USER);
    try {
      const result = await client.callTool({ name: 'validate_transaction', arguments: { amount: 'lots' } });
      expect(result.isError).toBe(true);
      expect(JSON.stringify(result.content)).toContain('invalid arguments');
    } finally {
      await client.close();
    }
  });

  it('answers an unknown tool with a JSON-RPC invalid-params error', async () => {
    const client = await connect(USER);
    try {
      await expect(client.callTool({ name: 'no_such_tool', arguments: {} })).rejects.toThrow(
        /unknown function/,
      );
    } finally {
      await client.close();
    }
  });

  it('refuses string arguments that could not be stored (a NUL) with a JSON-RPC invalid-params error', async () => {
    const client = await connect(USER);
    try {
      await expect(
        client.callTool({ name: 'validate_transaction', arguments: { amount: 1, merchant: 'a\u0000b' } }),
      ).rejects.toThrow(/NUL/);
    } finally {
      await client.close();
    }
  });

  it('refuses a client without an API key with 401', async () => {
    const refused = connect();
    await expect(refused).rejects.toBeInstanceOf(StreamableHTTPError);
    await expect(refused).rejects.toMatchObject({ code: 401 });
  });

  it('refuses a wrong API key with 401', async () => {
    await expect(connect('sk-not-a-key')).rejects.toMatchObject({ code: 401 });
  });

  it('refuses a page from an origin that is not allowed with 403', async () => {
    const response = await post('{}', { origin: 'https://evil.example' });
    expect(response.status).toBe(403);
  });

  it('answers a preflight from an origin on CORS_ORIGINS with the headers an MCP client sends', async () => {
    const response = await fetch(mcpUrl, {
      method: 'OPTIONS',
      headers: { origin: 'https://app.example.com', 'access-control-request-method': 'POST' },
    });
    expect(response.status).toBe(204);
    expect(response.headers.get('access-control-allow-origin')).toBe('https://app.example.com');
    expect(response.headers.get('access-control-allow-headers')).toContain('authorization');
  });

  it('refuses a body over MAX_REQUEST_BYTES with 413', async () => {
    const response = await post(JSON.stringify({ padding: 'x'.repeat(5000) }));
    expect(response.status).toBe(413);
  });

  it('refuses GET, as a stateless server with no event stream, with 405', async () => {
    const response = await fetch(mcpUrl, {
      headers: { authorization: `Bearer ${USER}`, accept: 'text/event-stream' },
    });
    expect(response.status).toBe(405);
  });
});
