import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startTestServer, type TestServer } from '../support/server.js';
import { createTestDatabase, postgresAvailable } from '../support/services.js';
import { AnalyzeRisk, ProcessTransaction, Transactions, UpsertSpendingRule } from './documents.js';

const OWNERS = ['shopper', 'faulty', 'risky', 'fresh', 'pager'] as const;
type Owner = (typeof OWNERS)[number];
const keyOf = (owner: Owner) => `sk-${owner}-shopping`;

let server: TestServer;
beforeAll(async () => {
  server = await startTestServer({
    env: {
      API_KEYS: OWNERS.map((owner) => `${owner}:${keyOf(owner)}`).join(','),
      HIGH_RISK_MERCHANTS: 'Shady Store, Fast Cash',
    },
  });
});
afterAll(() => server.close());

async function buy(owner: Owner, amount: number, merchant = 'Amazon') {
  const { processTransaction } = await server.data(
    ProcessTransaction,
    { input: { amount, merchant, category: 'shopping' } },
    { apiKey: keyOf(owner) },
  );
  return processTransaction;
}

describe('the shopping assistant', () => {
  it('processTransaction stores the decision of the stored rules, and its completion shows the execution', async () => {
    await server.data(
      UpsertSpendingRule,
      { input: { kind: 'PER_TRANSACTION_LIMIT', amount: 50 } },
      { apiKey: keyOf('shopper') },
    );
    const transaction = await buy('shopper', 100);
    expect(transaction).toMatchObject({
      amount: 100,
      currency: 'USD',
      merchant: 'Amazon',
      category: 'shopping',
      status: 'DECLINED',
      approved: false,
      violations: ['100.00 USD exceeds the per-transaction limit of 50.00 USD'],
    });
    expect(transaction.completion).toEqual({
      status: 'COMPLETED',
      message: { content: expect.stringContaining('validate_transaction returned {"approved":false') },
      functionExecutions: [
        {
          functionName: 'validate_transaction',
          arguments: { amount: 100, merchant: 'Amazon', category: 'shopping', currency: 'USD' },
          result: {
            approved: false,
            violations: ['100.00 USD exceeds the per-transaction limit of 50.00 USD'],
            remainingBudget: null,
          },
          status: 'SUCCEEDED',
        },
      ],
    });
  });

  it('processTransaction fails with FUNCTION_FAILED and stores nothing when the model validated another purchase', async () => {
    server.simulator.injectFault({
      type: 'tool_arguments',
      arguments: '{"amount": 1, "merchant": "Amazon"}',
    });
    const response = await server.request(
      ProcessTransaction,
      { input: { amount: 100, merchant: 'Amazon', category: 'shopping' } },
      { apiKey: keyOf('faulty') },
    );
    expect(response.errors?.[0]?.extensions?.code).toBe('FUNCTION_FAILED');
    const { transactions } = await server.data(Transactions, {}, { apiKey: keyOf('faulty') });
    expect(transactions.edges).toEqual([]);
  });

  it('processTransaction refuses a bad amount before asking the model', async () => {
    const before = server.simulator.requests.length;
    const response = await server.request(
      ProcessTransaction,
      { input: { amount: 0, merchant: 'Amazon' } },
      { apiKey: keyOf('faulty') },
    );
    expect(response.errors?.[0]?.extensions).toMatchObject({ code: 'BAD_USER_INPUT', field: 'input.amount' });
    expect(server.simulator.requests).toHaveLength(before);
  });

  it('transactions lists your purchases newest first, page by page', async () => {
    for (const amount of [1, 2, 3]) await buy('pager', amount);
    const first = await server.data(Transactions, { first: 2 }, { apiKey: keyOf('pager') });
    expect(first.transactions.edges.map((edge) => edge.node.amount)).toEqual([3, 2]);
    expect(first.transactions.pageInfo.hasNextPage).toBe(true);
    const rest = await server.data(
      Transactions,
      { first: 2, after: first.transactions.pageInfo.endCursor },
      { apiKey: keyOf('pager') },
    );
    expect(rest.transactions.edges.map((edge) => edge.node.amount)).toEqual([1]);
  });

  it('analyzeRisk scores an unusual amount at a high-risk merchant and asks the risk analyst about it', async () => {
    for (const amount of [10, 12, 8]) await buy('risky', amount);
    const { analyzeRisk } = await server.data(
      AnalyzeRisk,
      { input: { amount: 100, merchant: 'Shady Store', category: 'shopping' } },
      { apiKey: keyOf('risky') },
    );
    expect(analyzeRisk.score).toBe(80);
    expect(analyzeRisk.level).toBe('HIGH');
    expect(analyzeRisk.signals).toEqual([
      {
        kind: 'UNUSUAL_AMOUNT',
        triggered: true,
        weight: 40,
        detail: '100.00 USD is 10.0x the average of 3 approved transactions (10.00 USD)',
      },
      {
        kind: 'HIGH_RISK_MERCHANT',
        triggered: true,
        weight: 40,
        detail: 'Shady Store is on the high-risk merchant list',
      },
      {
        kind: 'VELOCITY',
        triggered: false,
        weight: 20,
        detail: '3 approved transactions in the last 60 minutes (threshold 5)',
      },
    ]);
    expect(analyzeRisk.analysis).toMatch(
      /^Simulated reply to: Analyze the risk of this transaction: 100.00 USD at Shady Store/,
    );
    expect(analyzeRisk.completion.status).toBe('COMPLETED');
    expect(analyzeRisk.completion.conversation.systemPrompt).toMatch(/^You are a financial risk analyst/);
  });

  it('analyzeRisk without history scores low', async () => {
    const { analyzeRisk } = await server.data(
      AnalyzeRisk,
      { input: { amount: 100, merchant: 'Amazon' } },
      { apiKey: keyOf('fresh') },
    );
    expect(analyzeRisk).toMatchObject({ score: 0, level: 'LOW' });
    expect(analyzeRisk.signals.map((signal) => signal.triggered)).toEqual([false, false, false]);
  });
});

const postgresUp = await postgresAvailable();

describe.skipIf(!postgresUp)('concurrent purchases on PostgreSQL', () => {
  const KEY = 'sk-racer-shopping';
  let pgServer: TestServer;
  let database: { url: string; drop(): Promise<void> };
  beforeAll(async () => {
    database = await createTestDatabase();
    pgServer = await startTestServer({ env: { DATABASE_URL: database.url, API_KEYS: `racer:${KEY}` } });
  });
  afterAll(async () => {
    await pgServer?.close();
    await database?.drop();
  });

  it('cannot both spend the last of a budget: of five at once, only what fits is approved', async () => {
    await pgServer.data(
      UpsertSpendingRule,
      { input: { kind: 'DAILY_BUDGET', category: 'shopping', amount: 150 } },
      { apiKey: KEY },
    );
    const purchases = await Promise.all(
      Array.from({ length: 5 }, () =>
        pgServer.data(
          ProcessTransaction,
          { input: { amount: 100, merchant: 'Amazon', category: 'shopping' } },
          { apiKey: KEY },
        ),
      ),
    );
    const statuses = purchases.map((purchase) => purchase.processTransaction.status).sort();
    expect(statuses).toEqual(['APPROVED', 'DECLINED', 'DECLINED', 'DECLINED', 'DECLINED']);
    const { transactions } = await pgServer.data(Transactions, { first: 10 }, { apiKey: KEY });
    const approved = transactions.edges.filter((edge) => edge.node.status === 'APPROVED');
    expect(approved.reduce((sum, edge) => sum + edge.node.amount, 0)).toBe(100);
  });
});
