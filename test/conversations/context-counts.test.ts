import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { REPLY_PRIMING_TOKENS } from '../../src/tokens/index.js';
import { graphql } from '../gql/index.js';
import { startTestServer, type TestServer } from '../support/server.js';
import {
  appendMessages,
  ContextMessages,
  ContextSendMessage,
  CreateContextConversation,
  toolCallPair,
} from './context-support.js';
import { AddMessage } from './documents.js';

const AvailableFunctions = graphql(`
  query AvailableFunctions {
    functions { name description parameters }
  }
`);

let server: TestServer;
beforeAll(async () => {
  server = await startTestServer();
});
afterAll(() => server.close());

/** Sends a message and returns the simulator's prompt_tokens with our stored counts of what was sent. */
async function sendAndCount(conversationId: string, input: { functions?: string[] } = {}) {
  const { sendMessage } = await server.data(ContextSendMessage, {
    input: {
      conversationId,
      content: 'Thanks. What did we find out so far?',
      ...(input.functions ? { functions: input.functions, functionCall: { mode: 'NONE' as const } } : {}),
    },
  });
  const { conversation } = await server.data(ContextMessages, { id: conversationId });
  const sent = (conversation?.messages.edges ?? [])
    .map((edge) => edge.node)
    .filter((message) => message.id !== sendMessage.message?.id);
  const stored = sent.reduce((total, message) => total + message.tokenCount, 0);
  return { promptTokens: sendMessage.usage.promptTokens, stored };
}

describe.each(['gpt-4', 'gpt-4o'])('token counts on %s', (model) => {
  it('equal the simulator prompt_tokens for messages with names', async () => {
    const { createConversation } = await server.data(CreateContextConversation, {
      input: { model, systemPrompt: 'You are a concise assistant for a small team.' },
    });
    const id = createConversation.id;
    for (const [role, content, name] of [
      ['USER', 'Hi, I am planning a trip to Lisbon in May.', 'alice'],
      ['ASSISTANT', 'Lisbon in May is lovely: warm days, few crowds.', null],
      ['USER', 'Ünïcödé, emoji 🚀 and <|endoftext|> must count the same on both sides.', 'bob_2'],
    ] as const) {
      await server.data(AddMessage, { input: { conversationId: id, role, content, name } });
    }
    const { promptTokens, stored } = await sendAndCount(id);
    expect(promptTokens).toBe(stored + REPLY_PRIMING_TOKENS);
  });

  it('equal the simulator prompt_tokens for tool calls and their results', async () => {
    const { createConversation } = await server.data(CreateContextConversation, {
      input: { model, systemPrompt: 'You look things up before answering.' },
    });
    const id = createConversation.id;
    await server.data(AddMessage, {
      input: { conversationId: id, role: 'USER', content: 'Find two hotels.' },
    });
    await appendMessages(server, id, [
      ...toolCallPair('hotels', 2, 'Hotel Avenida, Casa do Rio'),
      { role: 'assistant', content: 'I found Hotel Avenida and Casa do Rio.' },
      ...toolCallPair('prices', 1, '{"Hotel Avenida": 120, "Casa do Rio": 95}'),
    ]);
    const { promptTokens, stored } = await sendAndCount(id);
    expect(promptTokens).toBe(stored + REPLY_PRIMING_TOKENS);
  });

  it('equal the simulator prompt_tokens with tool definitions offered', async () => {
    const { functions } = await server.data(AvailableFunctions);
    expect(functions.length).toBeGreaterThan(0);
    const { createConversation } = await server.data(CreateContextConversation, {
      input: { model, systemPrompt: 'You help with purchases.' },
    });
    const { promptTokens, stored } = await sendAndCount(createConversation.id, {
      functions: functions.map((fn) => fn.name),
    });
    const toolTokens = await server.app.services.tokens.countTools(
      functions.map((fn) => ({
        name: fn.name,
        description: fn.description,
        parameters: fn.parameters as Record<string, unknown>,
      })),
      model,
    );
    expect(toolTokens).toBeGreaterThan(0);
    expect(promptTokens).toBe(stored + REPLY_PRIMING_TOKENS + toolTokens);
  });
});
