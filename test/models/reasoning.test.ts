import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { BUILTIN_MODELS, isReasoningModel } from '../../src/tokens/index.js';
import { appendMessages, TrimContext } from '../conversations/context-support.js';
import { startTestServer, type TestServer } from '../support/server.js';
import { ConversationReasoningUsage, CreateModelConversation, SendModelMessage } from './documents.js';

let server: TestServer;
beforeAll(async () => {
  server = await startTestServer();
});
afterAll(() => server.close());
beforeEach(() => server.simulator.clearRequests());

const REASONING_MODELS = BUILTIN_MODELS.filter(isReasoningModel);
const SAMPLING = ['temperature', 'top_p', 'frequency_penalty', 'presence_penalty'];

async function conversation(model: string, settings: Record<string, unknown> = {}) {
  const { createConversation } = await server.data(CreateModelConversation, {
    input: { model, settings },
  });
  return createConversation.id;
}

const upstreamBody = (content: string) => {
  const requests = server.simulator.requests.filter((request) =>
    JSON.stringify(request.body.messages).includes(content),
  );
  expect(requests).toHaveLength(1);
  return requests[0]?.body ?? {};
};

describe('requests to reasoning models', () => {
  it.each(REASONING_MODELS.map((model) => model.id))(
    '%s gets max_completion_tokens and no parameter it refuses, and reports its reasoning tokens',
    async (model) => {
      const id = await conversation(model);
      const content = `Reasoning probe for ${model}`;
      const { sendMessage } = await server.data(SendModelMessage, { input: { conversationId: id, content } });

      expect(sendMessage.status).toBe('COMPLETED');
      const body = upstreamBody(content);
      expect(body).toMatchObject({ model, max_completion_tokens: 2000 });
      for (const refused of ['max_tokens', ...SAMPLING]) expect(body).not.toHaveProperty(refused);
      const reasoning = sendMessage.usage.reasoningTokens;
      expect(reasoning).toBeLessThan(sendMessage.usage.completionTokens);
      const { conversation: stored } = await server.data(ConversationReasoningUsage, { id });
      expect(stored?.usage.reasoningTokens).toBe(reasoning);
    },
  );

  it.each(REASONING_MODELS.map((model) => [model.id, model.reasoningEfforts ?? []] as const))(
    '%s takes each documented reasoning effort, per conversation and per message',
    async (model, efforts) => {
      const [first, ...others] = efforts;
      const id = await conversation(model, { reasoningEffort: first?.toUpperCase() });
      await server.data(SendModelMessage, {
        input: { conversationId: id, content: `effort ${model} default` },
      });
      expect(upstreamBody(`effort ${model} default`).reasoning_effort).toBe(first);
      for (const effort of others) {
        const content = `effort ${model} ${effort}`;
        const input = { conversationId: id, content, reasoningEffort: effort.toUpperCase() as never };
        const { sendMessage } = await server.data(SendModelMessage, { input });
        expect(sendMessage.status).toBe('COMPLETED');
        expect(upstreamBody(content).reasoning_effort).toBe(effort);
      }
    },
  );

  it('reports more reasoning tokens for more effort', async () => {
    const id = await conversation('o4-mini');
    const tokens = async (effort: 'LOW' | 'HIGH') =>
      (
        await server.data(SendModelMessage, {
          input: { conversationId: id, content: `How far is the moon? (${effort})`, reasoningEffort: effort },
        })
      ).sendMessage.usage.reasoningTokens;
    expect(await tokens('HIGH')).toBeGreaterThan(await tokens('LOW'));
  });

  it('sends sampling settings to a reasoning model at effort NONE', async () => {
    const id = await conversation('gpt-5.1', { reasoningEffort: 'NONE', temperature: 0.3 });
    await server.data(SendModelMessage, { input: { conversationId: id, content: 'sampled at none' } });
    expect(upstreamBody('sampled at none')).toMatchObject({ reasoning_effort: 'none', temperature: 0.3 });
  });

  it('sends a non-reasoning model its sampling settings and no reasoning effort', async () => {
    const id = await conversation('gpt-4o', { temperature: 0.2 });
    await server.data(SendModelMessage, { input: { conversationId: id, content: 'plain model' } });
    const body = upstreamBody('plain model');
    expect(body).toMatchObject({ temperature: 0.2, max_completion_tokens: 2000 });
    expect(body).not.toHaveProperty('reasoning_effort');
  });
});

describe('settings a reasoning model would refuse', () => {
  it('refuses a chosen temperature for a reasoning model with BAD_USER_INPUT, storing nothing', async () => {
    const response = await server.request(CreateModelConversation, {
      input: { model: 'gpt-5-mini', settings: { temperature: 0.2 } },
    });
    expect(response.errors?.[0]?.extensions).toMatchObject({
      code: 'BAD_USER_INPUT',
      field: 'input.settings.temperature',
    });
    expect(response.errors?.[0]?.message).toContain('gpt-5-mini is a reasoning model');

    const id = await conversation('o3');
    const send = await server.request(SendModelMessage, {
      input: { conversationId: id, content: 'too hot for o3', topP: 0.5 },
    });
    expect(send.errors?.[0]?.extensions).toMatchObject({ code: 'BAD_USER_INPUT', field: 'input.topP' });
    expect(server.simulator.requests).toHaveLength(0);
  });

  it('refuses an effort the model does not document, naming the ones it does', async () => {
    const response = await server.request(CreateModelConversation, {
      input: { model: 'gpt-5.1', settings: { reasoningEffort: 'MINIMAL' } },
    });
    expect(response.errors?.[0]?.extensions).toMatchObject({ code: 'BAD_USER_INPUT' });
    expect(response.errors?.[0]?.message).toContain('gpt-5.1 accepts none, low, medium, high');

    const id = await conversation('gpt-4o');
    const send = await server.request(SendModelMessage, {
      input: { conversationId: id, content: 'effort for gpt-4o', reasoningEffort: 'LOW' },
    });
    expect(send.errors?.[0]?.message).toContain('gpt-4o is not a reasoning model');
  });

  it('keeps the default temperature of a conversation that switches to a reasoning model out of the request', async () => {
    const id = await conversation('gpt-4o', { temperature: 0.2 });
    await server.data(SendModelMessage, {
      input: { conversationId: id, content: 'switch', model: 'o3-mini' },
    });
    const body = upstreamBody('switch');
    expect(body.model).toBe('o3-mini');
    expect(body).not.toHaveProperty('temperature');
  });
});

describe('the SUMMARIZE request of a reasoning model', () => {
  it('asks at the lowest documented effort, with max_completion_tokens and no temperature', async () => {
    const id = await conversation('gpt-5-mini');
    const history = 'We compared trains, ferries and flights between the islands at length. '.repeat(20);
    await appendMessages(server, id, [
      { role: 'user', content: `First question: ${history}` },
      { role: 'assistant', content: 'First answer.' },
      { role: 'user', content: 'Second question?' },
    ]);
    const { trimContext } = await server.data(TrimContext, {
      input: { conversationId: id, maxTokens: 100, strategy: 'SUMMARIZE' },
    });
    expect(trimContext.summary?.content).toBeTruthy();
    const [summaryRequest] = server.simulator.requests;
    expect(summaryRequest?.body).toMatchObject({ model: 'gpt-5-mini', reasoning_effort: 'minimal' });
    expect(summaryRequest?.body).toHaveProperty('max_completion_tokens');
    for (const refused of ['max_tokens', ...SAMPLING])
      expect(summaryRequest?.body).not.toHaveProperty(refused);
  });
});
