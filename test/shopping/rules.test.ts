import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { UpsertSpendingRuleInput } from '../gql/graphql.js';
import { startTestServer, type TestServer } from '../support/server.js';
import { ProcessTransaction, SpendingRules, UpsertSpendingRule } from './documents.js';

const OWNERS = ['limit', 'daily', 'monthly', 'merchant', 'category', 'velocity', 'upsert', 'other'] as const;
type Owner = (typeof OWNERS)[number];
const keyOf = (owner: Owner) => `sk-${owner}-rules`;

let server: TestServer;
beforeAll(async () => {
  server = await startTestServer({
    env: { API_KEYS: OWNERS.map((owner) => `${owner}:${keyOf(owner)}`).join(',') },
  });
});
afterAll(() => server.close());

const rule = (owner: Owner, input: UpsertSpendingRuleInput) =>
  server.data(UpsertSpendingRule, { input }, { apiKey: keyOf(owner) });

async function buy(owner: Owner, amount: number, merchant = 'Amazon', category = 'shopping') {
  const { processTransaction } = await server.data(
    ProcessTransaction,
    { input: { amount, merchant, category } },
    { apiKey: keyOf(owner) },
  );
  return processTransaction;
}

describe('spending rules', () => {
  it('a per-transaction limit approves up to the limit and declines above it', async () => {
    await rule('limit', { kind: 'PER_TRANSACTION_LIMIT', amount: 100 });
    expect(await buy('limit', 100)).toMatchObject({ status: 'APPROVED', violations: [] });
    expect(await buy('limit', 100.01)).toMatchObject({
      status: 'DECLINED',
      violations: ['100.01 USD exceeds the per-transaction limit of 100.00 USD'],
    });
  });

  it('a daily category budget counts the approved spending of the day in that category', async () => {
    await rule('daily', { kind: 'DAILY_BUDGET', amount: 100, category: 'Shopping' });
    expect(await buy('daily', 60)).toMatchObject({ status: 'APPROVED', remainingBudget: 40 });
    expect(await buy('daily', 50)).toMatchObject({
      status: 'DECLINED',
      violations: ['50.00 USD would exceed the daily budget for shopping of 100.00 USD (60.00 USD spent)'],
      remainingBudget: 40,
    });
    expect(await buy('daily', 40)).toMatchObject({ status: 'APPROVED', remainingBudget: 0 });
    expect(await buy('daily', 500, 'Grocer', 'groceries')).toMatchObject({
      status: 'APPROVED',
      remainingBudget: null,
    });
  });

  it('a monthly budget without a category counts every category', async () => {
    await rule('monthly', { kind: 'MONTHLY_BUDGET', amount: 1000 });
    expect(await buy('monthly', 700, 'Grocer', 'groceries')).toMatchObject({
      status: 'APPROVED',
      remainingBudget: 300,
    });
    expect(await buy('monthly', 300.5)).toMatchObject({
      status: 'DECLINED',
      violations: ['300.50 USD would exceed the monthly budget of 1000.00 USD (700.00 USD spent)'],
    });
  });

  it('a blocked merchant is declined whatever its case, and others approved', async () => {
    await rule('merchant', { kind: 'BLOCKED_MERCHANT', merchant: 'Casino Royale' });
    expect(await buy('merchant', 10, 'casino royale')).toMatchObject({
      status: 'DECLINED',
      violations: ['merchant Casino Royale is blocked'],
    });
    expect(await buy('merchant', 10, 'Amazon')).toMatchObject({ status: 'APPROVED' });
  });

  it('a blocked category is declined, and others approved', async () => {
    await rule('category', { kind: 'BLOCKED_CATEGORY', category: 'gambling' });
    expect(await buy('category', 10, 'Casino', 'Gambling')).toMatchObject({
      status: 'DECLINED',
      violations: ['category gambling is blocked'],
    });
    expect(await buy('category', 10, 'Amazon', 'books')).toMatchObject({ status: 'APPROVED' });
  });

  it('velocity counts the stored approved transactions in its window', async () => {
    await rule('velocity', { kind: 'VELOCITY', maxTransactions: 2, windowMinutes: 60 });
    expect((await buy('velocity', 1)).status).toBe('APPROVED');
    expect((await buy('velocity', 2)).status).toBe('APPROVED');
    const third = await buy('velocity', 3);
    expect(third).toMatchObject({
      status: 'DECLINED',
      violations: ['2 transactions in the last 60 minutes: at most 2 allowed'],
    });
    await rule('velocity', { kind: 'VELOCITY', maxTransactions: 3, windowMinutes: 60 });
    expect((await buy('velocity', 4)).status).toBe('APPROVED');
  });

  it('upserting the same kind and scope replaces the rule; a disabled rule stops applying', async () => {
    await rule('upsert', { kind: 'DAILY_BUDGET', amount: 10, category: 'books' });
    await rule('upsert', { kind: 'DAILY_BUDGET', amount: 20, category: 'books', enabled: false });
    const { spendingRules } = await server.data(SpendingRules, undefined, { apiKey: keyOf('upsert') });
    expect(spendingRules).toEqual([
      expect.objectContaining({
        kind: 'DAILY_BUDGET',
        amount: 20,
        category: 'books',
        currency: 'USD',
        enabled: false,
      }),
    ]);
    expect((await buy('upsert', 50, 'Bookshop', 'books')).status).toBe('APPROVED');
  });

  it('are per owner: another owner sees none of them and is not bound by them', async () => {
    await rule('limit', { kind: 'PER_TRANSACTION_LIMIT', amount: 100 });
    const { spendingRules } = await server.data(SpendingRules, undefined, { apiKey: keyOf('other') });
    expect(spendingRules).toEqual([]);
    expect((await buy('other', 5000)).status).toBe('APPROVED');
  });

  it('refuse a field that belongs to another kind, naming it', async () => {
    const response = await server.request(
      UpsertSpendingRule,
      { input: { kind: 'VELOCITY', maxTransactions: 2, windowMinutes: 60, amount: 5 } },
      { apiKey: keyOf('upsert') },
    );
    expect(response.errors?.[0]?.extensions?.code).toBe('BAD_USER_INPUT');
    expect(response.errors?.[0]?.message).toBe('input: Unrecognized key: "amount"');
  });
});
