import { beforeAll, describe, expect, it } from 'vitest';
import {
  ApprovalEvents,
  ApprovalOutcome,
  ApproveToolCall,
  SendForApproval,
  StartCompletion,
} from '../completions/documents.js';
import { CreateConversation } from '../conversations/documents.js';
import { purchaseAwaitingApproval } from '../support/approvals.js';
import { wsClient } from '../support/clients.js';
import { useInstances } from '../support/instances.js';
import type { ServerProcess } from '../support/process.js';
import { redisAvailable } from '../support/redis.js';
import { postgresAvailable } from '../support/services.js';

const available = (await postgresAvailable()) && (await redisAvailable());

type Event = { __typename: string; seq: number };

describe.skipIf(!available)('tool approval across instances on one PostgreSQL and one Redis', () => {
  const instances = useInstances();
  const spawn = () => instances.spawn();
  let a: ServerProcess;
  let b: ServerProcess;

  /** A completion started on `server` whose validate_transaction call waits for approval. */
  const awaitingOn = async (server: ServerProcess) => {
    const { createConversation } = await server.data(CreateConversation, { input: { title: 'approval' } });
    const { sendMessage } = await server.data(SendForApproval, {
      input: purchaseAwaitingApproval(createConversation.id),
    });
    expect(sendMessage.status).toBe('AWAITING_APPROVAL');
    return { completionId: sendMessage.id, toolCallId: sendMessage.toolApprovals[0]?.toolCallId ?? '' };
  };

  beforeAll(async () => {
    a = await spawn();
    b = await spawn();
  }, 120_000);

  it('an approval sent to B resumes a run started on A, and a subscriber on A sees it continue', async () => {
    const decision = await awaitingOn(a);
    const onA = wsClient(a.wsUrl);
    const subscription = onA.subscribe(ApprovalEvents, { completionId: decision.completionId });
    while ((await subscription.next()).completionEvents.__typename !== 'ToolApprovalRequested');

    const { approveToolCall } = await b.data(ApproveToolCall, { input: decision });
    expect(approveToolCall.status).toBe('RUNNING');
    const events: Event[] = (await subscription.all()).map((received) => received.completionEvents);
    await onA.close();

    expect(events.map((event) => event.seq)).toEqual(events.map((_, index) => index + 1));
    expect(events.map((event) => event.__typename)).toContain('FunctionExecuted');
    expect(events.at(-1)?.__typename).toBe('CompletionDone');
    const { completion } = await a.data(ApprovalOutcome, { id: decision.completionId });
    expect(completion?.status).toBe('COMPLETED');
    expect(completion?.functionExecutions).toEqual([
      { functionName: 'validate_transaction', status: 'SUCCEEDED', toolCallId: decision.toolCallId },
    ]);
  });

  it('two approvals racing on A and B: one wins, the other is TOOL_CALL_NOT_PENDING, the call runs once', async () => {
    const decision = await awaitingOn(a);
    const responses = await Promise.all(
      [a, b].map((server) => server.request(ApproveToolCall, { input: decision })),
    );
    const codes = responses.map((response) => response.errors?.[0]?.extensions?.code ?? 'OK').sort();
    expect(codes).toEqual(['OK', 'TOOL_CALL_NOT_PENDING']);
    const client = wsClient(a.wsUrl);
    await client.subscribe(ApprovalEvents, { completionId: decision.completionId }).all();
    await client.close();
    const { completion } = await b.data(ApprovalOutcome, { id: decision.completionId });
    expect(completion?.status).toBe('COMPLETED');
    expect(completion?.functionExecutions).toHaveLength(1);
  });

  it('a retried send on B of a run still going on A returns once the run waits for approval', async () => {
    const { createConversation } = await a.data(CreateConversation, { input: { title: 'retry' } });
    const input = {
      ...purchaseAwaitingApproval(createConversation.id),
      idempotencyKey: 'retry-while-running',
    };
    instances.simulator.setLatency({ firstTokenMs: 1000 });
    try {
      const { startCompletion } = await a.data(StartCompletion, { input });
      expect(startCompletion.status).toBe('RUNNING');
      const { sendMessage } = await b.data(SendForApproval, { input });
      expect(sendMessage).toMatchObject({ id: startCompletion.id, status: 'AWAITING_APPROVAL' });
    } finally {
      instances.simulator.setLatency({ firstTokenMs: 0 });
    }
  });

  it('a completion awaiting approval survives a restart: a new instance approves it and the run finishes', async () => {
    const first = await spawn();
    const decision = await awaitingOn(first);
    first.child.kill('SIGTERM');
    expect(await first.exited).toBe(0);

    const second = await spawn();
    const client = wsClient(second.wsUrl);
    const subscription = client.subscribe(ApprovalEvents, { completionId: decision.completionId });
    await second.data(ApproveToolCall, { input: decision });
    const events: Event[] = (await subscription.all()).map((received) => received.completionEvents);
    await client.close();

    expect(events.map((event) => event.seq)).toEqual(events.map((_, index) => index + 1));
    expect(events.at(-1)?.__typename).toBe('CompletionDone');
    const { completion } = await second.data(ApprovalOutcome, { id: decision.completionId });
    expect(completion?.status).toBe('COMPLETED');
    expect(completion?.functionExecutions).toHaveLength(1);
  });
});
