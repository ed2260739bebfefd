import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createSimulator, type Simulator } from '../../src/simulator/index.js';
import { redisAvailable, TEST_REDIS_URL, testRedisPrefix } from '../support/redis.js';
import { startTestServer, type TestServer } from '../support/server.js';
import { createTestDatabase, postgresAvailable } from '../support/services.js';
import { BudgetConversation, BudgetCreateKey, BudgetSend, Budgets, SetBudget } from './documents.js';

const ADMIN = 'sk-admin-0123456789';
const MAX_TOKENS = 5;
const QUESTION = 'How far is it from the harbour to the old lighthouse on foot?';

/**
 * Budgets under concurrency, on one instance with the in-memory store, and on two instances sharing Redis (and
 * PostgreSQL, where the budget definitions live): the instances then hold one budget between them.
 */
interface Deployment {
  name: string;
  /** The instances requests are spread over. */
  start(simulator: Simulator): Promise<TestServer[]>;
  cleanup(): Promise<void>;
}

const memory: Deployment = {
  name: 'one instance, in-memory store',
  start: async (simulator) => [
    await startTestServer({ simulator, env: { API_KEYS: `admin:${ADMIN}:admin` } }),
  ],
  cleanup: async () => {},
};

function sharedRedis(): Deployment {
  const prefix = testRedisPrefix();
  let database: { url: string; drop(): Promise<void> } | undefined;
  return {
    name: 'two instances sharing Redis',
    start: async (simulator) => {
      database = await createTestDatabase();
      const env = {
        API_KEYS: `admin:${ADMIN}:admin`,
        DATABASE_URL: database.url,
        REDIS_URL: TEST_REDIS_URL,
        REDIS_KEY_PREFIX: prefix.prefix,
      };
      const first = await startTestServer({ simulator, env });
      return [first, await startTestServer({ simulator, env })];
    },
    cleanup: async () => {
      await prefix.drop();
      await database?.drop();
    },
  };
}

const deployments = [
  memory,
  ...((await redisAvailable()) && (await postgresAvailable()) ? [sharedRedis()] : []),
];

describe.each(deployments)('budgets on $name', (deployment) => {
  let simulator: Simulator;
  let instances: TestServer[];
  let principals = 0;

  beforeAll(async () => {
    simulator = await createSimulator();
    instances = await deployment.start(simulator);
  }, 60_000);
  afterAll(async () => {
    for (const instance of instances ?? []) await instance.close();
    await simulator?.close();
    await deployment.cleanup();
  });

  const on = (index: number) => instances[index % instances.length] as TestServer;

  async function newPrincipal() {
    const name = `user-${++principals}`;
    const { createApiKey } = await on(0).data(
      BudgetCreateKey,
      { input: { principalName: name } },
      { apiKey: ADMIN },
    );
    return { name, key: createApiKey.key };
  }

  async function send(index: number, apiKey: string) {
    const server = on(index);
    const { createConversation } = await server.data(BudgetConversation, { input: {} }, { apiKey });
    return server.request(
      BudgetSend,
      { input: { conversationId: createConversation.id, content: QUESTION, maxTokens: MAX_TOKENS } },
      { apiKey },
    );
  }

  /** What one request reserves: its prompt (the same for every request here) plus maxTokens. */
  async function reservation(): Promise<number> {
    // Sent by a principal of its own: what it costs counts against nobody else's budget.
    const { data } = await send(0, (await newPrincipal()).key);
    return (data?.sendMessage.usage.promptTokens ?? 0) + MAX_TOKENS;
  }

  it('lets concurrent requests just under the limit pass it by at most one reservation', async () => {
    const alice = await newPrincipal();
    const reserved = await reservation();
    const limit = 4 * reserved - 1;
    await on(0).data(
      SetBudget,
      { input: { principalName: alice.name, period: 'DAY', limitTokens: limit } },
      { apiKey: ADMIN },
    );
    const responses = await Promise.all(Array.from({ length: 16 }, (_, index) => send(index, alice.key)));

    const completed = responses.flatMap((response) => response.data?.sendMessage ?? []);
    const codes = responses.flatMap(
      (response) => response.errors?.map((error) => error.extensions?.code) ?? [],
    );
    const used = completed.reduce((total, completion) => total + completion.usage.totalTokens, 0);
    // Without the budget these requests would use four times the limit.
    expect(16 * (completed[0]?.usage.totalTokens ?? 0)).toBeGreaterThan(limit + reserved);
    expect(completed.length).toBeGreaterThanOrEqual(3);
    expect(codes).toEqual(Array(16 - completed.length).fill('BUDGET_EXCEEDED'));
    expect(used).toBeLessThanOrEqual(limit + reserved);
    for (const index of instances.keys()) {
      const { budgets } = await on(index).data(Budgets, {}, { apiKey: alice.key });
      expect(budgets[0]?.spentTokens).toBe(used);
    }
  });

  // Only where there are two instances (not a skip: one instance has no other to spend through).
  if (deployment === memory) return;
  it('refuses on one instance what a budget spent through the other cannot cover', async () => {
    const alice = await newPrincipal();
    const reserved = await reservation();
    await on(0).data(
      SetBudget,
      { input: { principalName: alice.name, period: 'MONTH', limitTokens: Math.floor(1.5 * reserved) } },
      { apiKey: ADMIN },
    );
    const first = await send(0, alice.key);
    expect(first.data?.sendMessage.status).toBe('COMPLETED');
    const second = await send(1, alice.key);
    expect(second.errors?.[0]?.extensions?.code).toBe('BUDGET_EXCEEDED');
  });
});
