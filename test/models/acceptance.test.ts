import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createSimulator, type Simulator } from '../../src/simulator/index.js';
import { FALLBACK_MODEL, ModelTable } from '../../src/tokens/index.js';
import { sample, scrape } from '../observability/support.js';
import { startTestServer, type TestServer } from '../support/server.js';
import { CreateModelConversation, Models, SendModelMessage } from './documents.js';

/** A model the upstream serves that our model table does not know (an Ollama tag). */
const SERVED_MODEL = 'llama3.1:8b';

let simulator: Simulator;
let server: TestServer;
const logLines: { msg?: string; models?: string[] }[] = [];
beforeAll(async () => {
  simulator = await createSimulator({ models: new ModelTable([{ id: SERVED_MODEL, ...FALLBACK_MODEL }]) });
  server = await startTestServer({
    simulator,
    env: { LOG_LEVEL: 'warn' },
    logDestination: { write: (line: string) => void logLines.push(JSON.parse(line)) },
  });
});
afterAll(async () => {
  await server.close();
  await simulator.close();
});

const create = (model: string) => server.request(CreateModelConversation, { input: { model } });

async function sendTo(model: string, content: string) {
  const { createConversation } = await server.data(CreateModelConversation, { input: { model } });
  const { sendMessage } = await server.data(SendModelMessage, {
    input: { conversationId: createConversation.id, content },
  });
  const body = simulator.requests.find((request) => JSON.stringify(request.body).includes(content))?.body;
  return { sendMessage, body };
}

describe('models on offer', () => {
  it('accepts a model of the table and a dated snapshot of one', async () => {
    expect((await create('gpt-4.1-nano')).errors).toBeUndefined();
    const { sendMessage } = await sendTo('gpt-4o-2024-08-06', 'snapshot probe');
    expect(sendMessage).toMatchObject({ status: 'COMPLETED', model: 'gpt-4o-2024-08-06' });
  });

  it('accepts a model only the upstream lists, with the fallback limits, and warns about it once at start', async () => {
    const { sendMessage, body } = await sendTo(SERVED_MODEL, 'served model probe');
    expect(sendMessage.status).toBe('COMPLETED');
    // The server's own model gets the parameter every compatible server reads.
    expect(body).toMatchObject({ model: SERVED_MODEL, max_tokens: 2000 });
    expect(body).not.toHaveProperty('max_completion_tokens');

    const { models } = await server.data(Models);
    expect(models.find((model) => model.id === SERVED_MODEL)).toMatchObject({ reasoning: false });
    const warnings = logLines.filter((line) => line.models?.includes(SERVED_MODEL));
    expect(warnings).toHaveLength(1);
    expect(warnings[0]?.msg).toContain('fallback');
  });

  it('refuses an unknown model with BAD_USER_INPUT naming the models on offer', async () => {
    for (const model of ['gpt-4-imaginary', 'gpt-4o-mini-preview', 'gpt-4o-20240806']) {
      const response = await create(model);
      expect(response.errors?.[0]?.extensions).toMatchObject({
        code: 'BAD_USER_INPUT',
        field: 'input.settings.model',
      });
      expect(response.errors?.[0]?.message).toContain('unknown model; models on offer: ');
      expect(response.errors?.[0]?.message).toContain('gpt-4.1-mini');
      expect(response.errors?.[0]?.message).toContain(SERVED_MODEL);
    }
  });

  it('refuses long and garbage model names before looking them up', async () => {
    const long = await create(`gpt-4o-${'x'.repeat(5000)}`);
    expect(long.errors?.[0]?.message).toContain('at most 128 characters');
    for (const garbage of ['gpt-4o\n', 'gpt 4o', '<script>', '../etc/passwd', '-gpt-4o', '']) {
      const response = await create(garbage);
      expect(response.errors?.[0]?.extensions?.code).toBe('BAD_USER_INPUT');
    }
  });

  it('refuses an unknown model in a message before anything is stored or sent', async () => {
    const { createConversation } = await server.data(CreateModelConversation, { input: {} });
    const before = simulator.requests.length;
    const response = await server.request(SendModelMessage, {
      input: { conversationId: createConversation.id, content: 'wrong model', model: 'gpt-5-ultra' },
    });
    expect(response.errors?.[0]?.extensions).toMatchObject({ code: 'BAD_USER_INPUT', field: 'input.model' });
    expect(simulator.requests.length).toBe(before);
  });
});

