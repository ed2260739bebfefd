import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { wsClient } from '../support/clients.js';
import { startTestServer, type TestServer } from '../support/server.js';
import {
  ChatWithFunctions,
  CreateToolConversation,
  SendWithFunctions,
  SetFunctionEnabled,
} from './documents.js';

let server: TestServer;
beforeAll(async () => {
  server = await startTestServer();
});
afterAll(() => server.close());

async function conversation(): Promise<string> {
  const { createConversation } = await server.data(CreateToolConversation, { input: { title: 'tools' } });
  return createConversation.id;
}

/** The $100 Amazon purchase in a new conversation, with validate_transaction forced. */
async function forcedPurchase() {
  return {
    conversationId: await conversation(),
    content: 'Process a $100 purchase from Amazon',
    functions: ['validate_transaction'],
    functionCall: { name: 'validate_transaction' },
  };
}

const roles = (edges: { node: { role: string } }[]) => edges.map((edge) => edge.node.role);

describe('the tool loop', () => {
  it('forces validate_transaction: the $100 Amazon purchase runs it and the answer carries its result', async () => {
    const { sendMessage } = await server.data(SendWithFunctions, { input: await forcedPurchase() });
    expect(sendMessage.status).toBe('COMPLETED');
    expect(sendMessage.functionExecutions).toEqual([
      expect.objectContaining({
        functionName: 'validate_transaction',
        arguments: { amount: 100, merchant: 'Amazon', category: 'general', currency: 'USD' },
        result: { approved: true, violations: [], remainingBudget: null },
        status: 'SUCCEEDED',
        error: null,
      }),
    ]);
    expect(sendMessage.message?.content).toBe(
      'Function results: validate_transaction returned {"approved":true,"violations":[],"remainingBudget":null}.',
    );
    const first = server.simulator.requests.at(-2);
    expect(first?.body.tool_choice).toEqual({ type: 'function', function: { name: 'validate_transaction' } });
  });

  it('stores the assistant tool-call message and the tool result as a pair before the answer', async () => {
    const { sendMessage } = await server.data(SendWithFunctions, { input: await forcedPurchase() });
    const edges = sendMessage.conversation.messages.edges;
    expect(roles(edges)).toEqual(['USER', 'ASSISTANT', 'TOOL', 'ASSISTANT']);
    const [, caller, tool] = edges.map((edge) => edge.node);
    const toolCallId = sendMessage.functionExecutions[0]?.toolCallId;
    expect(caller?.toolCalls).toEqual([
      { id: toolCallId, functionName: 'validate_transaction', execution: { status: 'SUCCEEDED' } },
    ]);
    expect(tool).toMatchObject({ name: 'validate_transaction', toolCallId });
  });

  it('AUTO with two matching functions runs both parallel calls and answers once with both results', async () => {
    server.simulator.clearRequests();
    const { sendMessage } = await server.data(SendWithFunctions, {
      input: {
        conversationId: await conversation(),
        content: 'Process a $100 purchase from Amazon',
        functions: ['validate_transaction', 'assess_transaction_risk'],
        functionCall: { mode: 'AUTO' },
      },
    });
    const executions = sendMessage.functionExecutions;
    expect(executions.map((execution) => [execution.functionName, execution.status]).sort()).toEqual([
      ['assess_transaction_risk', 'SUCCEEDED'],
      ['validate_transaction', 'SUCCEEDED'],
    ]);
    expect(roles(sendMessage.conversation.messages.edges)).toEqual([
      'USER',
      'ASSISTANT',
      'TOOL',
      'TOOL',
      'ASSISTANT',
    ]);
    const [, answer] = server.simulator.requests;
    const sent = (answer?.body.messages ?? []) as { role: string }[];
    const toolMessages = sent.filter((message) => message.role === 'tool');
    expect(toolMessages).toHaveLength(2);
    expect(server.simulator.requests).toHaveLength(2);
    expect(sendMessage.message?.content).toMatch(
      /validate_transaction returned .*assess_transaction_risk returned/,
    );
  });

  it('NONE offers the functions but the model answers without calling any', async () => {
    const { sendMessage } = await server.data(SendWithFunctions, {
      input: {
        conversationId: await conversation(),
        content: 'Process a $100 purchase from Amazon',
        functions: ['validate_transaction'],
        functionCall: { mode: 'NONE' },
      },
    });
    expect(sendMessage.functionExecutions).toEqual([]);
    expect(sendMessage.message?.content).toMatch(/^Simulated reply to: Process a \$100 purchase/);
  });

  it('refuses an unknown function with BAD_USER_INPUT before any upstream call', async () => {
    const conversationId = await conversation();
    const before = server.simulator.requests.length;
    const response = await server.request(SendWithFunctions, {
      input: { conversationId, content: 'Hello', functions: ['no_such_function'] },
    });
    expect(response.errors?.[0]?.extensions).toMatchObject({
      code: 'BAD_USER_INPUT',
      field: 'input.functions',
    });
    expect(response.errors?.[0]?.message).toContain('unknown function "no_such_function"');
    expect(server.simulator.requests).toHaveLength(before);
  });

  it('refuses a disabled function with BAD_USER_INPUT before any upstream call', async () => {
    const conversationId = await conversation();
    await server.data(SetFunctionEnabled, { name: 'assess_transaction_risk', enabled: false });
    const before = server.simulator.requests.length;
    try {
      const response = await server.request(SendWithFunctions, {
        input: { conversationId, content: 'Hello', functions: ['assess_transaction_risk'] },
      });
      expect(response.errors?.[0]?.extensions?.code).toBe('BAD_USER_INPUT');
      expect(response.errors?.[0]?.message).toContain('is disabled');
      expect(server.simulator.requests).toHaveLength(before);
    } finally {
      await server.data(SetFunctionEnabled, { name: 'assess_transaction_risk', enabled: true });
    }
  });

  it('refuses forcing a function that is not offered', async () => {
    const response = await server.request(SendWithFunctions, {
      input: {
        conversationId: await conversation(),
        content: 'Hello',
        functions: ['validate_transaction'],
        functionCall: { name: 'assess_transaction_risk' },
      },
    });
    expect(response.errors?.[0]?.extensions).toMatchObject({
      code: 'BAD_USER_INPUT',
      field: 'input.functionCall.name',
    });
  });

  it('fails with FUNCTION_FAILED at maxSteps, keeping the calls and results so the conversation goes on', async () => {
    const input = await forcedPurchase();
    const response = await server.request(SendWithFunctions, { input: { ...input, maxSteps: 1 } });
    expect(response.errors?.[0]?.extensions?.code).toBe('FUNCTION_FAILED');
    expect(response.errors?.[0]?.message).toContain('maxSteps (1)');

    const { sendMessage } = await server.data(SendWithFunctions, {
      input: { conversationId: input.conversationId, content: 'And now?' },
    });
    expect(sendMessage.status).toBe('COMPLETED');
    expect(roles(sendMessage.conversation.messages.edges)).toEqual([
      'USER',
      'ASSISTANT',
      'TOOL',
      'USER',
      'ASSISTANT',
    ]);
  });

  it('streams ToolCallDelta and FunctionExecuted events before the answer', async () => {
    const client = wsClient(server.wsUrl);
    try {
      const events = await client
        .subscribe(ChatWithFunctions, {
          input: await forcedPurchase(),
        })
        .all();
      const kinds = [...new Set(events.map((event) => event.chat.__typename))];
      expect(kinds).toEqual(['ToolCallDelta', 'FunctionExecuted', 'ContentDelta', 'CompletionDone']);
      const deltas = events.flatMap((event) =>
        event.chat.__typename === 'ToolCallDelta' ? [event.chat] : [],
      );
      expect(JSON.parse(deltas.map((delta) => delta.argumentsDelta).join(''))).toEqual({
        amount: 100,
        merchant: 'Amazon',
        currency: 'USD',
      });
      const executed = events.find((event) => event.chat.__typename === 'FunctionExecuted')?.chat;
      expect(executed).toMatchObject({
        execution: {
          functionName: 'validate_transaction',
          status: 'SUCCEEDED',
          toolCallId: deltas[0]?.toolCallId,
        },
      });
    } finally {
      await client.close();
    }
  });
});
