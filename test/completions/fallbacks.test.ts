import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { ConfigError } from '../../src/config.js';
import { createSimulator, type SimulatedRequest } from '../../src/simulator/index.js';
import { BUILTIN_MODELS, costUsd, type ModelInfo } from '../../src/tokens/index.js';
import { graphql } from '../gql/index.js';
import { sample, scrape } from '../observability/support.js';
import { wsClient } from '../support/clients.js';
import { startTestServer, type TestServer } from '../support/server.js';

const CreateConversation = graphql(`
  mutation CreateFallbackConversation($input: CreateConversationInput!) {
    createConversation(input: $input) { id settings { model fallbackModels } }
  }
`);

const Send = graphql(`
  mutation SendWithFallbacks($input: SendMessageInput!) {
    sendMessage(input: $input) {
      status
      model
      attempts { model error { code message } }
      message { content status }
      usage { promptTokens completionTokens costUsd estimated }
      error { code }
    }
  }
`);

const Chat = graphql(`
  subscription ChatWithFallbacks($input: SendMessageInput!) {
    chat(input: $input) {
      __typename
      ... on ContentDelta { text }
      ... on CompletionDone {
        completion {
          model
          attempts { model error { code } }
          message { content }
          usage { promptTokens costUsd estimated }
        }
      }
      ... on CompletionFailed {
        error { code }
        completion { model attempts { model error { code } } message { content status } }
      }
    }
  }
`);

function tableEntry(id: string): ModelInfo {
  const entry = BUILTIN_MODELS.find((model) => model.id === id);
  if (!entry) throw new Error(`${id} is not in the model table`);
  return entry;
}

/** The app believes gpt-3.5-turbo takes a million tokens; the simulator knows its real 16 385-token window. */
const OVERSTATED_WINDOW = { ...tableEntry('gpt-3.5-turbo'), contextWindow: 1_000_000 };
/** About 17 000 tokens: more than gpt-4's 8 192-token window and gpt-3.5-turbo's 16 385 can hold. */
const LONG_TEXT = 'word '.repeat(17_000);

let server: TestServer;
beforeAll(async () => {
  server = await startTestServer({
    env: {
      OPENAI_MAX_RETRIES: '1',
      FALLBACK_MODELS: 'gpt-4o=gpt-4o-mini',
      MODEL_TABLE_JSON: JSON.stringify([OVERSTATED_WINDOW]),
    },
  });
});
afterAll(() => server.close());
afterEach(() => server.simulator.clearFaults());

const newConversation = async (model = 'gpt-4o', fallbackModels?: string[]) =>
  (await server.data(CreateConversation, { input: { model, settings: { fallbackModels } } }))
    .createConversation.id;

/** The models the simulator was asked, in order, for requests whose messages contain `marker`. */
const modelsAsked = (marker: string) =>
  server.simulator.requests
    .filter((request) => mentions(request, marker))
    .map((request) => request.body.model);
const mentions = (request: SimulatedRequest, marker: string) =>
  JSON.stringify(request.body.messages ?? '').includes(marker);

/** The chat subscription's events, to its end. */
async function chat(input: { conversationId: string; content: string; fallbackModels?: string[] }) {
  const client = wsClient(server.wsUrl);
  try {
    return await client.subscribe(Chat, { input }).all();
  } finally {
    await client.close();
  }
}

async function failedChat(input: Parameters<typeof chat>[0]) {
  const failed = (await chat(input)).at(-1)?.chat;
  if (failed?.__typename !== 'CompletionFailed') throw new Error(`ended with ${failed?.__typename}`);
  return failed;
}

async function answeredChat(input: Parameters<typeof chat>[0]) {
  const events = await chat(input);
  const done = events.at(-1)?.chat;
  if (done?.__typename !== 'CompletionDone') throw new Error(`ended with ${done?.__typename}`);
  const text = events.map(({ chat }) => (chat.__typename === 'ContentDelta' ? chat.text : '')).join('');
  return { done, text };
}

const fallbacksCounted = async (from: string, to: string, code: string) =>
  sample(await (await scrape(server.url)).text(), 'agent_model_fallbacks_total', { from, to, code });

