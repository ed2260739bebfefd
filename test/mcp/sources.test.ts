import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import {
  CreateToolConversation,
  ExecuteFunction,
  SendWithFunctions,
  SetFunctionEnabled,
} from '../functions/documents.js';
import { startMcpServer, type TestMcpServer } from '../support/mcp-server.js';
import { startTestServer, type TestServer } from '../support/server.js';
import {
  DeleteMcpServer,
  FunctionNames,
  McpFunctionStats,
  McpServers,
  RefreshMcpServer,
  RegisterMcpServer,
} from './documents.js';

const ADMIN = 'sk-admin-mcp-sources';
const USER = 'sk-user-mcp-sources';
const OTHER = 'sk-other-mcp-sources';

let server: TestServer;
let tools: TestMcpServer;
beforeAll(async () => {
  tools = await startMcpServer();
  server = await startTestServer({
    env: {
      API_KEYS: `admin:${ADMIN}:admin,user:${USER},other:${OTHER}`,
      FUNCTION_WEBHOOK_ALLOWLIST: '127.0.0.1',
    },
  });
});
afterAll(async () => {
  await server.close();
  await tools.close();
});

const register = (name: string, url = tools.url, principals = ['admin', 'user']) =>
  server.request(
    RegisterMcpServer,
    { input: { name, url, principals, headers: [{ name: 'X-Api-Key', value: `secret-of-${name}` }] } },
    { apiKey: ADMIN },
  );

const execute = (name: string, args: unknown, apiKey = USER) =>
  server
    .data(ExecuteFunction, { input: { name, arguments: args } }, { apiKey })
    .then((data) => data.executeFunction);

describe('an MCP server as a source of functions', () => {
  it('lists its tools as MCP functions named <server>__<tool>, with their input schemas', async () => {
    const { data } = await register('listing');
    expect(data?.registerMcpServer).toMatchObject({ name: 'listing', status: 'CONNECTED', error: null });
    expect(data?.registerMcpServer?.functions.map((f) => [f.name, f.kind])).toEqual([
      ['listing__add', 'MCP'],
      ['listing__broken', 'MCP'],
      ['listing__forecast', 'MCP'],
      ['listing__nul', 'MCP'],
    ]);
    expect(data?.registerMcpServer?.functions[2]).toMatchObject({
      description: 'The weather forecast for a city',
      parameters: { type: 'object', properties: { city: { type: 'string' } }, required: ['city'] },
      enabled: true,
    });
  });

  it('sends the headers to the server and returns only their names', async () => {
    const { data } = await register('secrets');
    expect(data?.registerMcpServer?.headerNames).toEqual(['X-Api-Key']);
    expect(JSON.stringify(data)).not.toContain('secret-of-secrets');
    expect(tools.headers.some((headers) => headers['x-api-key'] === 'secret-of-secrets')).toBe(true);
  });

  it('refuses a URL that is not on the webhook allow-list', async () => {
    const response = await register('elsewhere', 'http://10.0.0.1/mcp');
    expect(response.errors?.[0]?.extensions).toMatchObject({ code: 'BAD_USER_INPUT', field: 'input.url' });
  });

  it('refuses registration by a principal that is not an admin', async () => {
    const response = await server.request(
      RegisterMcpServer,
      { input: { name: 'mine', url: tools.url, principals: ['*'] } },
      { apiKey: USER },
    );
    expect(response.errors?.[0]?.extensions?.code).toBe('FORBIDDEN');
  });

  it('refuses an unknown principal and a server name that could not prefix function names', async () => {
    const unknown = await register('nobody', tools.url, ['nobody']);
    expect(unknown.errors?.[0]?.extensions).toMatchObject({
      code: 'BAD_USER_INPUT',
      field: 'input.principals',
    });
    const badName = await register('two__parts');
    expect(badName.errors?.[0]?.extensions).toMatchObject({ code: 'BAD_USER_INPUT', field: 'input.name' });
  });

  it('calls a tool with tools/call and keeps its text as the result, with the execution and its stats', async () => {
    await register('calling');
    const execution = await execute('calling__forecast', { city: 'Paris' });
    expect(execution).toMatchObject({
      status: 'SUCCEEDED',
      result: 'Sunny in Paris',
      arguments: { city: 'Paris' },
    });
    expect(tools.calls.at(-1)).toEqual({ tool: 'forecast', arguments: { city: 'Paris' } });
    const stats = await server.data(McpFunctionStats, { name: 'calling__forecast' }, { apiKey: USER });
    expect(stats.function.stats).toMatchObject({ calls: 1, successes: 1, failures: 0 });
  });

  it('keeps structured content as the JSON result', async () => {
    await register('structured');
    const execution = await execute('structured__add', { a: 2, b: 3 });
    expect(execution).toMatchObject({ status: 'SUCCEEDED', result: { sum: 5 } });
  });

  it('fails arguments that do not match the input schema without calling the server', async () => {
    await register('validating');
    const before = tools.calls.length;
    const execution = await execute('validating__add', { a: 'two', b: 3 });
    expect(execution.status).toBe('FAILED');
    expect(execution.error).toContain('invalid arguments: arguments/a must be number');
    expect(tools.calls).toHaveLength(before);
  });

  it('records an isError result as FAILED with the text the tool gave', async () => {
    await register('erring');
    const execution = await execute('erring__broken', {});
    expect(execution).toMatchObject({ status: 'FAILED', error: 'erring: the tool broke', result: null });
  });

  it('fails a result that PostgreSQL could not store (a NUL) instead of failing the run', async () => {
    await register('hostile');
    const execution = await execute('hostile__nul', {});
    expect(execution).toMatchObject({ status: 'FAILED', result: null });
    expect(execution.error).toContain('result holds a NUL');
  });

  it('hides the functions from principals the server does not list, and refuses their calls', async () => {
    await register('private');
    const { functions } = await server.data(FunctionNames, undefined, { apiKey: OTHER });
    expect(functions.map((f) => f.name).filter((name) => name.startsWith('private__'))).toEqual([]);
    const response = await server.request(
      ExecuteFunction,
      { input: { name: 'private__forecast', arguments: { city: 'Oslo' } } },
      { apiKey: OTHER },
    );
    expect(response.errors?.[0]?.extensions?.code).toBe('BAD_USER_INPUT');
    expect(response.errors?.[0]?.message).toContain('unknown function "private__forecast"');
  });

  it('follows list_changed: a tool the server adds becomes a function', async () => {
    const listening = tools.nextEventStream();
    await register('changing');
    await listening;
    tools.addTool('shout');
    await expect
      .poll(
        async () =>
          (await server.data(FunctionNames, undefined, { apiKey: USER })).functions.map((f) => f.name),
        { timeout: 10_000 },
      )
      .toContain('changing__shout');
    expect(await execute('changing__shout', { text: 'hey' })).toMatchObject({
      status: 'SUCCEEDED',
      result: 'hey',
    });
  });

  it('keeps a disabled MCP function disabled when the tools are listed again', async () => {
    await register('toggling');
    await server.data(SetFunctionEnabled, { name: 'toggling__forecast', enabled: false }, { apiKey: ADMIN });
    const { refreshMcpServer } = await server.data(RefreshMcpServer, { name: 'toggling' }, { apiKey: ADMIN });
    expect(refreshMcpServer.status).toBe('CONNECTED');
    const response = await server.request(
      ExecuteFunction,
      { input: { name: 'toggling__forecast', arguments: { city: 'Oslo' } } },
      { apiKey: USER },
    );
    expect(response.errors?.[0]?.message).toContain('is disabled');
  });

  it('removes a server with deleteMcpServer, and its functions with it', async () => {
    await register('leaving');
    await server.data(DeleteMcpServer, { name: 'leaving' }, { apiKey: ADMIN });
    const { functions } = await server.data(FunctionNames, undefined, { apiKey: ADMIN });
    expect(functions.filter((f) => f.name.startsWith('leaving__'))).toEqual([]);
    const { mcpServers } = await server.data(McpServers, undefined, { apiKey: ADMIN });
    expect(mcpServers.map((s) => s.name)).not.toContain('leaving');
  });

  it('runs an MCP tool in the model tool loop and answers with its result', async () => {
    await register('loop');
    const { createConversation } = await server.data(
      CreateToolConversation,
      { input: { title: 'mcp' } },
      { apiKey: USER },
    );
    const { sendMessage } = await server.data(
      SendWithFunctions,
      {
        input: {
          conversationId: createConversation.id,
          content: 'What is the weather forecast in Paris?',
          functions: ['loop__forecast'],
          functionCall: { name: 'loop__forecast' },
        },
      },
      { apiKey: USER },
    );
    expect(sendMessage.status).toBe('COMPLETED');
    expect(sendMessage.functionExecutions).toEqual([
      expect.objectContaining({
        functionName: 'loop__forecast',
        status: 'SUCCEEDED',
        result: 'Sunny in Paris',
      }),
    ]);
    expect(sendMessage.message?.content).toBe('Function results: loop__forecast returned "Sunny in Paris".');
  });
});

