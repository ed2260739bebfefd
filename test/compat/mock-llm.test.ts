import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { CancelCompletion, CompletionEvents, StartCompletion } from '../completions/documents.js';
import { CreateConversation } from '../conversations/documents.js';
import { MeteredChat } from '../observability/documents.js';
import { wsClient } from '../support/clients.js';
import { startTestServer, type TestServer } from '../support/server.js';
import { CompatCompletion, CompatSend } from './documents.js';
import { type MockLlm, startMockLlm, TOOL_ANSWER } from './mock-llm.js';

/**
 * The completion suite against an OpenAI-compatible server we did not write (@dwmkerr/mock-llm, in its own
 * process), through the real server: JSON, streamed, a tool call, and cancellation. It sends no usage, so every
 * completion here runs on the tiktoken estimate.
 */
let mock: MockLlm;
let server: TestServer;
beforeAll(async () => {
  mock = await startMockLlm();
  server = await startTestServer({ env: { OPENAI_BASE_URL: mock.url, OPENAI_MAX_RETRIES: '0' } });
});
afterAll(async () => {
  await server?.close();
  await mock?.close();
});

const newConversation = async () =>
  (await server.data(CreateConversation, { input: { title: 'compat' } })).createConversation.id;

const countText = (text: string) => server.app.services.tokens.countText(text, 'gpt-4.1-mini');

describe('against mock-llm, a server without usage', () => {
  it('completes a sendMessage and estimates its usage', async () => {
    const conversationId = await newConversation();
    const { sendMessage } = await server.data(CompatSend, {
      input: { conversationId, content: 'Hello from the compatibility suite' },
    });
    expect(sendMessage.status).toBe('COMPLETED');
    expect(sendMessage.message?.content).toBe('Echo: Hello from the compatibility suite');
    expect(sendMessage.usage).toMatchObject({
      completionTokens: await countText('Echo: Hello from the compatibility suite'),
      estimated: true,
    });
    expect(sendMessage.usage.promptTokens).toBeGreaterThan(0);
    expect(sendMessage.usage.costUsd).toBeGreaterThan(0);
  });

  it('streams a chat whose deltas make up the stored reply', async () => {
    const conversationId = await newConversation();
    const client = wsClient(server.wsUrl);
    const content = 'Stream this sentence back to me in several small chunks';
    const events = (await client.subscribe(MeteredChat, { input: { conversationId, content } }).all()).map(
      (event) => event.chat,
    );
    await client.close();
    const deltas = events.flatMap((event) => (event.__typename === 'ContentDelta' ? [event.text] : []));
    expect(deltas.length).toBeGreaterThan(1);
    expect(deltas.join('')).toBe(`Echo: ${content}`);
    const done = events.at(-1);
    if (done?.__typename !== 'CompletionDone') throw new Error(`ended with ${done?.__typename}`);
    expect(done.completion.usage).toMatchObject({
      completionTokens: await countText(`Echo: ${content}`),
      estimated: true,
    });
  });

  it('runs a tool call and answers with its result', async () => {
    const conversationId = await newConversation();
    const { sendMessage } = await server.data(CompatSend, {
      input: { conversationId, content: 'Check my purchase at Amazon', functions: ['validate_transaction'] },
    });
    expect(sendMessage.status).toBe('COMPLETED');
    expect(sendMessage.functionExecutions).toMatchObject([
      {
        functionName: 'validate_transaction',
        arguments: { amount: 100, merchant: 'Amazon' },
        status: 'SUCCEEDED',
      },
    ]);
    expect(sendMessage.message?.content).toBe(TOOL_ANSWER);
    // Both requests count: the call (its name and arguments) and the answer.
    expect(sendMessage.usage.completionTokens).toBeGreaterThan(await countText(TOOL_ANSWER));
    expect(sendMessage.usage.estimated).toBe(true);
  });

  it('cancels a streaming completion mid-way, keeping the PARTIAL reply and counting it', async () => {
    const conversationId = await newConversation();
    const content =
      'A long request whose echo takes many chunks to arrive, long enough to cancel before its end';
    const { startCompletion } = await server.data(StartCompletion, { input: { conversationId, content } });
    const client = wsClient(server.wsUrl);
    const events = client.subscribe(CompletionEvents, { completionId: startCompletion.id });
    await events.next();
    await events.next();
    const { cancelCompletion } = await server.data(CancelCompletion, { id: startCompletion.id });
    await events.completed;
    await client.close();
    expect(cancelCompletion.status).toBe('CANCELLED');
    const { completion } = await server.data(CompatCompletion, { id: startCompletion.id });
    expect(completion.message?.status).toBe('PARTIAL');
    const partial = completion.message?.content ?? '';
    expect(`Echo: ${content}`.startsWith(partial)).toBe(true);
    expect(partial.length).toBeLessThan(`Echo: ${content}`.length);
    expect(completion.usage).toMatchObject({ completionTokens: await countText(partial), estimated: true });
  });
});
