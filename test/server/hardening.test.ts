import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ListConversations } from '../conversations/documents.js';
import { startTestServer, type TestServer } from '../support/server.js';

let server: TestServer;
beforeAll(async () => {
  server = await startTestServer({ env: { MAX_REQUEST_BYTES: '4096', GRAPHQL_MAX_DEPTH: '6' } });
});
afterAll(() => server.close());

async function post(body: string, headers: Record<string, string> = {}) {
  const response = await fetch(server.url, {
    method: 'POST',
    headers: { 'content-type': 'application/json', ...headers },
    body,
  });
  return {
    status: response.status,
    body: (await response.json()) as { errors?: { message: string; extensions?: { code?: string } }[] },
  };
}

async function conversationCount() {
  const { conversations } = await server.data(ListConversations, { first: 100 });
  return conversations.edges.length;
}

describe('bad requests get a clear error with a code and write nothing', () => {
  it('malformed GraphQL', async () => {
    const before = await conversationCount();
    const { body } = await post(
      JSON.stringify({ query: 'mutation { createConversation(input: {title: "x"} { id }' }),
    );
    expect(body.errors?.[0]?.message).toMatch(/Syntax Error/);
    expect(body.errors?.[0]?.extensions?.code).toBe('GRAPHQL_PARSE_FAILED');
    expect(await conversationCount()).toBe(before);
  });

  it('unknown fields', async () => {
    const before = await conversationCount();
    const { body } = await post(
      JSON.stringify({ query: 'mutation { createConversation(input: {title: "x", colour: "red"}) { id } }' }),
    );
    expect(body.errors?.[0]?.message).toMatch(/colour/);
    expect(body.errors?.[0]?.extensions?.code).toBe('GRAPHQL_VALIDATION_FAILED');
    expect(await conversationCount()).toBe(before);
  });

  it('an oversize body', async () => {
    const before = await conversationCount();
    const title = 'x'.repeat(5000);
    const { status, body } = await post(
      JSON.stringify({ query: `mutation { createConversation(input: {title: "${title}"}) { id } }` }),
    );
    expect(status).toBe(413);
    expect(body.errors?.[0]?.extensions?.code).toBe('BAD_USER_INPUT');
    expect(body.errors?.[0]?.message).toMatch(/MAX_REQUEST_BYTES/);
    expect(await conversationCount()).toBe(before);
  });

  it('a query deeper than the limit', async () => {
    const { body } = await post(
      JSON.stringify({
        query: '{ conversations { edges { node { messages { edges { node { toolCalls { id } } } } } } } }',
      }),
    );
    expect(body.errors?.[0]?.message).toMatch(/depth/i);
    expect(body.errors?.[0]?.extensions?.code).toBe('BAD_USER_INPUT');
  });

  it('invalid settings, naming the field', async () => {
    const before = await conversationCount();
    const { body } = await post(
      JSON.stringify({ query: 'mutation { createConversation(input: {settings: {topP: 1.5}}) { id } }' }),
    );
    expect(body.errors?.[0]?.extensions).toMatchObject({
      code: 'BAD_USER_INPUT',
      field: 'input.settings.topP',
    });
    expect(await conversationCount()).toBe(before);
  });

  it('an unknown model', async () => {
    const { body } = await post(
      JSON.stringify({ query: 'mutation { createConversation(input: {model: "gpt-imaginary"}) { id } }' }),
    );
    expect(body.errors?.[0]?.extensions).toMatchObject({
      code: 'BAD_USER_INPUT',
      field: 'input.settings.model',
    });
  });

  it('a simple cross-site request: a form post or a plain GET (CSRF prevention)', async () => {
    const formPost = await fetch(server.url, {
      method: 'POST',
      headers: { 'content-type': 'application/x-www-form-urlencoded' },
      body: 'query=%7B__typename%7D',
    });
    const plainGet = await fetch(`${server.url}?query=%7B__typename%7D`);
    for (const response of [formPost, plainGet]) {
      expect(response.status).toBe(403);
      const body = (await response.json()) as {
        errors: { message: string; extensions?: { code?: string } }[];
      };
      expect(body.errors[0]?.message).toBe('Required CSRF header(s) not present');
      expect(body.errors[0]?.extensions?.code).toBe('FORBIDDEN');
    }
    // The same GET with the header a GraphQL client sends is served.
    const withHeader = await fetch(`${server.url}?query=%7B__typename%7D`, {
      headers: { 'x-graphql-yoga-csrf': '1' },
    });
    expect(await withHeader.json()).toEqual({ data: { __typename: 'Query' } });
  });
});

describe('the HTTP surface', () => {
  it('answers health and readiness', async () => {
    const base = server.url.replace('/graphql', '');
    expect((await fetch(`${base}/healthz`)).status).toBe(200);
    expect(await (await fetch(`${base}/readyz`)).json()).toEqual({ status: 'ready' });
  });

  it('serves GraphiQL to a browser at /graphql, with subscriptions over WebSocket', async () => {
    const response = await fetch(server.url, { headers: { accept: 'text/html' } });
    const html = await response.text();
    expect(response.headers.get('content-type')).toMatch(/text\/html/);
    expect(html).toMatch(/graphiql/i);
    expect(html).toMatch(/"subscriptionsProtocol":"WS"/);
  });
});
