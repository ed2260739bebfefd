import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { TrimContext } from '../conversations/context-support.js';
import { AddMessage } from '../conversations/documents.js';
import { sample, scrape } from '../observability/support.js';
import { sseClient } from '../support/clients.js';
import { startTestServer, type TestServer } from '../support/server.js';
import {
  BudgetChat,
  BudgetConversation,
  BudgetCreateKey,
  BudgetKeyIds,
  BudgetMessages,
  BudgetSend,
  Budgets,
  RemoveBudget,
  SetBudget,
} from './documents.js';

const ADMIN = 'sk-admin-0123456789';

let server: TestServer;
beforeAll(async () => {
  server = await startTestServer({ env: { API_KEYS: `admin:${ADMIN}:admin` } });
});
afterAll(() => server.close());
beforeEach(() => server.simulator.clearRequests());

let principals = 0;
/** A principal of this test's own (budgets count per principal), with one API key. */
async function newPrincipal() {
  const name = `user-${++principals}`;
  const { createApiKey } = await server.data(
    BudgetCreateKey,
    { input: { principalName: name } },
    { apiKey: ADMIN },
  );
  return { name, key: createApiKey.key };
}

/** setBudget as the admin. */
async function setBudget(input: {
  principalName: string;
  period: 'DAY' | 'MONTH';
  limitUsd?: number;
  limitTokens?: number;
  apiKeyId?: string;
}) {
  return (await server.data(SetBudget, { input }, { apiKey: ADMIN })).setBudget;
}

async function keyIdOf(key: string): Promise<string> {
  const { apiKeys } = await server.data(BudgetKeyIds, {}, { apiKey: ADMIN });
  const found = apiKeys.find((entry) => key.startsWith(entry.prefix) && key !== '');
  if (!found) throw new Error('key not listed');
  return found.id;
}

async function conversationOf(apiKey: string): Promise<string> {
  const { createConversation } = await server.data(
    BudgetConversation,
    { input: { title: 'budget' } },
    { apiKey },
  );
  return createConversation.id;
}

const nextUtcMidnight = () => {
  const now = new Date();
  return new Date(Date.UTC(now.getUTCFullYear(), now.getUTCMonth(), now.getUTCDate() + 1)).toISOString();
};

const sentUpstream = (content: string) =>
  server.simulator.requests.some((request) => JSON.stringify(request.body.messages).includes(content));

