import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { MeteredSend, MeteredTotals } from '../observability/documents.js';
import { expectedTotals, sample, scrape, simulatorUsage } from '../observability/support.js';
import { startTestServer, type TestServer } from '../support/server.js';
import { appendMessages, CreateContextConversation, TrimContext } from './context-support.js';

let server: TestServer;
beforeAll(async () => {
  server = await startTestServer();
});
afterAll(() => server.close());
beforeEach(() => {
  server.simulator.clearRequests();
  server.simulator.setOmitUsage(false);
});

const paragraph = 'We compared trains, ferries and flights between the islands at length. '.repeat(20);

let conversations = 0;

/** A SUMMARIZE conversation with a few long rounds of history, its own (no reply to it comes from the cache). */
async function conversationWithHistory(settings: { maxTokens?: number } = {}) {
  const trip = `Trip ${++conversations}.`;
  const { createConversation } = await server.data(CreateContextConversation, {
    input: { model: 'gpt-4', systemPrompt: 'You plan trips.', contextStrategy: 'SUMMARIZE', settings },
  });
  for (let round = 0; round < 4; round++) {
    await appendMessages(server, createConversation.id, [
      { role: 'user', content: `${trip} Question ${round}: ${paragraph}` },
      { role: 'assistant', content: `${trip} Answer ${round}: ${paragraph}` },
    ]);
  }
  return createConversation.id;
}

/** The simulator's own count of the requests it completed since the last clear. */
async function simulatorTotals() {
  server.simulator.setOmitUsage(false);
  const totals = [...expectedTotals(await simulatorUsage(server.simulator)).values()];
  return {
    promptTokens: totals.reduce((sum, model) => sum + model.promptTokens, 0),
    completionTokens: totals.reduce((sum, model) => sum + model.completionTokens, 0),
    costUsd: totals.reduce((sum, model) => sum + model.costUsd, 0),
  };
}

describe("SUMMARIZE's own model request", () => {
  it('counts in Conversation.usage, usage(...) and the metrics, though no completion ran', async () => {
    const id = await conversationWithHistory();
    const before = await (await scrape(server.url)).text();
    const { usage: reportBefore } = await server.data(MeteredTotals, { id });
    const { trimContext } = await server.data(TrimContext, {
      input: { conversationId: id, maxTokens: 600, strategy: 'SUMMARIZE' },
    });
    expect(trimContext.summary).not.toBeNull();
    expect(server.simulator.requests).toHaveLength(1);
    const expected = await simulatorTotals();
    expect(expected.completionTokens).toBeGreaterThan(0);

    const { conversation, usage } = await server.data(MeteredTotals, { id });
    expect(conversation?.usage).toEqual({
      promptTokens: expected.promptTokens,
      completionTokens: expected.completionTokens,
      totalTokens: expected.promptTokens + expected.completionTokens,
      costUsd: expect.closeTo(expected.costUsd, 9),
      estimated: false,
    });
    expect(usage.completions).toBe(reportBefore.completions);
    expect(usage.total.promptTokens - reportBefore.total.promptTokens).toBe(expected.promptTokens);
    expect(usage.total.costUsd - reportBefore.total.costUsd).toBeCloseTo(expected.costUsd, 9);

    const after = await (await scrape(server.url)).text();
    const labels = { model: 'gpt-4', kind: 'completion', estimated: 'false' };
    expect(
      sample(after, 'agent_upstream_tokens_total', labels) -
        sample(before, 'agent_upstream_tokens_total', labels),
    ).toBe(expected.completionTokens);
  });

  it('counts next to the completion whose automatic fit wrote the summary', async () => {
    // gpt-4's 8,192-token window less 7,000 for the reply leaves too little room for the history.
    const id = await conversationWithHistory({ maxTokens: 7000 });
    const { sendMessage } = await server.data(MeteredSend, {
      input: { conversationId: id, content: 'Which option did we pick?' },
    });
    expect(sendMessage.status).toBe('COMPLETED');
    expect(server.simulator.requests).toHaveLength(2);
    const expected = await simulatorTotals();
    const { conversation } = await server.data(MeteredTotals, { id });
    expect(conversation?.usage.promptTokens).toBe(expected.promptTokens);
    expect(conversation?.usage.completionTokens).toBe(expected.completionTokens);
    expect(conversation?.usage.promptTokens).toBeGreaterThan(sendMessage.usage.promptTokens);
  });

  it('is estimated when the server sends no usage', async () => {
    const id = await conversationWithHistory();
    server.simulator.setOmitUsage(true);
    await server.data(TrimContext, { input: { conversationId: id, maxTokens: 600, strategy: 'SUMMARIZE' } });
    const expected = await simulatorTotals();
    const { conversation } = await server.data(MeteredTotals, { id });
    expect(conversation?.usage.estimated).toBe(true);
    expect(conversation?.usage.promptTokens).toBe(expected.promptTokens);
    expect(conversation?.usage.completionTokens).toBe(expected.completionTokens);
  });
});
