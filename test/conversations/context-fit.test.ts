import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { SUMMARY_PREFIX } from '../../src/conversations/context.js';
import { startTestServer, type TestServer } from '../support/server.js';
import {
  appendMessages,
  ContextMessages,
  ContextSendMessage,
  CreateContextConversation,
  toolCallPair,
} from './context-support.js';

const GPT4_WINDOW = 8192;
const MAX_TOKENS = 2000;

let server: TestServer;
beforeAll(async () => {
  server = await startTestServer();
});
afterAll(() => server.close());
beforeEach(() => server.simulator.clearRequests());

/** A gpt-4 conversation holding about `approxTokens` tokens of history, with tool-call pairs in it. */
async function longConversation(approxTokens: number, strategy: 'DROP_OLDEST' | 'SUMMARIZE') {
  const { createConversation } = await server.data(CreateContextConversation, {
    input: {
      model: 'gpt-4',
      systemPrompt: 'You are a travel assistant.',
      settings: { maxTokens: MAX_TOKENS },
      contextStrategy: strategy,
    },
  });
  const paragraph = 'We compared trains, ferries and flights between the islands at length. '.repeat(40);
  // A round (question, two calls with long results, answer) is about 1,600 tokens.
  const rounds = Math.ceil(approxTokens / 1600);
  for (let round = 0; round < rounds; round++) {
    await appendMessages(server, createConversation.id, [
      { role: 'user', content: `Question ${round}: ${paragraph}` },
      ...toolCallPair(`r${round}`, 2, paragraph),
      { role: 'assistant', content: `Answer ${round}.` },
    ]);
  }
  return createConversation.id;
}

async function messagesOf(id: string) {
  const { conversation } = await server.data(ContextMessages, { id });
  return (conversation?.messages.edges ?? []).map((edge) => edge.node);
}

describe('automatic fit before each completion', () => {
  it('completes a conversation far beyond the model window, the trimmed messages still readable', async () => {
    const id = await longConversation(3 * GPT4_WINDOW, 'DROP_OLDEST');
    const { sendMessage } = await server.data(ContextSendMessage, {
      input: { conversationId: id, content: 'Which option did we pick?' },
    });

    expect(sendMessage.status).toBe('COMPLETED');
    expect(sendMessage.usage.promptTokens).toBeLessThanOrEqual(GPT4_WINDOW - MAX_TOKENS);
    const stored = await messagesOf(id);
    const trimmed = stored.filter((message) => !message.inContext);
    expect(trimmed.length).toBeGreaterThan(0);
    expect(trimmed[0]?.content).toMatch(/^Question 0:/);
    const [request] = server.simulator.requests;
    const sent = request?.body.messages as { role: string; content: string | null }[];
    expect(sent[0]).toMatchObject({ role: 'system', content: 'You are a travel assistant.' });
    expect(sent.at(-1)).toMatchObject({ role: 'user', content: 'Which option did we pick?' });
    expect(sent).toHaveLength(stored.filter((message) => message.inContext).length - 1);
  });

  it('replaces the oldest messages with a model-written summary under SUMMARIZE', async () => {
    const id = await longConversation(2 * GPT4_WINDOW, 'SUMMARIZE');
    const { sendMessage } = await server.data(ContextSendMessage, {
      input: { conversationId: id, content: 'Which option did we pick?' },
    });

    expect(sendMessage.status).toBe('COMPLETED');
    expect(server.simulator.requests).toHaveLength(2);
    const [summaryRequest, request] = server.simulator.requests;
    expect(summaryRequest?.body.max_completion_tokens).toBeLessThanOrEqual(256);
    const sent = request?.body.messages as { role: string; content: string | null }[];
    expect(sent[0]).toMatchObject({ role: 'system', content: 'You are a travel assistant.' });
    expect(sent[1]?.role).toBe('system');
    expect(sent[1]?.content?.startsWith(SUMMARY_PREFIX)).toBe(true);
    const summary = (await messagesOf(id)).find((message) => message.summaryOfSeq !== null);
    expect(summary).toMatchObject({ role: 'SYSTEM', inContext: true, summaryOfSeq: 2 });
  });

  it('counts offered tool definitions toward the window', async () => {
    const { createConversation } = await server.data(CreateContextConversation, {
      input: { model: 'gpt-4', systemPrompt: 'You help with purchases.' },
    });
    const id = createConversation.id;
    const [first] = await appendMessages(server, id, [
      { role: 'user', content: `An early question about returns. ${'Details follow. '.repeat(100)}` },
      { role: 'assistant', content: 'Returns are free within 30 days.' },
    ]);
    const { tokens, conversations } = server.app.services;
    const content = 'Can I buy a $20 book from Amazon?';
    const prompt =
      (await conversations.tokenCount(first?.conversationId ?? '')) +
      (await tokens.countMessage({ role: 'user', content }, 'gpt-4'));
    // Without the tool definitions this request would fit exactly; with them the long first question must go.
    const maxTokens = GPT4_WINDOW - prompt;

    const { sendMessage } = await server.data(ContextSendMessage, {
      input: {
        conversationId: id,
        content,
        maxTokens,
        functions: ['validate_transaction'],
        functionCall: { mode: 'NONE' },
      },
    });

    expect(sendMessage.status).toBe('COMPLETED');
    const stored = await messagesOf(id);
    expect(stored.filter((message) => !message.inContext).map((message) => message.seq)).toEqual([
      first?.seq,
    ]);
    expect(sendMessage.usage.promptTokens + maxTokens).toBeLessThanOrEqual(GPT4_WINDOW);
  });

  it('fails a single oversize user message with CONTEXT_TOO_LONG before any upstream request', async () => {
    const { createConversation } = await server.data(CreateContextConversation, {
      input: { model: 'gpt-4', systemPrompt: 'You are brief.' },
    });
    const content = 'word '.repeat(GPT4_WINDOW);

    const response = await server.request(ContextSendMessage, {
      input: { conversationId: createConversation.id, content },
    });

    expect(response.errors?.[0]?.extensions?.code).toBe('CONTEXT_TOO_LONG');
    expect(server.simulator.requests).toHaveLength(0);
    const stored = await messagesOf(createConversation.id);
    expect(stored.map((message) => [message.role, message.content === content])).toEqual([
      ['SYSTEM', false],
      ['USER', true],
    ]);
  });
});