describe('an MCP server that goes down', () => {
  it('makes its functions fail with a clear error, then works again once it is back', async () => {
    const restarting = await startMcpServer();
    const { port } = restarting;
    await register('restarting', restarting.url);
    expect(await execute('restarting__forecast', { city: 'Rome' })).toMatchObject({ status: 'SUCCEEDED' });

    await restarting.close();
    const down = await execute('restarting__forecast', { city: 'Rome' });
    expect(down.status).toBe('FAILED');
    expect(down.error).toMatch(/^MCP server restarting is unavailable: /);
    expect(await execute('calling__forecast', { city: 'Rome' })).toMatchObject({ status: 'SUCCEEDED' });

    const back = await startMcpServer(port);
    try {
      await back.nextInitialize();
      expect(await execute('restarting__forecast', { city: 'Rome' })).toMatchObject({
        status: 'SUCCEEDED',
        result: 'Sunny in Rome',
      });
    } finally {
      await back.close();
    }
  });

  it('registers while down with status UNAVAILABLE, and connects on refreshMcpServer', async () => {
    const later = await startMcpServer();
    const { port, url } = later;
    await later.close();
    const { data } = await register('later', url);
    expect(data?.registerMcpServer).toMatchObject({ status: 'UNAVAILABLE', functions: [] });
    expect(data?.registerMcpServer?.error).toBeTruthy();

    const back = await startMcpServer(port);
    try {
      const refreshed = await server.data(RefreshMcpServer, { name: 'later' }, { apiKey: ADMIN });
      expect(refreshed.refreshMcpServer).toMatchObject({ status: 'CONNECTED', error: null });
      expect(refreshed.refreshMcpServer.functions.map((f) => f.name)).toContain('later__forecast');
    } finally {
      await back.close();
    }
  });
});
