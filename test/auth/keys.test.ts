import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { graphql } from '../gql/index.js';
import { startTestServer, type TestServer } from '../support/server.js';

const ALICE = 'sk-alice-0123456789';
const BOB = 'sk-bob-0123456789';

const Viewer = graphql(`
  query KeysViewer { viewer { name scopes } }
`);
const ApiKeys = graphql(`
  query ApiKeys { apiKeys { id prefix source principal { name scopes } createdAt lastUsedAt } }
`);
const CreateApiKey = graphql(`
  mutation CreateApiKey($input: CreateApiKeyInput!) {
    createApiKey(input: $input) { key principal { name scopes } }
  }
`);
const RevokeApiKey = graphql(`
  mutation RevokeApiKey($input: RevokeApiKeyInput!) { revokeApiKey(input: $input) { id prefix } }
`);

let directory: string;
let server: TestServer;
// One PGlite directory across restarts, as a deployment keeps its database.
const start = (apiKeys: string) =>
  startTestServer({ env: { DATABASE_URL: join(directory, 'db'), API_KEYS: apiKeys } });

beforeAll(async () => {
  directory = await mkdtemp(join(tmpdir(), 'agent-platform-keys-'));
  server = await start(`alice:${ALICE}:admin,bob:${BOB}`);
});
afterAll(async () => {
  await server.close();
  await rm(directory, { recursive: true, force: true });
});

describe('API keys', () => {
  it('lists keys with prefix, principal, creation and last use, never the key', async () => {
    await server.data(Viewer, {}, { apiKey: BOB });
    const response = await server.request(ApiKeys, {}, { apiKey: ALICE });
    expect(JSON.stringify(response)).not.toContain(BOB);
    const bob = response.data?.apiKeys.find((key) => key.principal.name === 'bob');
    expect(bob).toMatchObject({ prefix: BOB.slice(0, 7), source: 'CONFIG', principal: { scopes: [] } });
    expect(Date.parse(bob?.lastUsedAt ?? '')).toBeGreaterThan(Date.parse(bob?.createdAt ?? ''));
  });

  it('lets only admins list and revoke keys', async () => {
    expect((await server.request(ApiKeys, {}, { apiKey: BOB })).errors?.[0]?.extensions?.code).toBe(
      'FORBIDDEN',
    );
    const revoke = await server.request(RevokeApiKey, { input: { id: 'x' } }, { apiKey: BOB });
    expect(revoke.errors?.[0]?.extensions?.code).toBe('FORBIDDEN');
  });

  it('refuses createApiKey that would change an existing principal’s scopes, and keeps them', async () => {
    const { errors } = await server.request(
      CreateApiKey,
      { input: { principalName: 'bob', scopes: ['admin'] } },
      { apiKey: ALICE },
    );
    expect(errors?.[0]?.extensions).toMatchObject({ code: 'BAD_USER_INPUT', field: 'input.scopes' });
    expect((await server.data(Viewer, {}, { apiKey: BOB })).viewer.scopes).toEqual([]);
  });

  it('adds a key with the existing scopes when scopes are omitted', async () => {
    const { createApiKey } = await server.data(
      CreateApiKey,
      { input: { principalName: 'bob' } },
      { apiKey: ALICE },
    );
    expect(createApiKey.principal).toEqual({ name: 'bob', scopes: [] });
    expect((await server.data(Viewer, {}, { apiKey: createApiKey.key })).viewer.name).toBe('bob');
  });

  it('revokeApiKey makes a key stop working at once', async () => {
    const { createApiKey } = await server.data(
      CreateApiKey,
      { input: { principalName: 'carol', scopes: [] } },
      { apiKey: ALICE },
    );
    await server.data(Viewer, {}, { apiKey: createApiKey.key });
    const { apiKeys } = await server.data(ApiKeys, {}, { apiKey: ALICE });
    const carol = apiKeys.find((key) => key.principal.name === 'carol');
    await server.data(RevokeApiKey, { input: { id: carol?.id ?? '' } }, { apiKey: ALICE });
    const after = await server.request(Viewer, {}, { apiKey: createApiKey.key });
    expect(after.errors?.[0]?.extensions?.code).toBe('UNAUTHENTICATED');
    const again = await server.request(RevokeApiKey, { input: { id: carol?.id ?? '' } }, { apiKey: ALICE });
    expect(again.errors?.[0]?.extensions?.code).toBe('NOT_FOUND');
  });

  it('a key removed from API_KEYS stops working at the next start; created keys stay', async () => {
    const { createApiKey } = await server.data(
      CreateApiKey,
      { input: { principalName: 'dave' } },
      { apiKey: ALICE },
    );
    await server.close();
    server = await start(`alice:${ALICE}:admin`);
    const bob = await server.request(Viewer, {}, { apiKey: BOB });
    expect(bob.errors?.[0]?.extensions?.code).toBe('UNAUTHENTICATED');
    expect((await server.data(Viewer, {}, { apiKey: ALICE })).viewer.name).toBe('alice');
    expect((await server.data(Viewer, {}, { apiKey: createApiKey.key })).viewer.name).toBe('dave');
  });
});
