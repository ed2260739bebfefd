import { eq } from 'drizzle-orm';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { completions } from '../../src/storage/schema.js';
import { Chat, SendMessage } from '../completions/documents.js';
import { CreateConversation } from '../conversations/documents.js';
import { ExecuteFunction } from '../functions/documents.js';
import { TypedDocumentString } from '../gql/graphql.js';
import { wsClient } from '../support/clients.js';
import { startTestServer, type TestServer } from '../support/server.js';
import { ConversationUsage, UsageReport, Viewer } from './documents.js';
import { expectedTotals, type SimulatorUsage, sample, scrape, simulatorUsage } from './support.js';

const ADMIN_KEY = 'sk-ops-0123456789';
const BOB_KEY = 'sk-bob-0123456789';
const METRICS_TOKEN = 'metrics-token-0123456789';

let server: TestServer;
let metrics: string;
let usages: SimulatorUsage[];
let bobId: string;
let bobConversation: string;
let bobConversationUsages: SimulatorUsage[];

/**
 * A known sequence: bob completes three times (gpt-4.1-mini JSON, gpt-4o-mini JSON, gpt-4.1-mini streamed over graphql-ws),
 * once more with a function call (two upstream calls), fails twice (a 400 and a 500 from the simulator) and
 * executes a function directly twice with good arguments and once with bad ones; the admin completes once.
 */
beforeAll(async () => {
  server = await startTestServer({
    env: {
      API_KEYS: `ops:${ADMIN_KEY}:admin,bob:${BOB_KEY}`,
      METRICS_TOKEN,
      OPENAI_MAX_RETRIES: '0',
    },
  });
  const bob = { apiKey: BOB_KEY };
  const admin = { apiKey: ADMIN_KEY };
  bobId = (await server.data(Viewer, {}, bob)).viewer.id;
  bobConversation = (await server.data(CreateConversation, { input: { title: 'bob' } }, bob))
    .createConversation.id;
  const send = (content: string, options = bob, model?: string, conversationId = bobConversation) =>
    server.request(SendMessage, { input: { conversationId, content, model } }, options);

  expect((await send('Plan my week')).errors).toBeUndefined();
  expect((await send('Compare two laptops', bob, 'gpt-4o-mini')).errors).toBeUndefined();
  const withFunction = await server.data(
    SendMessage,
    {
      input: {
        conversationId: bobConversation,
        content: 'Validate a $100 purchase from Amazon',
        functions: ['validate_transaction'],
      },
    },
    bob,
  );
  expect(withFunction.sendMessage.status).toBe('COMPLETED');
  for (const amount of [20, 30, -5]) {
    const args = { name: 'validate_transaction', arguments: { amount, merchant: 'Amazon' } };
    await server.data(ExecuteFunction, { input: args }, bob);
  }
  const client = wsClient(server.wsUrl, BOB_KEY);
  const events = await client
    .subscribe(Chat, { input: { conversationId: bobConversation, content: 'Tell me a story' } })
    .all();
  expect(events.at(-1)?.chat.__typename).toBe('CompletionDone');
  await client.close();
  server.simulator.injectFault({ type: 'bad_request' });
  expect((await send('Break the request')).errors?.[0]?.extensions?.code).toBe('UPSTREAM_INVALID_REQUEST');
  server.simulator.injectFault({ type: 'server_error' });
  expect((await send('Hit a server error')).errors?.[0]?.extensions?.code).toBe('UPSTREAM_UNAVAILABLE');
  bobConversationUsages = await simulatorUsage(server.simulator);

  const adminConversation = (await server.data(CreateConversation, { input: { title: 'ops' } }, admin))
    .createConversation.id;
  expect((await send('Summarize the day', admin, undefined, adminConversation)).errors).toBeUndefined();

  usages = await simulatorUsage(server.simulator);
  metrics = await (await scrape(server.url, METRICS_TOKEN)).text();
});
afterAll(() => server.close());

