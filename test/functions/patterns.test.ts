import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startTestServer, type TestServer } from '../support/server.js';
import { ExecuteFunction, RegisterFunction } from './documents.js';

/** Never called: every call here fails argument validation before the webhook would be reached. */
const WEBHOOK_URL = 'http://127.0.0.1:9/never-called';
const withPattern = (pattern: string) => ({
  type: 'object',
  properties: { code: { type: 'string', pattern } },
  required: ['code'],
});

let server: TestServer;
beforeAll(async () => {
  server = await startTestServer({ env: { FUNCTION_WEBHOOK_ALLOWLIST: '127.0.0.1' } });
});
afterAll(() => server.close());

const register = (name: string, pattern: string) =>
  server.request(RegisterFunction, {
    input: { name, description: 'pattern check', parameters: withPattern(pattern), webhookUrl: WEBHOOK_URL },
  });

describe('schema patterns run on a linear-time engine (RE2)', () => {
  it('checks ^(a+)+$ against 30,000 characters without backtracking, and the server stays responsive', async () => {
    expect((await register('nested_quantifier', '^(a+)+$')).errors).toBeUndefined();
    // A backtracking engine needs about 2^n steps here: n = 30 took seconds, 30,000 would never end.
    const code = `${'a'.repeat(30_000)}!`;
    const execution = server.data(ExecuteFunction, {
      input: { name: 'nested_quantifier', arguments: { code } },
    });
    const health = await fetch(server.url.replace('/graphql', '/healthz'));
    expect(health.status).toBe(200);
    const { executeFunction } = await execution;
    expect(executeFunction).toMatchObject({
      status: 'FAILED',
      error: expect.stringMatching(/must match pattern/),
    });
  });

  it('keeps JavaScript pattern semantics: unanchored search, classes, unicode escapes', async () => {
    expect((await register('sku', '[A-Z]{3}-\\d{4}\\u00e9?')).errors).toBeUndefined();
    const run = async (code: string) =>
      (await server.data(ExecuteFunction, { input: { name: 'sku', arguments: { code } } })).executeFunction
        .error;
    expect(await run('order ABC-1234 please')).not.toMatch(/pattern/);
    expect(await run('abc-12')).toMatch(/must match pattern/);
  });

  it('refuses at registration a pattern RE2 cannot run in linear time (backreferences)', async () => {
    const { errors } = await register('backreference', '^(a+)\\1$');
    expect(errors?.[0]?.extensions?.code).toBe('BAD_USER_INPUT');
    expect(errors?.[0]?.message).toMatch(/cannot be compiled/);
  });
});
