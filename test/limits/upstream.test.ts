import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createSimulator, type SimulatedRequest, type Simulator } from '../../src/simulator/index.js';
import { CreateConversation } from '../conversations/documents.js';
import { sample, scrape } from '../observability/support.js';
import { redisAvailable, TEST_REDIS_URL, testRedisPrefix } from '../support/redis.js';
import { startTestServer, type TestServer } from '../support/server.js';
import { CachedSendMessage, UserMessages } from './documents.js';

/**
 * A token bucket of capacity C refilled at C per window admits at most C + C * t / window in any interval of
 * length t. `amount` is what each logged request drew; `slack` absorbs the network's jitter between the limiter
 * admitting a request and the simulator logging it.
 */
function worstExcess(
  requests: SimulatedRequest[],
  amount: (request: SimulatedRequest) => number,
  capacity: number,
  windowMs: number,
) {
  const sorted = [...requests].sort((a, b) => a.startedAt - b.startedAt);
  let worst = Number.NEGATIVE_INFINITY;
  for (let i = 0; i < sorted.length; i++) {
    let drawn = 0;
    for (let j = i; j < sorted.length; j++) {
      drawn += amount(sorted[j] as SimulatedRequest);
      const allowed =
        capacity + (capacity * ((sorted[j]?.startedAt ?? 0) - (sorted[i]?.startedAt ?? 0))) / windowMs;
      worst = Math.max(worst, drawn - allowed);
    }
  }
  return worst;
}

const lastUserContent = (request: SimulatedRequest) => {
  const messages = request.body.messages as { role: string; content: string }[];
  return messages.filter((message) => message.role === 'user').at(-1)?.content ?? '';
};

const WINDOW_MS = 60_000;
const BURST = 200;

/** 200 concurrent sendMessage calls over 10 conversations; each outcome, and the tokens each completion used. */
async function burst(env: { RPM: number; TPM: number; maxTokens: number }) {
  const server = await startTestServer({
    env: {
      RATE_LIMIT_RPM: String(env.RPM),
      RATE_LIMIT_TPM: String(env.TPM),
      RATE_LIMIT_WINDOW_MS: String(WINDOW_MS),
      RATE_LIMIT_MAX_WAIT: '500',
      OPENAI_MAX_TOKENS: String(env.maxTokens),
    },
  });
  const conversationIds: string[] = [];
  for (let i = 0; i < 10; i++) {
    const { createConversation } = await server.data(CreateConversation, {
      input: { title: `burst ${i}`, systemPrompt: 'You are terse.' },
    });
    conversationIds.push(createConversation.id);
  }
  const usage = new Map<string, number>();
  const outcomes = await Promise.all(
    Array.from({ length: BURST }, async (_, i) => {
      const content = `burst request ${i}`;
      const response = await server.request(CachedSendMessage, {
        input: { conversationId: conversationIds[i % 10] ?? '', content },
      });
      const completion = response.data?.sendMessage;
      if (completion) usage.set(content, completion.usage.promptTokens + completion.usage.completionTokens);
      return completion ? 'COMPLETED' : (response.errors?.[0]?.extensions?.code ?? 'none');
    }),
  );
  const tokens = (request: SimulatedRequest) => usage.get(lastUserContent(request)) ?? 0;
  return { server, conversationIds, usage, outcomes, tokens };
}

describe('a burst of 200 requests against RPM 60 (the request bucket binds)', () => {
  const RPM = 60;
  let run: Awaited<ReturnType<typeof burst>>;
  beforeAll(async () => {
    run = await burst({ RPM, TPM: 10_000_000, maxTokens: 2000 });
  });
  afterAll(() => run.server.close());

  it('completes every request or fails it with RATE_LIMITED, and does both under this load', () => {
    expect(new Set(run.outcomes)).toEqual(new Set(['COMPLETED', 'RATE_LIMITED']));
  });

  it('sends upstream exactly the requests that completed', () => {
    expect(run.server.simulator.requests).toHaveLength(
      run.outcomes.filter((outcome) => outcome === 'COMPLETED').length,
    );
  });

  it('never lets the upstream see more requests in any interval than the request bucket allows', () => {
    const requests = run.server.simulator.requests;
    // The bucket is what stopped the burst: it let through its capacity, and nothing beyond what it refilled.
    expect(requests.length).toBeGreaterThanOrEqual(RPM);
    expect(worstExcess(requests, () => 1, RPM, WINDOW_MS)).toBeLessThan(1);
  });

  it('stores every user message, whether its completion ran or was rate limited', async () => {
    const stored = new Set<string>();
    for (const id of run.conversationIds) {
      const { conversation } = await run.server.data(UserMessages, { id });
      for (const edge of conversation.messages.edges) {
        if (edge.node.role === 'USER') stored.add(edge.node.content ?? '');
      }
    }
    expect(stored.size).toBe(BURST);
  });
});

