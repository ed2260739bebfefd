import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { CancelCompletion, StartCompletion } from '../completions/documents.js';
import { CreateConversation } from '../conversations/documents.js';
import { wsClient } from '../support/clients.js';
import { startTestServer, type TestServer } from '../support/server.js';
import { MeteredChat, MeteredCompletion, MeteredSend, MeteredTotals } from './documents.js';
import { expectedTotals, sample, scrape, simulatorUsage } from './support.js';

/**
 * Against a server that sends no usage (the simulator's switch), the platform counts the tokens itself; the
 * simulator, asked again with usage on, is the independent account those estimates must match within 1%.
 */
let server: TestServer;
const logLines: string[] = [];
beforeAll(async () => {
  server = await startTestServer({
    env: { OPENAI_MAX_RETRIES: '0', LOG_LEVEL: 'info' },
    logDestination: { write: (line: string) => void logLines.push(line) },
  });
});
afterAll(() => server.close());
beforeEach(() => {
  server.simulator.clearRequests();
  server.simulator.clearFaults();
  server.simulator.setLatency({ firstTokenMs: 0, chunkDelayMs: 0 });
  server.simulator.setOmitUsage(true);
});

const newConversation = async () =>
  (await server.data(CreateConversation, { input: { title: 'metered', systemPrompt: 'Be brief.' } }))
    .createConversation.id;

/** What the simulator counts for the requests it completed since the last clear, priced by the model table. */
async function simulatorTotals() {
  server.simulator.setOmitUsage(false);
  const usages = await simulatorUsage(server.simulator);
  const totals = [...expectedTotals(usages).values()];
  return {
    requests: usages.length,
    promptTokens: totals.reduce((sum, model) => sum + model.promptTokens, 0),
    completionTokens: totals.reduce((sum, model) => sum + model.completionTokens, 0),
    costUsd: totals.reduce((sum, model) => sum + model.costUsd, 0),
  };
}

const withinOnePercent = (actual: number, expected: number) => {
  expect(expected).toBeGreaterThan(0);
  expect(Math.abs(actual - expected) / expected).toBeLessThanOrEqual(0.01);
};

type Usage = { promptTokens: number; completionTokens: number; costUsd: number; estimated: boolean };

async function expectEstimateMatchesSimulator(usage: Usage, requests: number) {
  const expected = await simulatorTotals();
  expect(expected.requests).toBe(requests);
  expect(usage.estimated).toBe(true);
  withinOnePercent(usage.promptTokens, expected.promptTokens);
  withinOnePercent(usage.completionTokens, expected.completionTokens);
  withinOnePercent(usage.costUsd, expected.costUsd);
}

const purchase = {
  content: 'Validate a $100 purchase from Amazon',
  functions: ['validate_transaction'],
  functionCall: { name: 'validate_transaction' },
};

