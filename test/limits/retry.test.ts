import OpenAI from 'openai';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import type { Clock } from '../../src/limits/index.js';
import { createSimulator, type Simulator } from '../../src/simulator/index.js';
import { RetryPolicy } from '../../src/upstream/index.js';
import { CreateConversation } from '../conversations/documents.js';
import { wsClient } from '../support/clients.js';
import { startTestServer, type TestServer } from '../support/server.js';
import { CachedChat, CachedSendMessage } from './documents.js';

describe('retries of the upstream request', () => {
  let server: TestServer;
  beforeAll(async () => {
    server = await startTestServer({
      env: { OPENAI_MAX_RETRIES: '2', OPENAI_RETRY_BASE_DELAY_MS: '10', OPENAI_TIMEOUT_MS: '500' },
    });
  });
  afterAll(() => server.close());
  afterEach(() => {
    server.simulator.clearFaults();
    server.simulator.clearRequests();
  });

  const send = async (content: string) => {
    const { createConversation } = await server.data(CreateConversation, { input: { title: 'retry' } });
    return server.request(CachedSendMessage, { input: { conversationId: createConversation.id, content } });
  };
  const gapsMs = () =>
    server.simulator.requests
      .slice(1)
      .map((request, i) => request.startedAt - (server.simulator.requests[i]?.startedAt ?? 0));

  it('waits as long as retry-after-ms asks, then succeeds', async () => {
    server.simulator.injectFault({ type: 'rate_limit', retryAfterMs: 300 });
    const response = await send('retry after ms');
    expect(response.data?.sendMessage.message?.content).toBe('Simulated reply to: retry after ms');
    expect(server.simulator.requests).toHaveLength(2);
    expect(gapsMs()[0]).toBeGreaterThanOrEqual(300);
  });

  it('waits as long as retry-after asks in seconds, then succeeds', async () => {
    server.simulator.injectFault({ type: 'rate_limit', retryAfterSeconds: 1 });
    const response = await send('retry after seconds');
    expect(response.data?.sendMessage.id).toBeDefined();
    expect(server.simulator.requests).toHaveLength(2);
    expect(gapsMs()[0]).toBeGreaterThanOrEqual(1000);
  });

  it('gives up on 500s after OPENAI_MAX_RETRIES retries with UPSTREAM_UNAVAILABLE', async () => {
    server.simulator.injectFault({ type: 'server_error' }, 3);
    const response = await send('always failing');
    expect(response.errors?.[0]?.extensions?.code).toBe('UPSTREAM_UNAVAILABLE');
    expect(server.simulator.requests).toHaveLength(3);
  });

  it('gives up on 429s after OPENAI_MAX_RETRIES retries with UPSTREAM_RATE_LIMITED and retryAfter', async () => {
    server.simulator.injectFault({ type: 'rate_limit', retryAfterMs: 20 }, 3);
    const response = await send('always limited');
    expect(response.errors?.[0]?.extensions).toMatchObject({
      code: 'UPSTREAM_RATE_LIMITED',
      retryAfter: 0.02,
    });
    expect(server.simulator.requests).toHaveLength(3);
  });

  it('answers at once, without retrying, when retry-after asks for longer than RATE_LIMIT_MAX_WAIT', async () => {
    server.simulator.injectFault({ type: 'rate_limit', retryAfterSeconds: 60 });
    const response = await send('come back in a minute');
    expect(response.errors?.[0]?.extensions).toMatchObject({ code: 'UPSTREAM_RATE_LIMITED', retryAfter: 60 });
    expect(server.simulator.requests).toHaveLength(1);
  });

  it('does not retry a 400', async () => {
    server.simulator.injectFault({ type: 'bad_request', message: 'no thanks' });
    const response = await send('rejected');
    expect(response.errors?.[0]?.extensions?.code).toBe('UPSTREAM_INVALID_REQUEST');
    expect(server.simulator.requests).toHaveLength(1);
  });

  it('retries a request whose connection dropped before any answer', async () => {
    server.simulator.injectFault({ type: 'disconnect', afterChunks: 0 });
    const response = await send('dropped once');
    expect(response.data?.sendMessage.message?.content).toBe('Simulated reply to: dropped once');
    expect(server.simulator.requests).toHaveLength(2);
  });

  it('retries a request that timed out', async () => {
    server.simulator.injectFault({ type: 'stall', ms: 5000 });
    const response = await send('slow once');
    expect(response.data?.sendMessage.message?.content).toBe('Simulated reply to: slow once');
    expect(server.simulator.requests).toHaveLength(2);
  });

  it('never restarts a stream that already delivered content', async () => {
    const { createConversation } = await server.data(CreateConversation, { input: { title: 'cut' } });
    server.simulator.injectFault({ type: 'disconnect', afterChunks: 2 });
    const client = wsClient(server.wsUrl);
    const events = await client
      .subscribe(CachedChat, {
        input: { conversationId: createConversation.id, content: 'cut this stream short' },
      })
      .all();
    await client.close();
    const texts = events.map(({ chat }) => (chat.__typename === 'ContentDelta' ? chat.text : ''));
    expect(texts.join('').length).toBeGreaterThan(0);
    expect(events.at(-1)?.chat).toMatchObject({
      __typename: 'CompletionFailed',
      error: { code: 'UPSTREAM_UNAVAILABLE' },
    });
    expect(server.simulator.requests).toHaveLength(1);
  });
});

describe('backoff', () => {
  let simulator: Simulator;
  beforeAll(async () => {
    simulator = await createSimulator();
  });
  afterAll(() => simulator.close());

  /** A clock whose sleeps return at once and are written down: the delays the policy chose. */
  function recordingClock(): Clock & { slept: number[] } {
    const slept: number[] = [];
    return { slept, now: () => Date.now(), sleep: async (ms) => void slept.push(ms) };
  }

  const request = (client: OpenAI) => () =>
    client.chat.completions.create({ model: 'gpt-4', messages: [{ role: 'user', content: 'hello' }] });

  const policy = (clock: Clock, random: () => number) =>
    new RetryPolicy({ maxRetries: 5, baseDelayMs: 100, maxDelayMs: 1000, maxWaitMs: 60_000 }, clock, random);
  const client = () => new OpenAI({ apiKey: 'test', baseURL: simulator.url, maxRetries: 0 });

  it('doubles its ceiling with every retry on 500s, up to OPENAI_RETRY_MAX_DELAY_MS', async () => {
    simulator.injectFault({ type: 'server_error' }, 5);
    const clock = recordingClock();
    await policy(clock, () => 1).run(request(client()), new AbortController().signal);
    expect(clock.slept).toEqual([100, 200, 400, 800, 1000]);
  });

  it('waits a random share of the ceiling (full jitter)', async () => {
    simulator.injectFault({ type: 'server_error' }, 3);
    const clock = recordingClock();
    await policy(clock, () => 0.5).run(request(client()), new AbortController().signal);
    expect(clock.slept).toEqual([50, 100, 200]);
  });
});