describe('a burst of 200 requests against TPM 1500 (the token bucket binds)', () => {
  const RPM = 10_000;
  const TPM = 1500;
  let run: Awaited<ReturnType<typeof burst>>;
  beforeAll(async () => {
    // Small replies (maxTokens 40) so that each reservation is close to what the request really uses.
    run = await burst({ RPM, TPM, maxTokens: 40 });
  });
  afterAll(() => run.server.close());

  it('refuses with RATE_LIMITED what the tokens per window cannot pay for, long before the request limit', () => {
    const completed = run.outcomes.filter((outcome) => outcome === 'COMPLETED').length;
    expect(new Set(run.outcomes)).toEqual(new Set(['COMPLETED', 'RATE_LIMITED']));
    expect(completed).toBeLessThan(BURST / 2);
  });

  it('never lets the upstream see more tokens in any interval than the token bucket allows', () => {
    const requests = run.server.simulator.requests;
    expect(requests.every((request) => run.usage.has(lastUserContent(request)))).toBe(true);
    const used = requests.reduce((sum, request) => sum + run.tokens(request), 0);
    // The burst pressed against the limit: most of the window's tokens were spent, and none beyond it.
    expect(used).toBeGreaterThan(TPM * 0.7);
    expect(worstExcess(requests, run.tokens, TPM, WINDOW_MS)).toBeLessThanOrEqual(0);
  });
});

describe('x-ratelimit headers from the upstream', () => {
  let simulator: Simulator;
  let server: TestServer;
  beforeAll(async () => {
    simulator = await createSimulator({ rateLimitHeaders: { requests: 2, tokens: 1_000_000 } });
    server = await startTestServer({
      simulator,
      env: { RATE_LIMIT_RPM: '60', RATE_LIMIT_TPM: '90000', RATE_LIMIT_MAX_WAIT: '0' },
    });
  });
  afterAll(async () => {
    await server.close();
    await simulator.close();
  });

  it('tighten the buckets: once the upstream says none remain, the next request fails here', async () => {
    const { createConversation } = await server.data(CreateConversation, { input: { title: 'headers' } });
    const send = (content: string) =>
      server.request(CachedSendMessage, { input: { conversationId: createConversation.id, content } });
    expect((await send('one')).data?.sendMessage.id).toBeDefined();
    expect((await send('two')).data?.sendMessage.id).toBeDefined();
    const third = await send('three');
    expect(third.errors?.[0]?.extensions).toMatchObject({ code: 'RATE_LIMITED' });
    expect(third.errors?.[0]?.extensions?.retryAfter).toBeGreaterThan(0);
    expect(simulator.requests).toHaveLength(2);
  });
});

const redisUp = await redisAvailable();

describe.runIf(redisUp)('two instances sharing Redis', () => {
  let simulator: Simulator;
  let servers: TestServer[];
  const keys = testRedisPrefix();
  beforeAll(async () => {
    simulator = await createSimulator();
    const env = {
      REDIS_URL: TEST_REDIS_URL,
      REDIS_KEY_PREFIX: keys.prefix,
      RATE_LIMIT_RPM: '5',
      RATE_LIMIT_MAX_WAIT: '0',
    };
    servers = [await startTestServer({ simulator, env }), await startTestServer({ simulator, env })];
  });
  afterAll(async () => {
    await Promise.all(servers.map((server) => server.close()));
    await simulator.close();
    await keys.drop();
  });

  it('hold one global upstream limit between them', async () => {
    const outcomes = await Promise.all(
      servers.flatMap((server, s) =>
        Array.from({ length: 6 }, async (_, i) => {
          const { createConversation } = await server.data(CreateConversation, {
            input: { title: 'shared' },
          });
          const response = await server.request(CachedSendMessage, {
            input: { conversationId: createConversation.id, content: `instance ${s} request ${i}` },
          });
          return response.data ? 'COMPLETED' : response.errors?.[0]?.extensions?.code;
        }),
      ),
    );
    expect(outcomes.filter((outcome) => outcome === 'COMPLETED')).toHaveLength(5);
    expect(outcomes.filter((outcome) => outcome === 'RATE_LIMITED')).toHaveLength(7);
    expect(simulator.requests).toHaveLength(5);
    const rejections = await Promise.all(
      servers.map(async (server) =>
        sample(await (await scrape(server.url)).text(), 'agent_rate_limit_rejections_total', {
          limit: 'upstream',
        }),
      ),
    );
    expect((rejections[0] ?? 0) + (rejections[1] ?? 0)).toBe(7);
  });
});
