import { sql } from 'drizzle-orm';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ListConversations } from '../conversations/documents.js';
import { ExecuteFunction } from '../functions/documents.js';
import { wsClient } from '../support/clients.js';
import { startTestServer, type TestServer } from '../support/server.js';

type Body = { data?: unknown; errors?: { message: string; extensions?: Record<string, unknown> }[] };

async function post(
  url: string,
  body: string | ReadableStream<Uint8Array>,
  headers: Record<string, string> = {},
) {
  const response = await fetch(url, {
    method: 'POST',
    headers: { 'content-type': 'application/json', ...headers },
    body,
    duplex: 'half',
  } as RequestInit);
  return { status: response.status, body: (await response.json()) as Body };
}

/** A body sent with Transfer-Encoding: chunked (no Content-Length), in pieces of `pieceBytes`. */
function chunked(text: string, pieceBytes: number): ReadableStream<Uint8Array> {
  const bytes = new TextEncoder().encode(text);
  let offset = 0;
  return new ReadableStream({
    pull(controller) {
      if (offset >= bytes.length) return controller.close();
      controller.enqueue(bytes.slice(offset, offset + pieceBytes));
      offset += pieceBytes;
    },
  });
}

const nested = (open: string, close: string, depth: number, inner = '1') =>
  open.repeat(depth) + inner + close.repeat(depth);

describe('chunked request bodies', () => {
  let server: TestServer;
  beforeAll(async () => {
    server = await startTestServer({ env: { MAX_REQUEST_BYTES: '4096' } });
  });
  afterAll(() => server.close());

  it('counts a chunked body as it arrives: past MAX_REQUEST_BYTES is 413', async () => {
    const title = 'x'.repeat(6000);
    const query = `mutation { createConversation(input: {title: "${title}"}) { id } }`;
    const { status, body } = await post(server.url, chunked(JSON.stringify({ query }), 1024));
    expect(status).toBe(413);
    expect(body.errors?.[0]?.extensions?.code).toBe('BAD_USER_INPUT');
    expect(body.errors?.[0]?.message).toMatch(/MAX_REQUEST_BYTES/);
  });

  it('serves a chunked body within the limit', async () => {
    const { status, body } = await post(server.url, chunked(JSON.stringify({ query: '{ __typename }' }), 4));
    expect(status).toBe(200);
    expect(body).toEqual({ data: { __typename: 'Query' } });
  });
});

describe('nesting 5,000 levels deep', () => {
  let server: TestServer;
  beforeAll(async () => {
    server = await startTestServer();
  });
  afterAll(() => server.close());

  it('refuses a 5,000-level literal in a document with BAD_USER_INPUT', async () => {
    for (const [open, close] of [
      ['[', ']'],
      ['{a:', '}'],
    ] as const) {
      const literal = nested(open, close, 5000);
      const query = `mutation { executeFunction(input: {name: "validate_transaction", arguments: ${literal}}) { id } }`;
      const { body } = await post(server.url, JSON.stringify({ query }));
      expect(body.errors?.[0]?.extensions?.code).toBe('BAD_USER_INPUT');
      expect(body.errors?.[0]?.message).toMatch(/nests deeper than 64 levels/);
    }
  });

  it('refuses executeFunction arguments nested 5,000 levels deep with BAD_USER_INPUT', async () => {
    // Written by hand: JSON.stringify itself would overflow the stack on this value.
    const body = `{"query": ${JSON.stringify(ExecuteFunction.toString())}, "variables": {"input": {"name": "validate_transaction", "arguments": ${nested('{"a":', '}', 5000)}}}}`;
    const response = await post(server.url, body);
    expect(response.body.errors?.[0]?.extensions?.code).toBe('BAD_USER_INPUT');
    expect(response.body.errors?.[0]?.message).toMatch(/JSON nests deeper than 32 levels/);
  });

  it('records arguments text nested 5,000 levels deep as a FAILED execution', async () => {
    const text = nested('[', ']', 5000);
    const { executeFunction } = await server.data(ExecuteFunction, {
      input: { name: 'validate_transaction', arguments: text },
    });
    expect(executeFunction).toMatchObject({ status: 'FAILED', arguments: null });
    expect(executeFunction.error).toMatch(/nest deeper than 32 levels/);
  });
});

