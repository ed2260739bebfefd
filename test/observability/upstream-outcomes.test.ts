import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, expect, it } from 'vitest';
import { SendMessage } from '../completions/documents.js';
import { CreateConversation } from '../conversations/documents.js';
import { startTestServer, type TestServer } from '../support/server.js';
import { sample, scrape } from './support.js';

let server: TestServer;
let directory: string;
let file: string;

beforeAll(async () => {
  directory = mkdtempSync(join(tmpdir(), 'agent-platform-outcomes-'));
  file = join(directory, 'openai.log');
  server = await startTestServer({ env: { LOG_FILE: file, OPENAI_MAX_RETRIES: '1' } });
});
afterAll(async () => {
  await server.close();
  rmSync(directory, { recursive: true, force: true });
});

const send = async (content: string, temperature?: number) => {
  const { createConversation } = await server.data(CreateConversation, { input: { title: 'x' } });
  return server.data(SendMessage, { input: { conversationId: createConversation.id, content, temperature } });
};

const logLines = () =>
  readFileSync(file, 'utf8')
    .trim()
    .split('\n')
    .map((line) => JSON.parse(line) as Record<string, unknown>);

it('counts a retried call once, with its retries in the metrics and on its log line', async () => {
  server.simulator.injectFault({ type: 'rate_limit', retryAfterMs: 1 });
  await send('Retry me once');
  const metrics = await (await scrape(server.url)).text();
  expect(sample(metrics, 'agent_upstream_retries_total', { model: 'gpt-4.1-mini' })).toBe(1);
  expect(logLines().filter((line) => line.retries === 1)).toHaveLength(1);
});

it('counts a reply from the response cache as outcome cached, costing nothing', async () => {
  const before = await (await scrape(server.url)).text();
  const first = await send('Cache me', 0);
  const second = await send('Cache me', 0);
  expect(second.sendMessage.message?.content).toBe(first.sendMessage.message?.content);
  const after = await (await scrape(server.url)).text();
  const delta = (name: string, labels: Record<string, string>) =>
    sample(after, name, labels) - sample(before, name, labels);
  expect(delta('agent_upstream_requests_total', { model: 'gpt-4.1-mini', outcome: 'ok' })).toBe(1);
  expect(delta('agent_upstream_requests_total', { model: 'gpt-4.1-mini', outcome: 'cached' })).toBe(1);
  expect(
    delta('agent_upstream_tokens_total', { model: 'gpt-4.1-mini', kind: 'prompt', estimated: 'false' }),
  ).toBe(first.sendMessage.usage.promptTokens);
  expect(delta('agent_upstream_cost_usd_total', { model: 'gpt-4.1-mini', estimated: 'false' })).toBeCloseTo(
    first.sendMessage.usage.costUsd,
    9,
  );
  expect(logLines().at(-1)).toMatchObject({ status: 'cached', promptTokens: 0, costUsd: 0 });
});