describe('/metrics', () => {
  it('refuses a scrape without the METRICS_TOKEN', async () => {
    expect((await scrape(server.url)).status).toBe(401);
    expect((await scrape(server.url, 'not-the-metrics-token')).status).toBe(401);
  });

  it('counts upstream requests by model and outcome', () => {
    const requests = (model: string, outcome: string) =>
      sample(metrics, 'agent_upstream_requests_total', { model, outcome });
    expect(requests('gpt-4.1-mini', 'ok')).toBe(5);
    expect(requests('gpt-4o-mini', 'ok')).toBe(1);
    expect(requests('gpt-4.1-mini', 'UPSTREAM_INVALID_REQUEST')).toBe(1);
    expect(requests('gpt-4.1-mini', 'UPSTREAM_UNAVAILABLE')).toBe(1);
  });

  it('counts tokens and cost by model exactly as the simulator reported them and the model table prices them', () => {
    const expected = expectedTotals(usages);
    expect([...expected.keys()].sort()).toEqual(['gpt-4.1-mini', 'gpt-4o-mini']);
    for (const [model, totals] of expected) {
      expect(
        sample(metrics, 'agent_upstream_tokens_total', { model, kind: 'prompt', estimated: 'false' }),
      ).toBe(totals.promptTokens);
      expect(
        sample(metrics, 'agent_upstream_tokens_total', { model, kind: 'completion', estimated: 'false' }),
      ).toBe(totals.completionTokens);
      expect(
        sample(metrics, 'agent_upstream_tokens_total', { model, kind: 'cached', estimated: 'false' }),
      ).toBe(0);
      expect(sample(metrics, 'agent_upstream_cost_usd_total', { model, estimated: 'false' })).toBeCloseTo(
        totals.costUsd,
        9,
      );
    }
  });

  it('observes the latency of every upstream call and the time to first token of each successful one', () => {
    const calls = (model: string, outcome: string) =>
      sample(metrics, 'agent_upstream_request_duration_seconds_count', { model, outcome });
    expect(calls('gpt-4.1-mini', 'ok') + calls('gpt-4.1-mini', 'UPSTREAM_INVALID_REQUEST')).toBe(6);
    expect(
      sample(metrics, 'agent_upstream_time_to_first_token_seconds_count', { model: 'gpt-4.1-mini' }),
    ).toBe(5);
    expect(
      sample(metrics, 'agent_upstream_time_to_first_token_seconds_count', { model: 'gpt-4o-mini' }),
    ).toBe(1);
  });

  it('counts the errors returned to clients by code', () => {
    expect(sample(metrics, 'agent_errors_total', { code: 'UPSTREAM_INVALID_REQUEST' })).toBe(1);
    expect(sample(metrics, 'agent_errors_total', { code: 'UPSTREAM_UNAVAILABLE' })).toBe(1);
  });

  it('counts parse and validation errors, over HTTP and over graphql-ws', async () => {
    const errorsOf = async (code: string) =>
      sample(await (await scrape(server.url, METRICS_TOKEN)).text(), 'agent_errors_total', { code });
    const [parseBefore, validationBefore] = [
      await errorsOf('GRAPHQL_PARSE_FAILED'),
      await errorsOf('GRAPHQL_VALIDATION_FAILED'),
    ];
    const post = (query: string) =>
      fetch(server.url, {
        method: 'POST',
        headers: { 'content-type': 'application/json', authorization: `Bearer ${BOB_KEY}` },
        body: JSON.stringify({ query }),
      });
    const code = async (query: string) =>
      ((await (await post(query)).json()) as { errors: { extensions: { code: string } }[] }).errors[0]
        ?.extensions.code;
    expect(await code('{ viewer {')).toBe('GRAPHQL_PARSE_FAILED');
    expect(await code('{ viewer { noSuchField } }')).toBe('GRAPHQL_VALIDATION_FAILED');
    const client = wsClient(server.wsUrl, BOB_KEY);
    const invalid = client.subscribe(new TypedDocumentString('subscription { noSuchSubscription }'));
    await expect(invalid.completed).rejects.toThrow(/noSuchSubscription/);
    await client.close();
    expect((await errorsOf('GRAPHQL_PARSE_FAILED')) - parseBefore).toBe(1);
    expect((await errorsOf('GRAPHQL_VALIDATION_FAILED')) - validationBefore).toBe(2);
  });

  it('counts function calls by name and status, with their durations', () => {
    const calls = (status: string) =>
      sample(metrics, 'agent_function_calls_total', { function: 'validate_transaction', status });
    expect(calls('succeeded')).toBe(3);
    expect(calls('failed')).toBe(1);
    expect(
      sample(metrics, 'agent_function_duration_seconds_count', {
        function: 'validate_transaction',
        status: 'succeeded',
      }),
    ).toBe(3);
  });

  it('counts GraphQL operations by type and root field', () => {
    expect(
      sample(metrics, 'agent_graphql_operations_total', { type: 'mutation', operation: 'sendMessage' }),
    ).toBe(6);
    expect(
      sample(metrics, 'agent_graphql_operations_total', { type: 'subscription', operation: 'chat' }),
    ).toBe(1);
    expect(
      sample(metrics, 'agent_graphql_operation_duration_seconds_count', {
        type: 'mutation',
        operation: 'sendMessage',
      }),
    ).toBe(6);
  });

  it('shows no open streams or subscriptions once they have ended', () => {
    expect(metrics).toContain('agent_active_streams 0');
    expect(metrics).toContain('agent_active_subscriptions 0');
  });
});

