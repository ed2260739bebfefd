import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { REPLY_PRIMING_TOKENS } from '../../src/tokens/index.js';
import { RegisterFunction } from '../functions/documents.js';
import { graphql } from '../gql/index.js';
import { startTestServer, type TestServer } from '../support/server.js';
import { NAMED_MESSAGES, WEATHER_TOOL_CALL, WEATHER_TOOL_REQUEST } from '../tokens/cookbook.js';
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
  // A webhook function is registered (never called) to offer the cookbook's tool definition.
  server = await startTestServer({ env: { FUNCTION_WEBHOOK_ALLOWLIST: '127.0.0.1' } });
  await server.data(RegisterFunction, {
    input: { ...WEATHER_TOOL_REQUEST.tool, webhookUrl: 'http://127.0.0.1:9/weather' },
  });
});
afterAll(() => server.close());

/** Sends a message and returns the simulator's prompt_tokens with our stored counts of what was sent. */
async function sendAndCount(conversationId: string, input: { functions?: string[]; content?: string } = {}) {
  const { sendMessage } = await server.data(ContextSendMessage, {
    input: {
      conversationId,
      content: input.content ?? 'Thanks. What did we find out so far?',
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

describe.each(['gpt-4', 'gpt-4o'] as const)('token counts on %s, against the OpenAI cookbook', (model) => {
  it('are what the API reported for system messages with names', async () => {
    const [system, ...named] = NAMED_MESSAGES.messages.slice(0, -1);
    const user = NAMED_MESSAGES.messages.at(-1);
    const { createConversation } = await server.data(CreateContextConversation, {
      input: { model, systemPrompt: system?.content },
    });
    for (const message of named) {
      await server.data(AddMessage, {
        input: {
          conversationId: createConversation.id,
          role: 'SYSTEM',
          content: message.content,
          name: 'name' in message ? message.name : null,
        },
      });
    }
    const counts = await sendAndCount(createConversation.id, { content: user?.content });
    expect(counts.promptTokens).toBe(NAMED_MESSAGES.promptTokens[model]);
    expect(counts.stored + REPLY_PRIMING_TOKENS).toBe(NAMED_MESSAGES.promptTokens[model]);
  });

  it('are what the API reported with a tool definition offered, and add a tool call and its result', async () => {
    const [system, user] = WEATHER_TOOL_REQUEST.messages;
    const expected = WEATHER_TOOL_REQUEST.promptTokens[model];
    const offer = { functions: [WEATHER_TOOL_REQUEST.tool.name], content: user.content };
    const plain = await server.data(CreateContextConversation, {
      input: { model, systemPrompt: system.content },
    });
    expect((await sendAndCount(plain.createConversation.id, offer)).promptTokens).toBe(expected);

    const { createConversation } = await server.data(CreateContextConversation, {
      input: { model, systemPrompt: system.content },
    });
    await appendMessages(server, createConversation.id, [
      { role: 'assistant', content: null, toolCalls: [WEATHER_TOOL_CALL.call] },
      { role: 'tool', content: WEATHER_TOOL_CALL.result, toolCallId: WEATHER_TOOL_CALL.call.id },
    ]);
    const { tokens } = WEATHER_TOOL_CALL;
    const withCall = await sendAndCount(createConversation.id, offer);
    expect(withCall.promptTokens).toBe(expected + tokens.call + tokens.result);
  });
});
