import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { createSimulator, type Simulator } from '../../src/simulator/index.js';
import { CreateConversation } from '../conversations/documents.js';
import { sample, scrape } from '../observability/support.js';
import { wsClient } from '../support/clients.js';
import { redisAvailable, TEST_REDIS_URL, testRedisPrefix } from '../support/redis.js';
import { startTestServer, type TestServer } from '../support/server.js';
import { CachedChat, CachedSendMessage } from './documents.js';

const SYSTEM_PROMPT = 'You answer from the cache when you can.';

/** Two conversations with the same system prompt send identical requests for the same message and settings. */
async function conversationOn(server: TestServer) {
  const { createConversation } = await server.data(CreateConversation, {
    input: { title: 'cache', systemPrompt: SYSTEM_PROMPT },
  });
  return createConversation.id;
}

describe('response cache', () => {
  let server: TestServer;
  beforeAll(async () => {
    server = await startTestServer();
  });
  afterAll(() => server.close());
  afterEach(() => server.simulator.clearRequests());

  const send = async (
    content: string,
    settings: { temperature?: number; cache?: boolean; maxTokens?: number },
  ) => {
    const { sendMessage } = await server.data(CachedSendMessage, {
      input: { conversationId: await conversationOn(server), content, ...settings },
    });
    return sendMessage;
  };

  it('answers an identical temperature-0 request from the cache, with no upstream request', async () => {
    const first = await send('What is two plus two?', { temperature: 0 });
    const second = await send('What is two plus two?', { temperature: 0 });
    expect(first.cached).toBe(false);
    expect(second.cached).toBe(true);
    expect(second.message?.content).toBe(first.message?.content);
    expect(second.usage).toEqual({ promptTokens: 0, completionTokens: 0 });
    expect(server.simulator.requests).toHaveLength(1);
    const metrics = await (await scrape(server.url)).text();
    expect(sample(metrics, 'agent_cache_lookups_total', { result: 'hit' })).toBe(1);
    expect(sample(metrics, 'agent_cache_lookups_total', { result: 'miss' })).toBe(1);
  });

  it('never caches a request at temperature above 0', async () => {
    await send('Tell me a story', { temperature: 0.7 });
    const second = await send('Tell me a story', { temperature: 0.7 });
    expect(second.cached).toBe(false);
    expect(server.simulator.requests).toHaveLength(2);
  });

  it('caches a request at temperature above 0 that asks for it with cache: true', async () => {
    await send('Name a colour', { temperature: 0.9, cache: true });
    const second = await send('Name a colour', { temperature: 0.9, cache: true });
    expect(second.cached).toBe(true);
    expect(server.simulator.requests).toHaveLength(1);
  });

  it('does not use the cache at temperature 0 when told cache: false', async () => {
    await send('Count to three', { temperature: 0, cache: false });
    const second = await send('Count to three', { temperature: 0, cache: false });
    expect(second.cached).toBe(false);
    expect(server.simulator.requests).toHaveLength(2);
  });

  it('tells requests with different settings apart', async () => {
    await send('Pick a number', { temperature: 0 });
    const other = await send('Pick a number', { temperature: 0, cache: true, maxTokens: 50 });
    expect(other.cached).toBe(false);
    expect(server.simulator.requests).toHaveLength(2);
  });

  it('replays a cached reply to a streamed chat as ContentDelta events', async () => {
    const first = await send('Stream me the cached answer', { temperature: 0 });
    const client = wsClient(server.wsUrl);
    const events = await client
      .subscribe(CachedChat, {
        input: {
          conversationId: await conversationOn(server),
          content: 'Stream me the cached answer',
          temperature: 0,
        },
      })
      .all();
    await client.close();
    const chats = events.map(({ chat }) => chat);
    const text = chats.map((chat) => (chat.__typename === 'ContentDelta' ? chat.text : '')).join('');
    expect(text).toBe(first.message?.content);
    expect(chats.at(-1)).toMatchObject({ __typename: 'CompletionDone', completion: { cached: true } });
    expect(server.simulator.requests).toHaveLength(1);
  });
});

const redisUp = await redisAvailable();

describe.runIf(redisUp)('response cache on Redis', () => {
  let simulator: Simulator;
  let servers: TestServer[];
  const keys = testRedisPrefix();
  beforeAll(async () => {
    simulator = await createSimulator();
    const env = { REDIS_URL: TEST_REDIS_URL, REDIS_KEY_PREFIX: keys.prefix };
    servers = [await startTestServer({ simulator, env }), await startTestServer({ simulator, env })];
  });
  afterAll(async () => {
    await Promise.all(servers.map((server) => server.close()));
    await simulator.close();
    await keys.drop();
  });

  it('answers on one instance what another instance cached', async () => {
    const [one, two] = servers as [TestServer, TestServer];
    const input = { content: 'Shared between instances', temperature: 0 };
    const first = await one.data(CachedSendMessage, {
      input: { ...input, conversationId: await conversationOn(one) },
    });
    const second = await two.data(CachedSendMessage, {
      input: { ...input, conversationId: await conversationOn(two) },
    });
    expect(second.sendMessage).toMatchObject({ cached: true, message: first.sendMessage.message });
    expect(simulator.requests).toHaveLength(1);
  });
});
