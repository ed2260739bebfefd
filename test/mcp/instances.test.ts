import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ExecuteFunction } from '../functions/documents.js';
import { startMcpServer, type TestMcpServer } from '../support/mcp-server.js';
import { startTestServer, type TestServer } from '../support/server.js';
import { createTestDatabase, postgresAvailable } from '../support/services.js';
import { RegisterMcpServer } from './documents.js';

const ADMIN = 'sk-admin-mcp-instances';
const available = await postgresAvailable();

describe.skipIf(!available)('MCP with two instances on one PostgreSQL', () => {
  let database: { url: string; drop(): Promise<void> };
  let a: TestServer;
  let b: TestServer;
  let first: TestMcpServer;
  let second: TestMcpServer;

  beforeAll(async () => {
    database = await createTestDatabase();
    [first, second] = await Promise.all([startMcpServer(), startMcpServer()]);
    const env = {
      DATABASE_URL: database.url,
      API_KEYS: `admin:${ADMIN}:admin`,
      FUNCTION_WEBHOOK_ALLOWLIST: '127.0.0.1',
    };
    a = await startTestServer({ env });
    b = await startTestServer({ env, simulator: a.simulator });
  }, 60_000);
  afterAll(async () => {
    await b?.close();
    await a?.close();
    await Promise.all([first?.close(), second?.close()]);
    await database?.drop();
  });

  const registerOn = (server: TestServer, url: string) =>
    server.data(RegisterMcpServer, { input: { name: 'shared', url, principals: ['*'] } }, { apiKey: ADMIN });
  const executeOn = (server: TestServer) =>
    server
      .data(
        ExecuteFunction,
        { input: { name: 'shared__forecast', arguments: { city: 'Lima' } } },
        { apiKey: ADMIN },
      )
      .then((data) => data.executeFunction);

  it('calls a tool on the instance that did not register its server, and follows a re-registration there', async () => {
    await registerOn(a, first.url);
    expect(await executeOn(b)).toMatchObject({ status: 'SUCCEEDED', result: 'Sunny in Lima' });
    expect(first.calls).toHaveLength(1);

    await registerOn(a, second.url);
    expect(await executeOn(b)).toMatchObject({ status: 'SUCCEEDED' });
    expect(second.calls).toHaveLength(1);
    expect(first.calls).toHaveLength(1);
  });

  it('answers a tools/call at /mcp on either instance without a session', async () => {
    const call = (server: TestServer) =>
      fetch(new URL('/mcp', server.url), {
        method: 'POST',
        headers: {
          authorization: `Bearer ${ADMIN}`,
          'content-type': 'application/json',
          accept: 'application/json, text/event-stream',
          'mcp-protocol-version': '2025-06-18',
        },
        body: JSON.stringify({
          jsonrpc: '2.0',
          id: 1,
          method: 'tools/call',
          params: { name: 'validate_transaction', arguments: { amount: 5, merchant: 'Amazon' } },
        }),
      }).then(async (response) => ({ status: response.status, body: await response.json() }));
    for (const server of [a, b]) {
      const { status, body } = await call(server);
      expect(status).toBe(200);
      expect(body).toMatchObject({ id: 1, result: { structuredContent: { approved: true } } });
    }
  });
});
