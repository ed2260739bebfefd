import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { CreateToolConversation } from '../functions/documents.js';
import { PURCHASE_ARGUMENTS, purchaseAwaitingApproval } from '../support/approvals.js';
import { wsClient } from '../support/clients.js';
import { startTestServer, type TestServer } from '../support/server.js';
import {
  ApprovalEvents,
  ApprovalOutcome,
  ApproveToolCall,
  CancelCompletion,
  DenyToolCall,
  SendForApproval,
} from './documents.js';

const ALICE = 'sk-alice-approvals';
const BOB = 'sk-bob-approvals';

/** A completion whose forced validate_transaction call waits for approval, as sendMessage returns it. */
async function awaitingPurchase(server: TestServer) {
  const { createConversation } = await server.data(
    CreateToolConversation,
    { input: { title: 'approvals' } },
    { apiKey: ALICE },
  );
  const { sendMessage } = await server.data(
    SendForApproval,
    { input: purchaseAwaitingApproval(createConversation.id) },
    { apiKey: ALICE },
  );
  const toolCallId = sendMessage.toolApprovals[0]?.toolCallId ?? '';
  return { completion: sendMessage, decision: { completionId: sendMessage.id, toolCallId } };
}

const outcome = async (server: TestServer, id: string) =>
  (await server.data(ApprovalOutcome, { id }, { apiKey: ALICE })).completion;

/** The completion's events after `afterSeq`, up to its end. */
async function eventsUntilEnd(server: TestServer, completionId: string, afterSeq = 0) {
  const client = wsClient(server.wsUrl, ALICE);
  const events = await client.subscribe(ApprovalEvents, { completionId, afterSeq }).all();
  await client.close();
  return events.map((event) => event.completionEvents);
}

