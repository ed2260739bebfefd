import { decodeGlobalID } from '@pothos/plugin-relay';
import fc from 'fast-check';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { NewMessage } from '../../src/conversations/store.js';
import { REPLY_PRIMING_TOKENS } from '../../src/tokens/index.js';
import { startTestServer, type TestServer } from '../support/server.js';
import {
  appendMessages,
  ContextSendMessage,
  CreateContextConversation,
  pairingProblems,
  TrimContext,
  toolCallPair,
} from './context-support.js';

let server: TestServer;
beforeAll(async () => {
  server = await startTestServer();
});
afterAll(() => server.close());

const text = (words: number) => Array.from({ length: words }, (_, i) => `word${i % 17}`).join(' ');

const words = (max: number) => fc.integer({ min: 1, max });

/** One step of a random conversation: a message, or a tool call with its results (weights: how often). */
const unitArbitrary = fc.oneof(
  { weight: 1, arbitrary: fc.record({ kind: fc.constant('system' as const), words: words(30) }) },
  {
    weight: 4,
    arbitrary: fc.record({ kind: fc.constant('user' as const), words: words(80), named: fc.boolean() }),
  },
  { weight: 3, arbitrary: fc.record({ kind: fc.constant('assistant' as const), words: words(80) }) },
  {
    weight: 4,
    arbitrary: fc.record({
      kind: fc.constant('tools' as const),
      calls: fc.integer({ min: 1, max: 3 }),
      words: words(60),
    }),
  },
);
type UnitSpec = typeof unitArbitrary extends fc.Arbitrary<infer T> ? T : never;

function toMessages(units: UnitSpec[]): NewMessage[] {
  return units.flatMap((unit, index): NewMessage[] => {
    if (unit.kind === 'tools') return toolCallPair(`u${index}`, unit.calls, text(unit.words));
    if (unit.kind === 'user')
      return [{ role: 'user', content: text(unit.words), name: unit.named ? 'ann' : null }];
    return [{ role: unit.kind, content: text(unit.words) }];
  });
}

const caseArbitrary = fc.record({
  units: fc.array(unitArbitrary, { minLength: 1, maxLength: 20 }),
  // Where maxTokens falls between what must stay (0) and the whole context (1); below 0 it cannot fit.
  budget: fc.double({ min: -0.3, max: 1, noNaN: true }),
});

/**
 * Builds the conversation, trims it, and checks the guarantees: no orphan tool message, system messages and
 * the newest user message kept, the budget met, nothing deleted; or CONTEXT_TOO_LONG with nothing changed.
 */
async function checkTrim(
  strategy: 'DROP_OLDEST' | 'SUMMARIZE',
  { units, budget }: { units: UnitSpec[]; budget: number },
) {
  const { createConversation } = await server.data(CreateContextConversation, {
    input: { model: 'gpt-4o', systemPrompt: 'You are a careful assistant.' },
  });
  const rows = await appendMessages(server, createConversation.id, toMessages(units));
  const conversations = server.app.services.conversations.store;
  const conversationId = decodeGlobalID(createConversation.id).id;
  const before = await conversations.contextMessages(conversationId);
  const newestUser = before.filter((message) => message.role === 'user').at(-1);
  const pinned = before.filter((message) => message.role === 'system' || message === newestUser);
  const pinnedTokens = pinned.reduce((sum, message) => sum + message.tokenCount, REPLY_PRIMING_TOKENS);
  const total = before.reduce((sum, message) => sum + message.tokenCount, REPLY_PRIMING_TOKENS);
  const maxTokens = Math.max(1, Math.floor(pinnedTokens + budget * (total - pinnedTokens)));

  const response = await server.request(TrimContext, {
    input: { conversationId: createConversation.id, maxTokens, strategy },
  });
  const after = await conversations.contextMessages(conversationId);

  if (maxTokens < pinnedTokens) {
    expect(response.errors?.[0]?.extensions?.code).toBe('CONTEXT_TOO_LONG');
    expect(after.map((message) => message.id)).toEqual(before.map((message) => message.id));
    return;
  }
  const result = response.data?.trimContext;
  if (!result) throw new Error(`trimContext failed: ${JSON.stringify(response.errors)}`);
  expect(pairingProblems(after)).toEqual([]);
  const kept = new Set(after.map((message) => message.id));
  expect(pinned.filter((message) => !kept.has(message.id))).toEqual([]);
  expect(result.tokenCount).toBeLessThanOrEqual(maxTokens);
  expect(result.tokenCount).toBe(await conversations.tokenCount(conversationId));
  expect(result.removedMessages.every((message) => !message.inContext)).toBe(true);
  expect(result.removedCount).toBe(before.length + (result.summary ? 1 : 0) - after.length);
  for (const row of rows) expect(await conversations.message(row.id)).not.toBeNull();
  const summary = result.summary;
  if (summary?.summaryOfSeq) {
    // The summary sits where its span began: after the kept messages written before it, before the rest.
    const at = after.findIndex((message) => message.id === decodeGlobalID(summary.id).id);
    const misplaced = after.filter(
      (message, index) => index !== at && index < at !== message.seq < (summary.summaryOfSeq ?? 0),
    );
    expect(misplaced).toEqual([]);
  }

  // The simulator refuses orphan tool messages with a 400, so a completion on the trimmed context proves it whole.
  const { sendMessage } = await server.data(ContextSendMessage, {
    input: { conversationId: createConversation.id, content: 'And now?', model: 'gpt-4.1' },
  });
  expect(sendMessage.status).toBe('COMPLETED');
}

describe('trimContext on random conversations full of tool-call pairs', () => {
  it('DROP_OLDEST keeps system messages, the newest user message and every tool pair whole', async () => {
    await fc.assert(
      fc.asyncProperty(caseArbitrary, (testCase) => checkTrim('DROP_OLDEST', testCase)),
      { numRuns: 40 },
    );
  });

  it('SUMMARIZE keeps system messages, the newest user message and every tool pair whole', async () => {
    await fc.assert(
      fc.asyncProperty(caseArbitrary, (testCase) => checkTrim('SUMMARIZE', testCase)),
      { numRuns: 40 },
    );
  });
});