describe('model fallbacks', () => {
  it('answers from the fallback model when the model still fails with 500 after its retries', async () => {
    const conversationId = await newConversation('gpt-4o', ['gpt-4.1-mini']);
    server.simulator.injectFault({ type: 'server_error' }, 2, 'gpt-4o');
    const { sendMessage } = await server.data(Send, {
      input: { conversationId, content: 'fallback on 500' },
    });
    expect(sendMessage).toMatchObject({ status: 'COMPLETED', model: 'gpt-4.1-mini', error: null });
    expect(sendMessage.message?.content).toBeTruthy();
    expect(sendMessage.attempts).toEqual([
      { model: 'gpt-4o', error: { code: 'UPSTREAM_UNAVAILABLE', message: expect.stringContaining('500') } },
      { model: 'gpt-4.1-mini', error: null },
    ]);
    expect(modelsAsked('fallback on 500')).toEqual(['gpt-4o', 'gpt-4o', 'gpt-4.1-mini']);
  });

  it('answers from the fallback model when the model is rate limited beyond the longest wait', async () => {
    const conversationId = await newConversation('gpt-4o', ['gpt-4o-mini']);
    // TEST_ENV's RATE_LIMIT_MAX_WAIT is 5 s: a 60 s retry-after is not waited for.
    server.simulator.injectFault({ type: 'rate_limit', retryAfterSeconds: 60 }, 1, 'gpt-4o');
    const { sendMessage } = await server.data(Send, {
      input: { conversationId, content: 'fallback on 429' },
    });
    expect(sendMessage.model).toBe('gpt-4o-mini');
    expect(sendMessage.attempts.map((attempt) => [attempt.model, attempt.error?.code ?? null])).toEqual([
      ['gpt-4o', 'UPSTREAM_RATE_LIMITED'],
      ['gpt-4o-mini', null],
    ]);
    expect(modelsAsked('fallback on 429')).toEqual(['gpt-4o', 'gpt-4o-mini']);
  });

  it('asks the fallback model, without asking the model, when the context cannot fit its window', async () => {
    const conversationId = await newConversation('gpt-4', ['gpt-4.1-mini']);
    const { sendMessage } = await server.data(Send, {
      input: { conversationId, content: `context fallback ${LONG_TEXT}` },
    });
    expect(sendMessage.model).toBe('gpt-4.1-mini');
    expect(sendMessage.attempts.map((attempt) => [attempt.model, attempt.error?.code ?? null])).toEqual([
      ['gpt-4', 'CONTEXT_TOO_LONG'],
      ['gpt-4.1-mini', null],
    ]);
    expect(modelsAsked('context fallback')).toEqual(['gpt-4.1-mini']);
  });

  it('asks the fallback model when the upstream refuses the context as too long for the model', async () => {
    const conversationId = await newConversation('gpt-3.5-turbo', ['gpt-4.1-mini']);
    const { sendMessage } = await server.data(Send, {
      input: { conversationId, content: `refused context ${LONG_TEXT}` },
    });
    expect(sendMessage.model).toBe('gpt-4.1-mini');
    expect(sendMessage.attempts[0]).toEqual({
      model: 'gpt-3.5-turbo',
      error: { code: 'CONTEXT_TOO_LONG', message: expect.stringContaining('context_length_exceeded') },
    });
    expect(modelsAsked('refused context')).toEqual(['gpt-3.5-turbo', 'gpt-4.1-mini']);
  });

  it('streams only the fallback model’s answer when the model failed before sending any content', async () => {
    const conversationId = await newConversation('gpt-4o', ['gpt-4o-mini']);
    server.simulator.injectFault({ type: 'server_error', status: 503 }, 2, 'gpt-4o');
    const { done, text } = await answeredChat({ conversationId, content: 'stream fallback' });
    expect(text).toBe(done.completion.message?.content);
    expect(done.completion.model).toBe('gpt-4o-mini');
    expect(done.completion.attempts.map((attempt) => attempt.model)).toEqual(['gpt-4o', 'gpt-4o-mini']);
  });

  it('does not fall back once the stream has sent content: it fails as without fallbacks', async () => {
    const conversationId = await newConversation('gpt-4o', ['gpt-4o-mini']);
    server.simulator.injectFault({ type: 'disconnect', afterChunks: 2 }, 1, 'gpt-4o');
    const events = await chat({ conversationId, content: 'cut stream' });
    const failed = events.at(-1)?.chat;
    if (failed?.__typename !== 'CompletionFailed') throw new Error(`ended with ${failed?.__typename}`);
    const streamed = events.flatMap(({ chat }) => (chat.__typename === 'ContentDelta' ? [chat.text] : []));
    expect(streamed.length).toBeGreaterThan(0);
    expect(failed.error.code).toBe('UPSTREAM_UNAVAILABLE');
    expect(failed.completion.message).toEqual({ content: streamed.join(''), status: 'PARTIAL' });
    expect(failed.completion.attempts).toEqual([
      { model: 'gpt-4o', error: { code: 'UPSTREAM_UNAVAILABLE' } },
    ]);
    expect(modelsAsked('cut stream')).toEqual(['gpt-4o']);
  });

  it('does not fall back from an error every model would give (a refused request)', async () => {
    const conversationId = await newConversation('gpt-4o', ['gpt-4o-mini']);
    server.simulator.injectFault({ type: 'bad_request' }, 1, 'gpt-4o');
    const failed = await failedChat({ conversationId, content: 'refused request' });
    expect(failed.error.code).toBe('UPSTREAM_INVALID_REQUEST');
    expect(failed.completion.attempts).toEqual([
      { model: 'gpt-4o', error: { code: 'UPSTREAM_INVALID_REQUEST' } },
    ]);
    expect(modelsAsked('refused request')).toEqual(['gpt-4o']);
  });

  it('counts each attempt at its own model’s prices, the failed one included', async () => {
    const conversationId = await newConversation('gpt-4o', ['gpt-4o-mini']);
    // The response begins (so the request is billed: its prompt, estimated), then ends before any content.
    server.simulator.injectFault({ type: 'disconnect', afterChunks: 0 }, 1, 'gpt-4o');
    const { done } = await answeredChat({ conversationId, content: 'priced attempts' });
    const [failed, answered] = server.simulator.requests.filter((request) =>
      mentions(request, 'priced attempts'),
    );
    const failedPrompt = failed?.usage?.prompt_tokens ?? 0;
    const answeredUsage = answered?.usage ?? { prompt_tokens: 0, completion_tokens: 0 };
    expect(done.completion.model).toBe('gpt-4o-mini');
    expect(done.completion.usage.promptTokens).toBe(failedPrompt + answeredUsage.prompt_tokens);
    expect(done.completion.usage.estimated).toBe(true);
    expect(done.completion.usage.costUsd).toBeCloseTo(
      costUsd(tableEntry('gpt-4o'), { promptTokens: failedPrompt, completionTokens: 0 }) +
        costUsd(tableEntry('gpt-4o-mini'), {
          promptTokens: answeredUsage.prompt_tokens,
          completionTokens: answeredUsage.completion_tokens,
        }),
      12,
    );
  });

  it('counts fallbacks in the metrics by the model passed over, the model asked next and the code', async () => {
    const before = await fallbacksCounted('gpt-4o', 'gpt-4o-mini', 'UPSTREAM_UNAVAILABLE');
    const conversationId = await newConversation('gpt-4o', ['gpt-4o-mini']);
    server.simulator.injectFault({ type: 'server_error' }, 2, 'gpt-4o');
    await server.data(Send, { input: { conversationId, content: 'counted fallback' } });
    expect(await fallbacksCounted('gpt-4o', 'gpt-4o-mini', 'UPSTREAM_UNAVAILABLE')).toBe(before + 1);
  });

  it('falls back to FALLBACK_MODELS when the conversation names no fallback models', async () => {
    const conversationId = await newConversation('gpt-4o');
    server.simulator.injectFault({ type: 'server_error' }, 2, 'gpt-4o');
    const { sendMessage } = await server.data(Send, {
      input: { conversationId, content: 'default fallback' },
    });
    expect(sendMessage.model).toBe('gpt-4o-mini');
  });

  it('asks no fallback model for a message that sets fallbackModels to []', async () => {
    const conversationId = await newConversation('gpt-4o');
    server.simulator.injectFault({ type: 'server_error' }, 2, 'gpt-4o');
    const failed = await failedChat({ conversationId, content: 'no fallback', fallbackModels: [] });
    expect(failed.error.code).toBe('UPSTREAM_UNAVAILABLE');
    expect(failed.completion.attempts.map((attempt) => attempt.model)).toEqual(['gpt-4o']);
    expect(modelsAsked('no fallback')).toEqual(['gpt-4o', 'gpt-4o']);
  });
});