describe('budgets', () => {
  it('sets a daily budget and reads it back with nothing spent, all left, and the next UTC midnight', async () => {
    const alice = await newPrincipal();
    const budget = await setBudget({ principalName: alice.name, period: 'DAY', limitUsd: 2.5 });
    const { budgets } = await server.data(Budgets, {}, { apiKey: alice.key });
    expect(budgets).toEqual([budget]);
    expect(budget).toMatchObject({
      principal: { name: alice.name },
      apiKey: null,
      period: 'DAY',
      limitUsd: 2.5,
      limitTokens: null,
      spentUsd: 0,
      spentTokens: 0,
      remainingUsd: 2.5,
      remainingTokens: null,
      resetsAt: nextUtcMidnight(),
    });
  });

  it('lets only admins set or remove budgets and read those of another principal', async () => {
    const alice = await newPrincipal();
    const asAlice = { apiKey: alice.key };
    const attempts = await Promise.all([
      server.request(
        SetBudget,
        { input: { principalName: alice.name, period: 'DAY', limitUsd: 9 } },
        asAlice,
      ),
      server.request(RemoveBudget, { input: { id: 'any' } }, asAlice),
      server.request(Budgets, { principalName: 'admin' }, asAlice),
    ]);
    expect(attempts.map((response) => response.errors?.[0]?.extensions?.code)).toEqual([
      'FORBIDDEN',
      'FORBIDDEN',
      'FORBIDDEN',
    ]);
  });

  it('refuses a budget without limits, a negative limit, and a key of another principal with BAD_USER_INPUT', async () => {
    const alice = await newPrincipal();
    const bob = await newPrincipal();
    const inputs = [
      { principalName: alice.name, period: 'DAY' as const },
      { principalName: alice.name, period: 'DAY' as const, limitUsd: -1 },
      {
        principalName: alice.name,
        period: 'MONTH' as const,
        limitTokens: 10,
        apiKeyId: await keyIdOf(bob.key),
      },
    ];
    for (const input of inputs) {
      const { errors } = await server.request(SetBudget, { input }, { apiKey: ADMIN });
      expect(errors?.[0]?.extensions?.code).toBe('BAD_USER_INPUT');
    }
    expect((await server.data(Budgets, { principalName: alice.name }, { apiKey: ADMIN })).budgets).toEqual(
      [],
    );
  });

  it('fails a request it cannot cover with BUDGET_EXCEEDED and the reset, keeps the user message, sends nothing', async () => {
    const alice = await newPrincipal();
    await setBudget({ principalName: alice.name, period: 'DAY', limitTokens: 100 });
    const conversationId = await conversationOf(alice.key);
    const content = 'a question the budget cannot pay for';
    const { errors } = await server.request(
      BudgetSend,
      { input: { conversationId, content, maxTokens: 500 } },
      { apiKey: alice.key },
    );
    expect(errors?.[0]?.extensions).toMatchObject({ code: 'BUDGET_EXCEEDED', resetsAt: nextUtcMidnight() });
    const retryAfter = errors?.[0]?.extensions?.retryAfter as number;
    expect(retryAfter).toBeGreaterThan(0);
    expect(retryAfter).toBeLessThanOrEqual(86_400);
    expect(errors?.[0]?.message).toContain(nextUtcMidnight());
    expect(sentUpstream(content)).toBe(false);
    const { conversation } = await server.data(BudgetMessages, { id: conversationId }, { apiKey: alice.key });
    expect(conversation?.messages.edges.map(({ node }) => node)).toEqual([{ role: 'USER', content }]);
  });

  it('ends a chat over budget with CompletionFailed BUDGET_EXCEEDED', async () => {
    const alice = await newPrincipal();
    await setBudget({ principalName: alice.name, period: 'MONTH', limitUsd: 0 });
    const client = sseClient(server.url, alice.key);
    const events = await client
      .subscribe(BudgetChat, {
        input: { conversationId: await conversationOf(alice.key), content: 'stream it' },
      })
      .all();
    client.close();
    expect(events.map((event) => event.chat)).toEqual([
      {
        __typename: 'CompletionFailed',
        error: {
          code: 'BUDGET_EXCEEDED',
          message: expect.stringContaining('monthly'),
          retryAfter: expect.any(Number),
          resetsAt: expect.any(String),
        },
        completion: { id: expect.any(String), status: 'FAILED', usage: { totalTokens: 0, costUsd: 0 } },
      },
    ]);
    expect(server.simulator.requests).toHaveLength(0);
  });

  it("limits a key by its own budget, and not the principal's other keys", async () => {
    const alice = await newPrincipal();
    const { createApiKey } = await server.data(
      BudgetCreateKey,
      { input: { principalName: alice.name } },
      { apiKey: ADMIN },
    );
    await setBudget({
      principalName: alice.name,
      apiKeyId: await keyIdOf(alice.key),
      period: 'DAY',
      limitUsd: 0,
    });
    const conversationId = await conversationOf(alice.key);
    const refused = await server.request(
      BudgetSend,
      { input: { conversationId, content: 'with the limited key' } },
      { apiKey: alice.key },
    );
    expect(refused.errors?.[0]?.extensions?.code).toBe('BUDGET_EXCEEDED');
    expect(refused.errors?.[0]?.message).toContain("this API key's daily budget");
    const { sendMessage } = await server.data(
      BudgetSend,
      { input: { conversationId, content: 'with the other key' } },
      { apiKey: createApiKey.key },
    );
    expect(sendMessage.status).toBe('COMPLETED');
  });

  it('counts what requests really used once they end, not what they reserved', async () => {
    const alice = await newPrincipal();
    await setBudget({ principalName: alice.name, period: 'DAY', limitUsd: 1 });
    const conversationId = await conversationOf(alice.key);
    const sent = [];
    for (const content of ['first question', 'second question']) {
      sent.push(
        (await server.data(BudgetSend, { input: { conversationId, content } }, { apiKey: alice.key }))
          .sendMessage,
      );
    }
    const [budget] = (await server.data(Budgets, {}, { apiKey: alice.key })).budgets;
    const tokens = sent.reduce((total, completion) => total + completion.usage.totalTokens, 0);
    const usd = sent.reduce((total, completion) => total + completion.usage.costUsd, 0);
    expect(budget?.spentTokens).toBe(tokens);
    expect(budget?.spentUsd).toBeCloseTo(usd, 12);
    expect(budget?.remainingUsd).toBeCloseTo(1 - usd, 12);
  });

  it('counts a stream cut part-way by what it used, as its completion stored it', async () => {
    const alice = await newPrincipal();
    await setBudget({ principalName: alice.name, period: 'DAY', limitTokens: 100_000 });
    server.simulator.injectFault({ type: 'disconnect', afterChunks: 3 });
    const client = sseClient(server.url, alice.key);
    const events = await client
      .subscribe(BudgetChat, {
        input: { conversationId: await conversationOf(alice.key), content: 'cut me off' },
      })
      .all();
    client.close();
    const failed = events.at(-1)?.chat;
    if (failed?.__typename !== 'CompletionFailed') throw new Error(`ended with ${failed?.__typename}`);
    expect(failed.error.code).toBe('UPSTREAM_UNAVAILABLE');
    const [budget] = (await server.data(Budgets, {}, { apiKey: alice.key })).budgets;
    expect(failed.completion.usage.totalTokens).toBeGreaterThan(0);
    expect(budget?.spentTokens).toBe(failed.completion.usage.totalTokens);
    expect(budget?.spentUsd).toBeCloseTo(failed.completion.usage.costUsd, 12);
  });

  it('counts what the day spent before its budget was set', async () => {
    const alice = await newPrincipal();
    const conversationId = await conversationOf(alice.key);
    const { sendMessage } = await server.data(
      BudgetSend,
      { input: { conversationId, content: 'before any budget' } },
      { apiKey: alice.key },
    );
    const budget = await setBudget({ principalName: alice.name, period: 'DAY', limitTokens: 10_000 });
    expect(budget.spentTokens).toBe(sendMessage.usage.totalTokens);
    expect(budget.spentUsd).toBeCloseTo(sendMessage.usage.costUsd, 12);
  });

  it("counts SUMMARIZE's own model request against the budget", async () => {
    const alice = await newPrincipal();
    await setBudget({ principalName: alice.name, period: 'DAY', limitTokens: 100_000 });
    const conversationId = await conversationOf(alice.key);
    const text = 'We compared trains, ferries and flights between the islands at length. '.repeat(10);
    for (const role of ['USER', 'ASSISTANT', 'USER', 'ASSISTANT'] as const) {
      await server.data(
        AddMessage,
        { input: { conversationId, role, content: text } },
        { apiKey: alice.key },
      );
    }
    await server.data(
      TrimContext,
      { input: { conversationId, maxTokens: 300, strategy: 'SUMMARIZE' } },
      { apiKey: alice.key },
    );
    expect(server.simulator.requests).toHaveLength(1);
    const [budget] = (await server.data(Budgets, {}, { apiKey: alice.key })).budgets;
    const usage = server.simulator.requests[0]?.usage;
    expect(budget?.spentTokens).toBe((usage?.prompt_tokens ?? 0) + (usage?.completion_tokens ?? 0));
    expect(budget?.spentTokens).toBeGreaterThan(0);
  });

  it('counts the budget refusals in the metrics by period, limit and scope', async () => {
    const alice = await newPrincipal();
    await setBudget({ principalName: alice.name, period: 'MONTH', limitUsd: 0 });
    const labels = { period: 'month', limit: 'usd', scope: 'principal' };
    const before = sample(await (await scrape(server.url)).text(), 'agent_budget_rejections_total', labels);
    await server.request(
      BudgetSend,
      { input: { conversationId: await conversationOf(alice.key), content: 'hi' } },
      { apiKey: alice.key },
    );
    const after = sample(await (await scrape(server.url)).text(), 'agent_budget_rejections_total', labels);
    expect(after - before).toBe(1);
  });

  it('stops limiting requests once the budget is removed', async () => {
    const alice = await newPrincipal();
    const budget = await setBudget({ principalName: alice.name, period: 'DAY', limitUsd: 0 });
    const conversationId = await conversationOf(alice.key);
    const refused = await server.request(
      BudgetSend,
      { input: { conversationId, content: 'one' } },
      { apiKey: alice.key },
    );
    expect(refused.errors?.[0]?.extensions?.code).toBe('BUDGET_EXCEEDED');
    await server.data(RemoveBudget, { input: { id: budget.id } }, { apiKey: ADMIN });
    const { sendMessage } = await server.data(
      BudgetSend,
      { input: { conversationId, content: 'two' } },
      { apiKey: alice.key },
    );
    expect(sendMessage.status).toBe('COMPLETED');
  });
});

