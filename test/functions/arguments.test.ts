import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startTestServer, type TestServer } from '../support/server.js';
import { CreateToolConversation, ExecuteFunction, SendWithFunctions } from './documents.js';

let server: TestServer;
beforeAll(async () => {
  server = await startTestServer();
});
afterAll(() => server.close());

/** Sends the Amazon purchase with validate_transaction forced, the model writing `rawArguments` for it. */
async function callWithArguments(rawArguments: string) {
  const { createConversation } = await server.data(CreateToolConversation, {
    input: { title: 'bad arguments' },
  });
  server.simulator.injectFault({ type: 'tool_arguments', arguments: rawArguments });
  const { sendMessage } = await server.data(SendWithFunctions, {
    input: {
      conversationId: createConversation.id,
      content: 'Process a $100 purchase from Amazon',
      functions: ['validate_transaction'],
      functionCall: { name: 'validate_transaction' },
    },
  });
  return sendMessage;
}

describe('arguments from the model', () => {
  it('malformed JSON is a FAILED execution whose error goes back to the model, and the loop answers', async () => {
    const completion = await callWithArguments('{"amount": 100, "merchant": "Amaz');
    expect(completion.status).toBe('COMPLETED');
    expect(completion.functionExecutions).toEqual([
      expect.objectContaining({
        status: 'FAILED',
        arguments: '{"amount": 100, "merchant": "Amaz',
        error: expect.stringMatching(/^arguments are not valid JSON/),
      }),
    ]);
    expect(completion.message?.content).toMatch(
      /^Function results: validate_transaction returned \{"error":"arguments are not valid JSON/,
    );
  });

  it('a wrong type is a FAILED execution naming the field', async () => {
    const completion = await callWithArguments('{"amount": "a hundred", "merchant": "Amazon"}');
    expect(completion.status).toBe('COMPLETED');
    expect(completion.functionExecutions[0]).toMatchObject({
      status: 'FAILED',
      error: 'invalid arguments: arguments/amount must be number',
    });
  });

  it('a missing required argument is a FAILED execution naming it', async () => {
    const completion = await callWithArguments('{"amount": 100}');
    expect(completion.functionExecutions[0]).toMatchObject({
      status: 'FAILED',
      error: "invalid arguments: arguments must have required property 'merchant'",
    });
  });

  it('extra keys are removed before the function runs', async () => {
    const completion = await callWithArguments('{"amount": 100, "merchant": "Amazon", "approve": true}');
    expect(completion.functionExecutions[0]).toMatchObject({
      status: 'SUCCEEDED',
      arguments: { amount: 100, merchant: 'Amazon', category: 'general', currency: 'USD' },
    });
  });

  it.each(['__proto__', 'constructor', 'prototype'])('a %s key is a FAILED execution', async (key) => {
    const completion = await callWithArguments(
      `{"amount": 100, "merchant": "Amazon", "${key}": {"admin": true}}`,
    );
    expect(completion.status).toBe('COMPLETED');
    expect(completion.functionExecutions[0]).toMatchObject({
      status: 'FAILED',
      error: `arguments may not use the key "${key}"`,
    });
  });

  it('a prototype key nested deep inside is refused too', async () => {
    const completion = await callWithArguments(
      '{"amount": 100, "merchant": "Amazon", "meta": {"a": {"__proto__": 1}}}',
    );
    expect(completion.functionExecutions[0]?.error).toBe('arguments may not use the key "__proto__"');
  });

  it('executeFunction with invalid arguments returns a FAILED execution, not an error', async () => {
    const { executeFunction } = await server.data(ExecuteFunction, {
      input: { name: 'validate_transaction', arguments: { amount: -5, merchant: 'Amazon' } },
    });
    expect(executeFunction).toMatchObject({
      functionName: 'validate_transaction',
      status: 'FAILED',
      error: 'invalid arguments: arguments/amount must be > 0',
      toolCallId: null,
    });
  });
});