describe('tool approval', () => {
  let server: TestServer;
  beforeAll(async () => {
    server = await startTestServer({ env: { API_KEYS: `alice:${ALICE},bob:${BOB}` } });
  });
  afterAll(() => server.close());

  it('pauses the completion as AWAITING_APPROVAL with the validated arguments, running nothing', async () => {
    const { completion } = await awaitingPurchase(server);
    expect(completion.status).toBe('AWAITING_APPROVAL');
    expect(completion.message).toBeNull();
    expect(completion.functionExecutions).toEqual([]);
    expect(completion.toolApprovals).toEqual([
      expect.objectContaining({
        functionName: 'validate_transaction',
        arguments: PURCHASE_ARGUMENTS,
        status: 'PENDING',
        reason: null,
        decidedAt: null,
      }),
    ]);
  });

  it('approving runs the call once and the model answers with its result', async () => {
    const { decision } = await awaitingPurchase(server);
    await server.data(ApproveToolCall, { input: decision }, { apiKey: ALICE });
    const events = await eventsUntilEnd(server, decision.completionId);
    expect(events.at(-1)?.__typename).toBe('CompletionDone');
    const completion = await outcome(server, decision.completionId);
    expect(completion?.status).toBe('COMPLETED');
    expect(completion?.functionExecutions).toEqual([
      { functionName: 'validate_transaction', status: 'SUCCEEDED', toolCallId: decision.toolCallId },
    ]);
    expect(completion?.message?.content).toBe(
      'Function results: validate_transaction returned {"approved":true,"violations":[],"remainingBudget":null}.',
    );
    expect(completion?.toolApprovals).toEqual([
      expect.objectContaining({ status: 'APPROVED', decidedAt: expect.any(String) }),
    ]);
  });

  it('denying with a reason runs nothing and the model is told the call was denied, and why', async () => {
    const { decision } = await awaitingPurchase(server);
    const reason = 'too expensive this month';
    await server.data(DenyToolCall, { input: { ...decision, reason } }, { apiKey: ALICE });
    await eventsUntilEnd(server, decision.completionId);
    const completion = await outcome(server, decision.completionId);
    expect(completion?.status).toBe('COMPLETED');
    expect(completion?.functionExecutions).toEqual([]);
    expect(completion?.message?.content).toBe(
      `Function results: validate_transaction returned {"error":"The user denied this call: ${reason}"}.`,
    );
    expect(completion?.toolApprovals).toEqual([expect.objectContaining({ status: 'DENIED', reason })]);
  });

  it('approving twice is TOOL_CALL_NOT_PENDING and the call still ran only once', async () => {
    const { decision } = await awaitingPurchase(server);
    await server.data(ApproveToolCall, { input: decision }, { apiKey: ALICE });
    const again = await server.request(ApproveToolCall, { input: decision }, { apiKey: ALICE });
    expect(again.errors?.[0]?.extensions?.code).toBe('TOOL_CALL_NOT_PENDING');
    expect(again.errors?.[0]?.message).toContain('it was approved already');
    await eventsUntilEnd(server, decision.completionId);
    const completion = await outcome(server, decision.completionId);
    expect(completion?.functionExecutions).toHaveLength(1);
  });

  it('approving a denied call is TOOL_CALL_NOT_PENDING and runs nothing', async () => {
    const { decision } = await awaitingPurchase(server);
    await server.data(DenyToolCall, { input: decision }, { apiKey: ALICE });
    const approved = await server.request(ApproveToolCall, { input: decision }, { apiKey: ALICE });
    expect(approved.errors?.[0]?.extensions?.code).toBe('TOOL_CALL_NOT_PENDING');
    await eventsUntilEnd(server, decision.completionId);
    const completion = await outcome(server, decision.completionId);
    expect(completion?.functionExecutions).toEqual([]);
  });

  it('only the owner decides: another principal gets NOT_FOUND and the call keeps waiting', async () => {
    const { decision } = await awaitingPurchase(server);
    const approve = await server.request(ApproveToolCall, { input: decision }, { apiKey: BOB });
    const deny = await server.request(DenyToolCall, { input: decision }, { apiKey: BOB });
    expect([approve, deny].map((response) => response.errors?.[0]?.extensions?.code)).toEqual([
      'NOT_FOUND',
      'NOT_FOUND',
    ]);
    const completion = await outcome(server, decision.completionId);
    expect(completion?.status).toBe('AWAITING_APPROVAL');
    expect(completion?.toolApprovals).toEqual([expect.objectContaining({ status: 'PENDING' })]);
  });

  it('an unknown tool call is NOT_FOUND', async () => {
    const { decision } = await awaitingPurchase(server);
    const response = await server.request(
      ApproveToolCall,
      { input: { ...decision, toolCallId: 'call_unknown' } },
      { apiKey: ALICE },
    );
    expect(response.errors?.[0]?.extensions?.code).toBe('NOT_FOUND');
  });

  it('a denial reason over 1000 characters is BAD_USER_INPUT and the call keeps waiting', async () => {
    const { decision } = await awaitingPurchase(server);
    const response = await server.request(
      DenyToolCall,
      { input: { ...decision, reason: 'x'.repeat(1001) } },
      { apiKey: ALICE },
    );
    expect(response.errors?.[0]?.extensions?.code).toBe('BAD_USER_INPUT');
    const completion = await outcome(server, decision.completionId);
    expect(completion?.toolApprovals).toEqual([expect.objectContaining({ status: 'PENDING' })]);
  });

  it('a subscriber sees ToolApprovalRequested, then the execution and the answer, seq without gaps', async () => {
    const { decision } = await awaitingPurchase(server);
    const client = wsClient(server.wsUrl, ALICE);
    const subscription = client.subscribe(ApprovalEvents, { completionId: decision.completionId });
    let event = (await subscription.next()).completionEvents;
    while (event.__typename !== 'ToolApprovalRequested') event = (await subscription.next()).completionEvents;
    expect(event).toMatchObject({
      toolCall: { id: decision.toolCallId, functionName: 'validate_transaction' },
      arguments: PURCHASE_ARGUMENTS,
    });
    await server.data(ApproveToolCall, { input: decision }, { apiKey: ALICE });
    const events = (await subscription.all()).map((received) => received.completionEvents);
    await client.close();
    expect(events.map((received) => received.seq)).toEqual(events.map((_, index) => index + 1));
    const kinds = events.map((received) => received.__typename);
    expect(kinds.slice(kinds.indexOf('ToolApprovalRequested'))).toEqual([
      'ToolApprovalRequested',
      'FunctionExecuted',
      ...kinds.filter((kind) => kind === 'ContentDelta'),
      'CompletionDone',
    ]);
  });

  it('cancelling a completion that waits ends it CANCELLED and denies its calls', async () => {
    const { decision } = await awaitingPurchase(server);
    const { cancelCompletion } = await server.data(
      CancelCompletion,
      { id: decision.completionId },
      { apiKey: ALICE },
    );
    expect(cancelCompletion.status).toBe('CANCELLED');
    const events = await eventsUntilEnd(server, decision.completionId);
    expect(events.at(-1)).toMatchObject({ __typename: 'CompletionFailed', error: { code: 'CANCELLED' } });
    const approved = await server.request(ApproveToolCall, { input: decision }, { apiKey: ALICE });
    expect(approved.errors?.[0]?.extensions?.code).toBe('TOOL_CALL_NOT_PENDING');
  });
});

