import { once } from 'node:events';
import { mkdtempSync, rmSync } from 'node:fs';
import { createServer, type IncomingMessage, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startTestServer, type TestServer } from '../support/server.js';
import {
  CreateToolConversation,
  ExecuteFunction,
  ExecuteFunctionInline,
  RegisterApprovalFunction,
  RegisterFunction,
  RegisterFunctionInline,
  SendToApprove,
  SendWithFunctions,
} from './documents.js';

const ADMIN = 'sk-admin-webhooks';
const USER = 'sk-user-webhooks';
const orderParameters = {
  type: 'object',
  properties: { item: { type: 'string' } },
  required: ['item'],
};

/**
 * A webhook receiver: /echo answers with what it got, /slow never answers (until the caller hangs up), /redirect
 * sends the caller on to /echo.
 */
async function startHooks() {
  const received: unknown[] = [];
  const paths: string[] = [];
  const server: Server = createServer(async (req, res) => {
    const body = JSON.parse(await readBody(req)) as unknown;
    received.push(body);
    paths.push(req.url ?? '');
    if (req.url === '/slow') return;
    if (req.url === '/redirect') {
      res.writeHead(307, { location: '/echo' });
      res.end();
      return;
    }
    res.writeHead(200, { 'content-type': 'application/json' });
    res.end(JSON.stringify({ received: body }));
  });
  server.listen(0, '127.0.0.1');
  await once(server, 'listening');
  const { port } = server.address() as AddressInfo;
  return {
    url: `http://127.0.0.1:${port}`,
    received,
    paths,
    close: () => {
      server.closeAllConnections();
      return new Promise<void>((resolve) => server.close(() => resolve()));
    },
  };
}

async function readBody(req: IncomingMessage): Promise<string> {
  const chunks: Buffer[] = [];
  for await (const chunk of req) chunks.push(chunk as Buffer);
  return Buffer.concat(chunks).toString();
}

let server: TestServer;
let hooks: Awaited<ReturnType<typeof startHooks>>;
beforeAll(async () => {
  hooks = await startHooks();
  server = await startTestServer({
    env: {
      API_KEYS: `admin:${ADMIN}:admin,user:${USER}`,
      FUNCTION_WEBHOOK_ALLOWLIST: '127.0.0.1',
      FUNCTION_TIMEOUT_MS: '300',
    },
  });
});
afterAll(async () => {
  await server.close();
  await hooks.close();
});

const register = (name: string, webhookUrl: string, parameters: unknown = orderParameters, apiKey = ADMIN) =>
  server.request(
    RegisterFunction,
    { input: { name, description: 'Place an order for an item', parameters, webhookUrl } },
    { apiKey },
  );

