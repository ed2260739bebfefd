import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { CreateConversation } from '../conversations/documents.js';
import { sample, scrape } from '../observability/support.js';
import { wsClient } from '../support/clients.js';
import { startTestServer, type TestServer } from '../support/server.js';
import { AnyConversation, CachedChat } from './documents.js';

const ALICE = 'sk-alice-123456';
const BOB = 'sk-bob-654321';
const CAROL = 'sk-carol-314159';
const DAVE = 'sk-dave-271828';

describe('client requests per window (CLIENT_RPM)', () => {
  let server: TestServer;
  beforeAll(async () => {
    server = await startTestServer({
      env: { API_KEYS: `alice:${ALICE},bob:${BOB},carol:${CAROL},dave:${DAVE}`, CLIENT_RPM: '3' },
    });
  });
  afterAll(() => server.close());

  it('answers RATE_LIMITED with retryAfter, as HTTP 429 with Retry-After, once a key is over', async () => {
    for (let i = 0; i < 3; i++) await server.data(AnyConversation, undefined, { apiKey: ALICE });
    const response = await fetch(server.url, {
      method: 'POST',
      headers: { 'content-type': 'application/json', authorization: `Bearer ${ALICE}` },
      body: JSON.stringify({ query: AnyConversation.toString() }),
    });
    const body = (await response.json()) as {
      errors: { extensions: { code: string; retryAfter: number } }[];
    };
    expect(response.status).toBe(429);
    // One operation comes back every 60 s / 3 = 20 s.
    expect(Number(response.headers.get('retry-after'))).toBe(20);
    expect(body.errors[0]?.extensions.code).toBe('RATE_LIMITED');
    expect(body.errors[0]?.extensions.retryAfter).toBeGreaterThan(19);
    const metrics = await (await scrape(server.url)).text();
    expect(sample(metrics, 'agent_rate_limit_rejections_total', { limit: 'client_requests' })).toBe(1);
  });

  it('counts each key on its own', async () => {
    for (let i = 0; i < 3; i++) await server.data(AnyConversation, undefined, { apiKey: CAROL });
    const over = await server.request(AnyConversation, undefined, { apiKey: CAROL });
    expect(over.errors?.[0]?.extensions?.code).toBe('RATE_LIMITED');
    const other = await server.request(AnyConversation, undefined, { apiKey: DAVE });
    expect(other.errors).toBeUndefined();
  });
});

describe('client streams (CLIENT_MAX_STREAMS)', () => {
  let server: TestServer;
  beforeAll(async () => {
    server = await startTestServer({
      env: { API_KEYS: `alice:${ALICE},bob:${BOB}`, CLIENT_MAX_STREAMS: '1' },
    });
  });
  afterAll(() => server.close());

  const conversation = async (apiKey: string) =>
    (await server.data(CreateConversation, { input: { title: 'streams' } }, { apiKey })).createConversation
      .id;

  it('refuses a stream beyond the limit with RATE_LIMITED, and takes one again once a stream ends', async () => {
    server.simulator.setLatency({ firstTokenMs: 60_000 });
    const client = wsClient(server.wsUrl, ALICE);
    const conversationId = await conversation(ALICE);
    const open = client.subscribe(CachedChat, { input: { conversationId, content: 'a long stream' } });
    await server.simulator.waitFor((request) => JSON.stringify(request.body).includes('a long stream'));

    const refused = client.subscribe(CachedChat, { input: { conversationId, content: 'one too many' } });
    await expect(refused.completed).rejects.toThrow(/RATE_LIMITED/);

    open.unsubscribe();
    await server.simulator.waitFor(
      (request) => JSON.stringify(request.body).includes('a long stream') && request.status === 'aborted',
    );
    server.simulator.setLatency({ firstTokenMs: 0 });
    const events = await client
      .subscribe(CachedChat, { input: { conversationId, content: 'my turn' } })
      .all();
    expect(events.at(-1)?.chat.__typename).toBe('CompletionDone');
    await client.close();
  });

  it('counts each key on its own', async () => {
    server.simulator.setLatency({ firstTokenMs: 60_000 });
    const alice = wsClient(server.wsUrl, ALICE);
    alice.subscribe(CachedChat, {
      input: { conversationId: await conversation(ALICE), content: 'alice streams' },
    });
    await server.simulator.waitFor((request) => JSON.stringify(request.body).includes('alice streams'));
    server.simulator.setLatency({ firstTokenMs: 0 });
    const bob = wsClient(server.wsUrl, BOB);
    const events = await bob
      .subscribe(CachedChat, { input: { conversationId: await conversation(BOB), content: 'bob streams' } })
      .all();
    expect(events.at(-1)?.chat.__typename).toBe('CompletionDone');
    await Promise.all([alice.close(), bob.close()]);
  });
});

describe('root fields count against CLIENT_RPM one by one', () => {
  let server: TestServer;
  beforeAll(async () => {
    server = await startTestServer({ env: { API_KEYS: `alice:${ALICE}`, CLIENT_RPM: '4' } });
  });
  afterAll(() => server.close());

  /** One mutation sending `count` messages through aliases, as a client trying to slip past the limit would. */
  const aliasedSends = (conversationId: string, count: number) =>
    `mutation { ${Array.from({ length: count }, (_, i) => `s${i}: sendMessage(input: {conversationId: "${conversationId}", content: "hi ${i}"}) { id }`).join(' ')} }`;

  async function post(query: string) {
    const response = await fetch(server.url, {
      method: 'POST',
      headers: { 'content-type': 'application/json', authorization: `Bearer ${ALICE}` },
      body: JSON.stringify({ query }),
    });
    return (await response.json()) as { data?: unknown; errors?: { extensions: { code: string } }[] };
  }

  it('counts 3 aliased sendMessage as 3 operations, and refuses more than a window holds', async () => {
    const { createConversation } = await server.data(
      CreateConversation,
      { input: { title: 'aliases' } },
      { apiKey: ALICE },
    );
    expect((await post(aliasedSends(createConversation.id, 5))).errors?.[0]?.extensions.code).toBe(
      'BAD_USER_INPUT',
    );
    expect((await post(aliasedSends(createConversation.id, 3))).errors).toBeUndefined();
    expect((await post('{ viewer { id } }')).errors?.[0]?.extensions.code).toBe('RATE_LIMITED');
  });
});