describe('usage', () => {
  const totalsOf = (subset: SimulatorUsage[]) => {
    const byModel = [...expectedTotals(subset).values()];
    const promptTokens = byModel.reduce((sum, model) => sum + model.promptTokens, 0);
    const completionTokens = byModel.reduce((sum, model) => sum + model.completionTokens, 0);
    const costUsd = byModel.reduce((sum, model) => sum + model.costUsd, 0);
    return { promptTokens, completionTokens, totalTokens: promptTokens + completionTokens, costUsd };
  };

  it("gives an admin every principal's tokens and cost, equal to the simulator's usage priced by the model table", async () => {
    const { usage } = await server.data(UsageReport, {}, { apiKey: ADMIN_KEY });
    const expected = totalsOf(usages);
    expect(usage.principalId).toBeNull();
    expect(usage.completions).toBe(7);
    expect(usage.total).toEqual({ ...expected, costUsd: expect.closeTo(expected.costUsd, 9) });
  });

  it('breaks the totals down by model', async () => {
    const { usage } = await server.data(UsageReport, {}, { apiKey: ADMIN_KEY });
    const expected = expectedTotals(usages);
    expect(usage.byModel.map((row) => [row.model, row.completions])).toEqual([
      ['gpt-4.1-mini', 6],
      ['gpt-4o-mini', 1],
    ]);
    for (const row of usage.byModel) {
      const totals = expected.get(row.model);
      expect(row.usage.promptTokens).toBe(totals?.promptTokens);
      expect(row.usage.completionTokens).toBe(totals?.completionTokens);
      expect(row.usage.costUsd).toBeCloseTo(totals?.costUsd ?? -1, 9);
    }
  });

  it('shows anyone else only their own usage', async () => {
    const { usage } = await server.data(UsageReport, {}, { apiKey: BOB_KEY });
    const expected = totalsOf(bobConversationUsages);
    expect(usage.principalId).toBe(bobId);
    expect(usage.completions).toBe(6);
    expect(usage.total).toEqual({ ...expected, costUsd: expect.closeTo(expected.costUsd, 9) });
  });

  it('breaks function executions down by function', async () => {
    const { usage } = await server.data(UsageReport, {}, { apiKey: BOB_KEY });
    expect(usage.byFunction).toEqual([
      {
        functionName: 'validate_transaction',
        calls: 4,
        successes: 3,
        failures: 1,
        avgDurationMs: expect.any(Number),
      },
    ]);
  });

  it('lets an admin read one principal', async () => {
    const { usage } = await server.data(UsageReport, { principalId: bobId }, { apiKey: ADMIN_KEY });
    expect(usage.principalId).toBe(bobId);
    expect(usage.total.totalTokens).toBe(totalsOf(bobConversationUsages).totalTokens);
  });

  it("refuses another principal's usage to a non-admin with FORBIDDEN", async () => {
    const admin = await server.data(Viewer, {}, { apiKey: ADMIN_KEY });
    const response = await server.request(UsageReport, { principalId: admin.viewer.id }, { apiKey: BOB_KEY });
    expect(response.errors?.[0]?.extensions?.code).toBe('FORBIDDEN');
  });

  it('counts only completions created in [since, until)', async () => {
    const future = new Date(Date.now() + 60_000).toISOString();
    const later = await server.data(UsageReport, { since: future }, { apiKey: ADMIN_KEY });
    expect(later.usage.completions).toBe(0);
    expect(later.usage.total.costUsd).toBe(0);
    const earlier = await server.data(UsageReport, { until: future }, { apiKey: ADMIN_KEY });
    expect(earlier.usage.completions).toBe(7);

    // The boundaries: one completion moved to an exact instant is in [instant, …) and not in […, instant).
    const instant = new Date('2025-01-15T00:00:00.000Z');
    const { db } = server.app.services.database;
    const [one] = await db.select({ id: completions.id }).from(completions).limit(1);
    await db
      .update(completions)
      .set({ createdAt: instant })
      .where(eq(completions.id, one?.id ?? ''));
    const count = async (since: Date, until: Date) =>
      (
        await server.data(
          UsageReport,
          { since: since.toISOString(), until: until.toISOString() },
          { apiKey: ADMIN_KEY },
        )
      ).usage.completions;
    const ms = (offset: number) => new Date(instant.getTime() + offset);
    expect(await count(instant, ms(1))).toBe(1);
    expect(await count(ms(-1), instant)).toBe(0);
    expect(await count(ms(1), ms(2))).toBe(0);
  });

  it('rejects an until that is not after since with BAD_USER_INPUT naming until', async () => {
    const now = new Date().toISOString();
    const response = await server.request(UsageReport, { since: now, until: now }, { apiKey: ADMIN_KEY });
    expect(response.errors?.[0]?.extensions).toMatchObject({ code: 'BAD_USER_INPUT', field: 'until' });
  });

  it("sums a conversation's completions on Conversation.usage", async () => {
    const { conversation } = await server.data(
      ConversationUsage,
      { id: bobConversation },
      { apiKey: BOB_KEY },
    );
    const expected = totalsOf(bobConversationUsages);
    expect(conversation.usage).toEqual({ ...expected, costUsd: expect.closeTo(expected.costUsd, 9) });
  });
});