describe('usage when the server sends none', () => {
  for (const [name, extra, requests] of [
    ['a plain reply', { content: 'Plan my week around three meetings' }, 1],
    ['the tool loop', purchase, 2],
  ] as const) {
    it(`sendMessage estimates ${name} within 1% of the simulator's count`, async () => {
      const conversationId = await newConversation();
      const { sendMessage } = await server.data(MeteredSend, { input: { conversationId, ...extra } });
      expect(sendMessage.status).toBe('COMPLETED');
      await expectEstimateMatchesSimulator(sendMessage.usage, requests);
    });

    it(`chat estimates ${name} (streamed) within 1% of the simulator's count`, async () => {
      const conversationId = await newConversation();
      const client = wsClient(server.wsUrl);
      const events = (await client.subscribe(MeteredChat, { input: { conversationId, ...extra } }).all()).map(
        (event) => event.chat,
      );
      await client.close();
      const done = events.at(-1);
      if (done?.__typename !== 'CompletionDone') throw new Error(`ended with ${done?.__typename}`);
      expect(done.usage.estimated).toBe(true);
      await expectEstimateMatchesSimulator(done.completion.usage, requests);
    });
  }

  it('marks the upstream log line of an estimated call with estimated: true', async () => {
    const conversationId = await newConversation();
    const { sendMessage } = await server.data(MeteredSend, { input: { conversationId, content: 'Log me' } });
    const calls = logLines
      .map((line) => JSON.parse(line) as Record<string, unknown>)
      .filter((line) => line.msg === 'upstream call');
    expect(calls.at(-1)).toMatchObject({
      estimated: true,
      promptTokens: sendMessage.usage.promptTokens,
      completionTokens: sendMessage.usage.completionTokens,
    });
  });

  it('marks usage the server reported as not estimated', async () => {
    server.simulator.setOmitUsage(false);
    const conversationId = await newConversation();
    const { sendMessage } = await server.data(MeteredSend, { input: { conversationId, content: 'Hello' } });
    expect(sendMessage.usage.estimated).toBe(false);
    expect(sendMessage.usage.completionTokens).toBeGreaterThan(0);
  });

  it('sums estimates into Conversation.usage and usage(...), marked estimated', async () => {
    const conversationId = await newConversation();
    const first = await server.data(MeteredSend, { input: { conversationId, content: 'One' } });
    const second = await server.data(MeteredSend, { input: { conversationId, content: 'Two more' } });
    const { conversation, usage } = await server.data(MeteredTotals, { id: conversationId });
    const sum = (key: 'promptTokens' | 'completionTokens') =>
      first.sendMessage.usage[key] + second.sendMessage.usage[key];
    expect(conversation?.usage).toMatchObject({
      promptTokens: sum('promptTokens'),
      completionTokens: sum('completionTokens'),
      estimated: true,
    });
    expect(conversation?.usage.costUsd).toBeGreaterThan(0);
    expect(usage.total.estimated).toBe(true);
  });

  it('counts estimated tokens and cost in the metrics with estimated="true"', async () => {
    const before = await (await scrape(server.url)).text();
    const conversationId = await newConversation();
    const { sendMessage } = await server.data(MeteredSend, { input: { conversationId, content: 'Metrics' } });
    const after = await (await scrape(server.url)).text();
    const delta = (name: string, labels: Record<string, string>) =>
      sample(after, name, labels) - sample(before, name, labels);
    const labels = { model: 'gpt-4.1-mini', estimated: 'true' };
    expect(delta('agent_upstream_tokens_total', { ...labels, kind: 'prompt' })).toBe(
      sendMessage.usage.promptTokens,
    );
    expect(delta('agent_upstream_tokens_total', { ...labels, kind: 'completion' })).toBe(
      sendMessage.usage.completionTokens,
    );
    expect(delta('agent_upstream_cost_usd_total', labels)).toBeCloseTo(sendMessage.usage.costUsd, 9);
    expect(delta('agent_upstream_tokens_total', { ...labels, estimated: 'false', kind: 'prompt' })).toBe(0);
  });
});

describe('a completion cancelled part-way', () => {
  for (const omitUsage of [true, false]) {
    it(`counts what was streamed (server ${omitUsage ? 'without' : 'with'} usage), estimated`, async () => {
      server.simulator.setOmitUsage(omitUsage);
      server.simulator.setLatency({ firstTokenMs: 0, chunkDelayMs: 60 });
      const conversationId = await newConversation();
      const content = 'a reply long enough to be cancelled after its first few words arrive';
      const { startCompletion } = await server.data(StartCompletion, { input: { conversationId, content } });
      await server.simulator.waitFor((request) => request.chunksSent >= 3);
      const { cancelCompletion } = await server.data(CancelCompletion, { id: startCompletion.id });
      expect(cancelCompletion.status).toBe('CANCELLED');
      const { completion } = await server.data(MeteredCompletion, { id: startCompletion.id });
      expect(completion.message?.status).toBe('PARTIAL');
      const partial = completion.message?.content ?? '';
      expect(partial.length).toBeGreaterThan(0);
      const counter = server.app.services.tokens;
      expect(completion.usage).toMatchObject({
        completionTokens: await counter.countText(partial, 'gpt-4.1-mini'),
        estimated: true,
      });
      server.simulator.setOmitUsage(false);
      const [aborted] = server.simulator.requests;
      const replayed = await fetch(`${server.simulator.url}/chat/completions`, {
        method: 'POST',
        headers: { 'content-type': 'application/json' },
        body: JSON.stringify({ ...aborted?.body, stream: false, stream_options: undefined }),
      });
      const { usage } = (await replayed.json()) as { usage: { prompt_tokens: number } };
      expect(completion.usage.promptTokens).toBe(usage.prompt_tokens);
      expect(completion.usage.costUsd).toBeGreaterThan(0);
    });
  }
});
