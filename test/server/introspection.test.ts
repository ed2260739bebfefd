import { getIntrospectionQuery } from 'graphql';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startTestServer, type TestServer } from '../support/server.js';

const KEY = 'sk-alice-123456';

async function query(server: TestServer, text: string, key: string | null = KEY) {
  const response = await fetch(server.url, {
    method: 'POST',
    headers: { 'content-type': 'application/json', ...(key ? { authorization: `Bearer ${key}` } : {}) },
    body: JSON.stringify({ query: text }),
  });
  return (await response.json()) as {
    data?: unknown;
    errors?: { message: string; extensions: { code: string } }[];
  };
}

async function graphiql(server: TestServer) {
  return (await fetch(server.url, { headers: { accept: 'text/html' } })).text();
}

/** An introspection query whose `ofType` chain goes `depth` levels deep. */
const deepIntrospection = (depth: number) =>
  `{ __schema { types { ${'ofType { '.repeat(depth)}name${' }'.repeat(depth)} } } }`;

describe('with API keys, introspection and GraphiQL are off unless GRAPHQL_INTROSPECTION=true', () => {
  let server: TestServer;
  beforeAll(async () => {
    server = await startTestServer({ env: { API_KEYS: `alice:${KEY}` } });
  });
  afterAll(() => server.close());

  it('refuses __schema and __type, even with a key', async () => {
    for (const text of ['{ __schema { queryType { name } } }', '{ __type(name: "Query") { name } }']) {
      const body = await query(server, text);
      expect(body.errors?.[0]?.message).toMatch(/introspection has been disabled/);
      expect(body.errors?.[0]?.extensions.code).toBe('GRAPHQL_VALIDATION_FAILED');
    }
    expect(await query(server, '{ __typename }')).toEqual({ data: { __typename: 'Query' } });
  });

  it('serves no GraphiQL', async () => {
    expect(await graphiql(server)).not.toMatch(/graphiql/i);
  });
});

describe('GRAPHQL_INTROSPECTION=true', () => {
  let server: TestServer;
  beforeAll(async () => {
    server = await startTestServer({ env: { API_KEYS: `alice:${KEY}`, GRAPHQL_INTROSPECTION: 'true' } });
  });
  afterAll(() => server.close());

  it('answers the standard introspection query and serves GraphiQL', async () => {
    const body = await query(
      server,
      getIntrospectionQuery({ descriptions: true, inputValueDeprecation: true }),
    );
    expect(body.errors).toBeUndefined();
    expect(body.data).toMatchObject({ __schema: { queryType: { name: 'Query' } } });
    expect(await graphiql(server)).toMatch(/graphiql/i);
  });

  it('limits the depth of introspection queries too', async () => {
    const body = await query(server, deepIntrospection(40));
    expect(body.errors?.[0]?.message).toMatch(/depth limit of 25/);
    expect(body.errors?.[0]?.extensions.code).toBe('BAD_USER_INPUT');
  });
});

describe('in development mode (no API_KEYS), introspection is on by default', () => {
  let server: TestServer;
  beforeAll(async () => {
    server = await startTestServer();
  });
  afterAll(() => server.close());

  it('answers introspection', async () => {
    const body = await query(server, '{ __schema { queryType { name } } }', null);
    expect(body).toEqual({ data: { __schema: { queryType: { name: 'Query' } } } });
  });
});