describe('budgets across a restart without Redis', () => {
  it('keep what the day has spent', async () => {
    const directory = await mkdtemp(join(tmpdir(), 'agent-platform-budgets-'));
    const env = { DATABASE_URL: join(directory, 'db'), API_KEYS: `admin:${ADMIN}:admin` };
    try {
      let instance = await startTestServer({ env });
      await instance.data(
        SetBudget,
        { input: { principalName: 'admin', period: 'DAY', limitUsd: 1 } },
        { apiKey: ADMIN },
      );
      const { createConversation } = await instance.data(
        BudgetConversation,
        { input: {} },
        { apiKey: ADMIN },
      );
      await instance.data(
        BudgetSend,
        { input: { conversationId: createConversation.id, content: 'spend a little' } },
        { apiKey: ADMIN },
      );
      const before = (await instance.data(Budgets, {}, { apiKey: ADMIN })).budgets;
      await instance.close();
      instance = await startTestServer({ env });
      const after = (await instance.data(Budgets, {}, { apiKey: ADMIN })).budgets;
      await instance.close();
      expect(before[0]?.spentTokens).toBeGreaterThan(0);
      expect(after[0]?.spentTokens).toBe(before[0]?.spentTokens);
      expect(after[0]?.spentUsd).toBeCloseTo(before[0]?.spentUsd ?? Number.NaN, 12);
    } finally {
      await rm(directory, { recursive: true, force: true });
    }
  }, 60_000);
});