describe('every error a client can see has a code', () => {
  let server: TestServer;
  beforeAll(async () => {
    server = await startTestServer();
  });
  afterAll(() => server.close());

  const codeOf = async (body: string, headers?: Record<string, string>) =>
    (await post(server.url, body, headers)).body.errors?.[0]?.extensions?.code;
  const id = (raw: string) => Buffer.from(raw).toString('base64');

  it('an invalid global ID, or the ID of a type that cannot be loaded', async () => {
    for (const nodeId of ['zzz', id('Foo:1'), id('Query:1'), id('ContentDelta:1')]) {
      const query = `{ node(id: ${JSON.stringify(nodeId)}) { id } }`;
      expect(await codeOf(JSON.stringify({ query })), nodeId).toBe('BAD_USER_INPUT');
    }
  });

  it('a negative `first`', async () => {
    const query = ListConversations.toString();
    expect(await codeOf(JSON.stringify({ query, variables: { first: -1 } }))).toBe('BAD_USER_INPUT');
  });

  it('NaN or Infinity in variables', async () => {
    const first = JSON.stringify(ListConversations.toString());
    const temperature = JSON.stringify(
      'mutation ($t: Float) { createConversation(input: {settings: {temperature: $t}}) { id } }',
    );
    // 1e999 is how JSON spells Infinity; NaN has no JSON spelling, and Yoga refuses the body with BAD_REQUEST.
    expect(await codeOf(`{"query": ${first}, "variables": {"first": 1e999}}`)).toBe('BAD_USER_INPUT');
    expect(await codeOf(`{"query": ${temperature}, "variables": {"t": -1e999}}`)).toBe('BAD_USER_INPUT');
    expect(await codeOf(`{"query": ${first}, "variables": {"first": NaN}}`)).toBe('BAD_REQUEST');
  });

  it('the directive limit', async () => {
    const query = `{ __typename ${'@skip(if: false) '.repeat(60)}}`;
    expect(await codeOf(JSON.stringify({ query }))).toBe('BAD_USER_INPUT');
  });
});

describe('internal errors stay masked whatever NODE_ENV says', () => {
  let server: TestServer;
  const nodeEnv = process.env.NODE_ENV;
  beforeAll(async () => {
    process.env.NODE_ENV = 'development';
    server = await startTestServer();
    // A broken database: every read of conversations fails inside the driver.
    await server.app.services.database.db.execute(
      sql`alter table conversations rename to conversations_gone`,
    );
  });
  afterAll(async () => {
    process.env.NODE_ENV = nodeEnv;
    await server.close();
  });

  it('answers INTERNAL_SERVER_ERROR with no SQL, stack or original error', async () => {
    const response = await server.request(ListConversations, { first: 5 });
    expect(response.errors?.[0]).toMatchObject({
      message: 'Unexpected error.',
      extensions: { code: 'INTERNAL_SERVER_ERROR' },
    });
    expect(response.errors?.[0]?.extensions).not.toHaveProperty('originalError');
    expect(JSON.stringify(response)).not.toMatch(/relation|select|does not exist|stack|\.ts:/i);
  });
});

describe('over graphql-ws, a refused document is an error for that operation, coded, and the socket stays', () => {
  let server: TestServer;
  let client: ReturnType<typeof wsClient>;
  beforeAll(async () => {
    server = await startTestServer({ env: { GRAPHQL_MAX_DEPTH: '4' } });
    client = wsClient(server.wsUrl);
  });
  afterAll(async () => {
    await client.close();
    await server.close();
  });

  /** Resolves when the operation completes; rejects with its errors as JSON. */
  const refusal = (query: string) =>
    new Promise<void>((resolve, reject) => {
      client.client.subscribe(
        { query },
        { next: () => {}, error: (error) => reject(new Error(JSON.stringify(error))), complete: resolve },
      );
    });

  it('a syntax error, a depth beyond the limit, a document nested too deep', async () => {
    await expect(refusal('subscription { chat(')).rejects.toThrow(/"code":"GRAPHQL_PARSE_FAILED"/);
    const tooDeep = '{ conversations { edges { node { messages { edges { node { id } } } } } } }';
    await expect(refusal(tooDeep)).rejects.toThrow(/depth limit of 4.*"code":"BAD_USER_INPUT"/);
    await expect(refusal(`{ __typename ${'['.repeat(100)} }`)).rejects.toThrow(/"code":"BAD_USER_INPUT"/);
    await expect(refusal('{ __typename }')).resolves.toBeUndefined();
  });
});
