import { eq } from 'drizzle-orm';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { messages } from '../../src/storage/schema.js';
import { startTestServer, type TestServer } from '../support/server.js';
import {
  appendMessages,
  ClearMessagesBefore,
  ContextMessages,
  CreateContextConversation,
  pairingProblems,
  TrimContext,
  toolCallPair,
} from './context-support.js';

const ALICE = 'sk-alice-context-0001';
const BOB = 'sk-bob-context-0002';

let server: TestServer;
beforeAll(async () => {
  server = await startTestServer({ env: { API_KEYS: `alice:${ALICE},bob:${BOB}` } });
});
afterAll(() => server.close());

const asAlice = { apiKey: ALICE };

async function aliceConversation() {
  const { createConversation } = await server.data(
    CreateContextConversation,
    { input: { model: 'gpt-4o', systemPrompt: 'You are a shopping assistant.' } },
    asAlice,
  );
  return createConversation.id;
}

describe('clearMessagesBefore', () => {
  it('deletes older messages except system ones, a tool call and its results together', async () => {
    const id = await aliceConversation();
    const [oldQuestion, ...rest] = await appendMessages(server, id, [
      { role: 'user', content: 'Old question' },
      ...toolCallPair('old', 2),
      { role: 'system', content: 'Later instruction: answer in French.' },
      ...toolCallPair('straddling', 1),
      ...toolCallPair('late', 1),
      { role: 'user', content: 'Newest question' },
    ]);
    const rows = [oldQuestion, ...rest].filter((row) => row !== undefined);
    // Minutes in write order; the straddling pair crosses the cut, and the late result is dated before its call.
    const base = Date.parse('2025-01-01T00:00:00Z');
    const cut = new Date(base + 5.5 * 60_000);
    const minutes = [0, 1, 2, 3, 4, 5, 6, 7, 4, 8];
    const { db } = server.app.services.database;
    for (const [index, row] of rows.entries()) {
      await db
        .update(messages)
        .set({ createdAt: new Date(base + (minutes[index] ?? 0) * 60_000) })
        .where(eq(messages.id, row.id));
    }

    const { clearMessagesBefore } = await server.data(
      ClearMessagesBefore,
      { input: { conversationId: id, before: cut.toISOString() } },
      asAlice,
    );

    // Gone: the old question, the old pair (3) and the straddling pair's call with its newer result (2).
    expect(clearMessagesBefore.deletedCount).toBe(6);
    const { conversation } = await server.data(ContextMessages, { id }, asAlice);
    const remaining = (conversation?.messages.edges ?? []).map((edge) => edge.node);
    expect(remaining.map((message) => [message.role, message.content])).toEqual([
      ['SYSTEM', 'You are a shopping assistant.'],
      ['SYSTEM', 'Later instruction: answer in French.'],
      ['ASSISTANT', null],
      ['TOOL', '{"result":"ok","for":"call_late_0"}'],
      ['USER', 'Newest question'],
    ]);
    const context = await server.app.services.conversations.store.contextMessages(
      rows[0]?.conversationId ?? '',
    );
    expect(pairingProblems(context)).toEqual([]);
  });

  it("answers NOT_FOUND for another principal's conversation", async () => {
    const id = await aliceConversation();

    const response = await server.request(
      ClearMessagesBefore,
      { input: { conversationId: id, before: new Date().toISOString() } },
      { apiKey: BOB },
    );

    expect(response.errors?.[0]?.extensions?.code).toBe('NOT_FOUND');
  });
});

describe('trimContext', () => {
  it("answers NOT_FOUND for another principal's conversation", async () => {
    const id = await aliceConversation();

    const response = await server.request(
      TrimContext,
      { input: { conversationId: id, maxTokens: 10 } },
      { apiKey: BOB },
    );

    expect(response.errors?.[0]?.extensions?.code).toBe('NOT_FOUND');
  });

  it('refuses a maxTokens below 1 with BAD_USER_INPUT naming the field', async () => {
    const id = await aliceConversation();

    const response = await server.request(
      TrimContext,
      { input: { conversationId: id, maxTokens: 0 } },
      asAlice,
    );

    expect(response.errors?.[0]?.extensions).toMatchObject({
      code: 'BAD_USER_INPUT',
      field: 'input.maxTokens',
    });
  });
});
