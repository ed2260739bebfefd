import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ApprovalEvents, ApproveToolCall, DenyToolCall } from '../completions/documents.js';
import { wsClient } from '../support/clients.js';
import { startTestServer, type TestServer } from '../support/server.js';
import { ProcessTransactionForApproval, TransactionDecision, UpsertSpendingRule } from './documents.js';

let server: TestServer;
beforeAll(async () => {
  server = await startTestServer();
  await server.data(UpsertSpendingRule, { input: { kind: 'APPROVAL_ABOVE', amount: 500 } });
  await server.data(UpsertSpendingRule, { input: { kind: 'PER_TRANSACTION_LIMIT', amount: 2000 } });
});
afterAll(() => server.close());

const buy = async (amount: number) =>
  (await server.data(ProcessTransactionForApproval, { input: { amount, merchant: 'Amazon' } }))
    .processTransaction;

/** Decides the purchase's waiting call and waits for its completion to end. */
async function decide(purchase: Awaited<ReturnType<typeof buy>>, approve: boolean) {
  const completionId = purchase.completion?.id ?? '';
  const input = { completionId, toolCallId: purchase.completion?.toolApprovals[0]?.toolCallId ?? '' };
  if (approve) await server.data(ApproveToolCall, { input });
  else await server.data(DenyToolCall, { input: { ...input, reason: 'not this week' } });
  const client = wsClient(server.wsUrl);
  await client.subscribe(ApprovalEvents, { completionId }).all();
  await client.close();
  return (await server.data(TransactionDecision, { id: purchase.id })).node;
}

describe('purchases above an APPROVAL_ABOVE rule', () => {
  it('wait for a person: PENDING_APPROVAL, the validate_transaction call waiting with the purchase', async () => {
    const purchase = await buy(900);
    expect(purchase).toMatchObject({
      status: 'PENDING_APPROVAL',
      violations: ['900.00 USD is above the approval threshold of 500.00 USD'],
      completion: {
        status: 'AWAITING_APPROVAL',
        toolApprovals: [
          {
            arguments: { amount: 900, merchant: 'Amazon', category: 'general', currency: 'USD' },
            status: 'PENDING',
          },
        ],
      },
    });
  });

  it('once approved, are decided by the rules', async () => {
    expect(await decide(await buy(900), true)).toEqual({
      status: 'APPROVED',
      violations: [],
      remainingBudget: null,
    });
  });

  it('once approved, are still declined when a rule says so', async () => {
    expect(await decide(await buy(2500), true)).toMatchObject({
      status: 'DECLINED',
      violations: ['2500.00 USD exceeds the per-transaction limit of 2000.00 USD'],
    });
  });

  it('when denied, are declined with the reason', async () => {
    expect(await decide(await buy(900), false)).toMatchObject({
      status: 'DECLINED',
      violations: ['The user denied this call: not this week'],
    });
  });

  it('at or below the threshold go through at once', async () => {
    const purchase = await buy(500);
    expect(purchase.status).toBe('APPROVED');
    expect(purchase.completion?.status).toBe('COMPLETED');
  });
});