describe('metric labels', () => {
  it('labels a snapshot with its table model, never with the name the client sent', async () => {
    await sendTo('gpt-4o-2024-11-20', 'label probe');
    const metrics = await (await scrape(server.url)).text();
    expect(
      sample(metrics, 'agent_upstream_requests_total', { model: 'gpt-4o', outcome: 'ok' }),
    ).toBeGreaterThan(0);
    expect(metrics).not.toContain('gpt-4o-2024-11-20');
  });

  it('does not grow /metrics with random model names', async () => {
    const random = () => `gpt-4-${Math.random().toString(36).slice(2)}`;
    const { createConversation } = await server.data(CreateModelConversation, { input: {} });
    const attempt = () =>
      Promise.all([
        create(random()),
        server.request(SendModelMessage, {
          input: { conversationId: createConversation.id, content: 'random model', model: random() },
        }),
      ]);
    await attempt();
    const before = (await (await scrape(server.url)).text()).split('\n').length;
    for (let i = 0; i < 15; i++) await attempt();
    const after = (await (await scrape(server.url)).text()).split('\n').length;
    expect(after).toBe(before);
  });
});

describe('upstreams without GET /models', () => {
  let bare: Server;
  let bareUrl: string;
  beforeAll(async () => {
    bare = createServer((_req, res) => {
      res.writeHead(404, { 'content-type': 'application/json' });
      res.end('{"error":{"message":"not found"}}');
    });
    await new Promise<void>((resolve) => bare.listen(0, '127.0.0.1', resolve));
    bareUrl = `http://127.0.0.1:${(bare.address() as AddressInfo).port}/v1`;
  });
  afterAll(() => new Promise<void>((resolve) => bare.close(() => resolve())));

  it('starts with the model table and a warning when the upstream has no GET /models', async () => {
    const warnings: { msg?: string }[] = [];
    const other = await startTestServer({
      simulator,
      env: { OPENAI_BASE_URL: bareUrl, LOG_LEVEL: 'warn' },
      logDestination: { write: (line: string) => void warnings.push(JSON.parse(line)) },
    });
    try {
      expect(warnings.some((line) => line.msg?.includes('GET /models'))).toBe(true);
      expect(
        (await other.request(CreateModelConversation, { input: { model: 'o3' } })).errors,
      ).toBeUndefined();
      const refused = await other.request(CreateModelConversation, { input: { model: SERVED_MODEL } });
      expect(refused.errors?.[0]?.extensions?.code).toBe('BAD_USER_INPUT');
    } finally {
      await other.close();
    }
  });

  it('gives a deployment under its own name the capabilities of its MODEL_TABLE_JSON entry', async () => {
    const deployment = {
      id: 'prod-reasoner',
      contextWindow: 200_000,
      maxOutputTokens: 100_000,
      encoding: 'o200k_base',
      inputUsdPerMillion: 2,
      outputUsdPerMillion: 8,
      reasoningEfforts: ['low', 'medium', 'high'],
    };
    const other = await startTestServer({
      simulator,
      env: { OPENAI_BASE_URL: bareUrl, MODEL_TABLE_JSON: JSON.stringify([deployment]) },
    });
    try {
      const refused = await other.request(CreateModelConversation, {
        input: { model: 'prod-reasoner', settings: { temperature: 0.5 } },
      });
      expect(refused.errors?.[0]?.message).toContain('prod-reasoner is a reasoning model');
      const { createConversation } = await other.data(CreateModelConversation, {
        input: { model: 'prod-reasoner', settings: { reasoningEffort: 'HIGH' } },
      });
      expect(createConversation.settings.reasoningEffort).toBe('HIGH');
    } finally {
      await other.close();
    }
  });

  it('offers the models OPENAI_MODELS lists instead of reading GET /models', async () => {
    const other = await startTestServer({
      simulator,
      env: {
        OPENAI_MODELS: 'qwen2.5-7b-instruct, mistral-small',
        OPENAI_TOKEN_LIMIT_PARAM: 'max_completion_tokens',
      },
    });
    try {
      const { createConversation } = await other.data(CreateModelConversation, {
        input: { model: 'qwen2.5-7b-instruct' },
      });
      await other.data(SendModelMessage, {
        input: { conversationId: createConversation.id, content: 'qwen probe' },
      });
      const body = simulator.requests.find((request) =>
        JSON.stringify(request.body).includes('qwen probe'),
      )?.body;
      expect(body).toMatchObject({ model: 'qwen2.5-7b-instruct', max_completion_tokens: 2000 });
      // The simulator lists this one, but OPENAI_MODELS says what this upstream serves.
      const refused = await other.request(CreateModelConversation, { input: { model: SERVED_MODEL } });
      expect(refused.errors?.[0]?.extensions?.code).toBe('BAD_USER_INPUT');
    } finally {
      await other.close();
    }
  });
});