describe('fallback models as settings', () => {
  it('keeps a conversation’s fallback models in its settings', async () => {
    const { createConversation } = await server.data(CreateConversation, {
      input: { model: 'gpt-4o', settings: { fallbackModels: ['gpt-4o-mini', 'o4-mini'] } },
    });
    expect(createConversation.settings).toEqual({
      model: 'gpt-4o',
      fallbackModels: ['gpt-4o-mini', 'o4-mini'],
    });
  });

  it.each([
    ['a model not on offer', ['gpt-4o-mini', 'no-such-model'], /fallbackModels.*unknown model/],
    ['a model twice', ['gpt-4o-mini', 'gpt-4o-mini'], /names a model twice/],
    ['more than 4 models', ['gpt-4o-mini', 'gpt-4.1', 'gpt-4.1-mini', 'gpt-4.1-nano', 'o3'], /at most 4/],
  ])('refuses fallback models with %s, storing nothing', async (_case, fallbackModels, message) => {
    const conversationId = await newConversation();
    const response = await server.request(Send, {
      input: { conversationId, content: 'refused settings', fallbackModels },
    });
    expect(response.errors?.[0]?.extensions?.code).toBe('BAD_USER_INPUT');
    expect(response.errors?.[0]?.message).toMatch(message);
    expect(modelsAsked('refused settings')).toEqual([]);
  });

  it('refuses to start when FALLBACK_MODELS names a model that is not on offer', async () => {
    const simulator = await createSimulator();
    try {
      const started = startTestServer({
        simulator,
        env: { FALLBACK_MODELS: 'gpt-4o=gpt-4o-mini|no-such-model' },
      });
      await expect(started).rejects.toThrow(ConfigError);
      await expect(started).rejects.toThrow(
        /FALLBACK_MODELS names models that are not on offer: no-such-model/,
      );
    } finally {
      await simulator.close();
    }
  });
});