describe('tool approval expiry', () => {
  let server: TestServer;
  beforeAll(async () => {
    server = await startTestServer({ env: { API_KEYS: `alice:${ALICE}`, TOOL_APPROVAL_TIMEOUT_MS: '1000' } });
  });
  afterAll(() => server.close());

  it('a call nobody decides in time is denied as expired, and the model is told why', async () => {
    const { decision } = await awaitingPurchase(server);
    const events = await eventsUntilEnd(server, decision.completionId);
    expect(events.at(-1)?.__typename).toBe('CompletionDone');
    const completion = await outcome(server, decision.completionId);
    const reason = 'No one approved or denied this call within 1 s: it expired and did not run';
    expect(completion?.toolApprovals).toEqual([expect.objectContaining({ status: 'EXPIRED', reason })]);
    expect(completion?.functionExecutions).toEqual([]);
    expect(completion?.message?.content).toBe(
      `Function results: validate_transaction returned {"error":"${reason}"}.`,
    );
  });

  it('approving an expired call is TOOL_CALL_NOT_PENDING, saying it expired', async () => {
    const { decision } = await awaitingPurchase(server);
    await eventsUntilEnd(server, decision.completionId);
    const response = await server.request(ApproveToolCall, { input: decision }, { apiKey: ALICE });
    expect(response.errors?.[0]?.extensions?.code).toBe('TOOL_CALL_NOT_PENDING');
    expect(response.errors?.[0]?.message).toContain('it expired');
  });
});

describe('tool approval across a restart', () => {
  const directory = mkdtempSync(join(tmpdir(), 'approvals-'));
  afterAll(() => rmSync(directory, { recursive: true, force: true }));
  const start = () =>
    startTestServer({ env: { API_KEYS: `alice:${ALICE}`, DATABASE_URL: join(directory, 'db') } });

  it('a completion awaiting approval survives a restart on the same PGlite directory, and a reconnecting subscriber resumes', async () => {
    const first = await start();
    const { decision } = await awaitingPurchase(first);
    const client = wsClient(first.wsUrl, ALICE);
    const subscription = client.subscribe(ApprovalEvents, { completionId: decision.completionId });
    let requested = (await subscription.next()).completionEvents;
    while (requested.__typename !== 'ToolApprovalRequested')
      requested = (await subscription.next()).completionEvents;
    await client.close();
    await first.close();

    const second = await start();
    try {
      // Its events were kept in the first instance's memory: a new subscriber starts from the stored request.
      const fresh = wsClient(second.wsUrl, ALICE);
      const replayed = fresh.subscribe(ApprovalEvents, { completionId: decision.completionId });
      expect((await replayed.next()).completionEvents).toMatchObject({
        __typename: 'ToolApprovalRequested',
        seq: requested.seq,
        toolCall: { id: decision.toolCallId },
      });
      await fresh.close();
      await second.data(ApproveToolCall, { input: decision }, { apiKey: ALICE });
      const rest = await eventsUntilEnd(second, decision.completionId, requested.seq);
      expect(rest.map((event) => event.seq)).toEqual(rest.map((_, index) => requested.seq + index + 1));
      expect(rest.at(-1)?.__typename).toBe('CompletionDone');
      const completion = await outcome(second, decision.completionId);
      expect(completion?.status).toBe('COMPLETED');
      expect(completion?.functionExecutions).toHaveLength(1);
    } finally {
      await second.close();
    }
  });
});