describe('webhook functions', () => {
  it('on an allowed loopback URL, get the validated arguments and return the JSON reply', async () => {
    const registered = await register('order_echo', `${hooks.url}/echo`);
    expect(registered.data?.registerFunction).toEqual({
      name: 'order_echo',
      description: 'Place an order for an item',
      parameters: orderParameters,
      enabled: true,
      kind: 'WEBHOOK',
    });
    const { executeFunction } = await server.data(
      ExecuteFunction,
      { input: { name: 'order_echo', arguments: { item: 'book', unknown: 1 } } },
      { apiKey: USER },
    );
    expect(executeFunction).toMatchObject({ status: 'SUCCEEDED', result: { received: { item: 'book' } } });
    expect(hooks.received.at(-1)).toEqual({ item: 'book' });
  });

  it('take parameters and arguments written as JSON literals in the document', async () => {
    const registered = await server.data(
      RegisterFunctionInline,
      { name: 'order_inline', webhookUrl: `${hooks.url}/echo` },
      { apiKey: ADMIN },
    );
    expect(registered.registerFunction.parameters).toEqual({
      type: 'object',
      properties: { item: { type: 'string' }, quantity: { type: 'integer', default: 1 } },
      required: ['item'],
    });
    const { executeFunction } = await server.data(
      ExecuteFunctionInline,
      { name: 'order_inline' },
      { apiKey: USER },
    );
    expect(executeFunction).toEqual({
      status: 'SUCCEEDED',
      arguments: { item: 'book', quantity: 1 },
      result: { received: { item: 'book', quantity: 1 } },
    });
  });

  it('are called by the model in the tool loop', async () => {
    await register('order_item', `${hooks.url}/echo`);
    const { createConversation } = await server.data(
      CreateToolConversation,
      { input: { title: 'orders' } },
      { apiKey: USER },
    );
    const { sendMessage } = await server.data(
      SendWithFunctions,
      {
        input: {
          conversationId: createConversation.id,
          content: 'Order item: book',
          functions: ['order_item'],
          functionCall: { name: 'order_item' },
        },
      },
      { apiKey: USER },
    );
    expect(sendMessage.functionExecutions[0]).toMatchObject({
      status: 'SUCCEEDED',
      result: { received: { item: 'book' } },
    });
    expect(sendMessage.message?.content).toBe(
      'Function results: order_item returned {"received":{"item":"book"}}.',
    );
  });

  it('registered with requiresApproval wait for a decision before a call of the model reaches the URL', async () => {
    const calls = hooks.received.length;
    const { registerFunction } = await server.data(
      RegisterApprovalFunction,
      {
        input: {
          name: 'order_approved',
          description: 'Place an order for an item',
          parameters: orderParameters,
          webhookUrl: `${hooks.url}/echo`,
          requiresApproval: true,
        },
      },
      { apiKey: ADMIN },
    );
    expect(registerFunction).toEqual({ name: 'order_approved', requiresApproval: true });
    const { createConversation } = await server.data(
      CreateToolConversation,
      { input: { title: 'orders' } },
      { apiKey: USER },
    );
    const { sendMessage } = await server.data(
      SendToApprove,
      {
        input: {
          conversationId: createConversation.id,
          content: 'Order item: book',
          functions: ['order_approved'],
          functionCall: { name: 'order_approved' },
        },
      },
      { apiKey: USER },
    );
    expect(sendMessage).toMatchObject({
      status: 'AWAITING_APPROVAL',
      functionExecutions: [],
      toolApprovals: [{ functionName: 'order_approved', arguments: { item: 'book' } }],
    });
    expect(hooks.received.length).toBe(calls);
  });

  it('on a host not on the allow-list are refused at registration', async () => {
    const response = await register('order_elsewhere', 'http://example.com/hook');
    expect(response.errors?.[0]?.extensions).toMatchObject({
      code: 'BAD_USER_INPUT',
      field: 'input.webhookUrl',
    });
    expect(response.errors?.[0]?.message).toContain(
      'http://example.com is not on FUNCTION_WEBHOOK_ALLOWLIST',
    );
  });

  it('that answer too slowly fail with a timeout', async () => {
    await register('order_slow', `${hooks.url}/slow`);
    const { executeFunction } = await server.data(
      ExecuteFunction,
      { input: { name: 'order_slow', arguments: { item: 'book' } } },
      { apiKey: USER },
    );
    expect(executeFunction).toMatchObject({
      status: 'FAILED',
      error: 'timed out after 300 ms',
      result: null,
    });
  });

  it('that redirect fail, and the redirect is not followed, even to an allowed URL', async () => {
    await register('order_redirect', `${hooks.url}/redirect`);
    const before = hooks.paths.length;
    const { executeFunction } = await server.data(
      ExecuteFunction,
      { input: { name: 'order_redirect', arguments: { item: 'book' } } },
      { apiKey: USER },
    );
    expect(executeFunction).toMatchObject({ status: 'FAILED', error: expect.stringContaining('redirect') });
    expect(hooks.paths.slice(before)).toEqual(['/redirect']);
  });

  it('need the admin scope to register', async () => {
    const response = await register('order_user', `${hooks.url}/echo`, orderParameters, USER);
    expect(response.errors?.[0]?.extensions?.code).toBe('FORBIDDEN');
  });

  it('cannot take the name of a built-in function', async () => {
    const response = await register('validate_transaction', `${hooks.url}/echo`);
    expect(response.errors?.[0]?.extensions).toMatchObject({ code: 'BAD_USER_INPUT', field: 'input.name' });
  });

  it('need parameters that are a valid JSON Schema', async () => {
    const response = await register('order_bad_schema', `${hooks.url}/echo`, {
      type: 'object',
      properties: { item: { type: 'text' } },
    });
    expect(response.errors?.[0]?.extensions).toMatchObject({
      code: 'BAD_USER_INPUT',
      field: 'input.parameters',
    });
    expect(response.errors?.[0]?.message).toContain('not a valid JSON Schema');
  });

  it('need parameters of type object', async () => {
    const response = await register('order_array', `${hooks.url}/echo`, { type: 'array' });
    expect(response.errors?.[0]?.message).toBe('input.parameters: must have "type": "object" at the top');
  });
});

describe('the webhook allow-list', () => {
  it('is checked again on every call: a function registered before the list shrank is refused', async () => {
    const directory = mkdtempSync(join(tmpdir(), 'agent-platform-webhooks-'));
    const env = { API_KEYS: `admin:${ADMIN}:admin`, DATABASE_URL: directory };
    const execute = (target: TestServer) =>
      target.data(
        ExecuteFunction,
        { input: { name: 'order_shrunk', arguments: { item: 'book' } } },
        { apiKey: ADMIN },
      );
    try {
      const before = await startTestServer({ env: { ...env, FUNCTION_WEBHOOK_ALLOWLIST: '127.0.0.1' } });
      await before.data(
        RegisterFunction,
        {
          input: {
            name: 'order_shrunk',
            description: 'Place an order for an item',
            parameters: orderParameters,
            webhookUrl: `${hooks.url}/echo`,
          },
        },
        { apiKey: ADMIN },
      );
      expect((await execute(before)).executeFunction.status).toBe('SUCCEEDED');
      await before.close();

      const after = await startTestServer({
        env: { ...env, FUNCTION_WEBHOOK_ALLOWLIST: 'hooks.example.com' },
      });
      const calls = hooks.paths.length;
      const { executeFunction } = await execute(after);
      await after.close();
      expect(executeFunction).toMatchObject({
        status: 'FAILED',
        error: expect.stringContaining('not on FUNCTION_WEBHOOK_ALLOWLIST'),
      });
      expect(hooks.paths).toHaveLength(calls);
    } finally {
      rmSync(directory, { recursive: true, force: true });
    }
  });
});
