import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { CreateConversation } from '../conversations/documents.js';
import { wsClient } from '../support/clients.js';
import { startTestServer, type TestServer } from '../support/server.js';
import { CompletionEvents, SendMessage, StartCompletion } from './documents.js';

const KEY = 'sk-alice-123456';

let server: TestServer;
let client: ReturnType<typeof wsClient>;
beforeAll(async () => {
  // One stream per key: a subscription that never ended would keep the next one out.
  server = await startTestServer({ env: { API_KEYS: `alice:${KEY}`, CLIENT_MAX_STREAMS: '1' } });
  client = wsClient(server.wsUrl, KEY);
});
afterAll(async () => {
  await client.close();
  await server.close();
});
afterEach(() => server.simulator.setLatency({ firstTokenMs: 0, chunkDelayMs: 0 }));

const conversation = async () =>
  (await server.data(CreateConversation, { input: { title: 'events' } }, { apiKey: KEY })).createConversation
    .id;

/** A finished completion and the seq of its last (terminal) event. */
async function finishedCompletion() {
  const conversationId = await conversation();
  const { sendMessage } = await server.data(
    SendMessage,
    { input: { conversationId, content: 'Plan my week' } },
    { apiKey: KEY },
  );
  const events = await client
    .subscribe(CompletionEvents, { completionId: sendMessage.id, afterSeq: 0 })
    .all();
  return { completionId: sendMessage.id, lastSeq: events.at(-1)?.completionEvents.seq ?? 0 };
}

describe('completionEvents at or past the end', () => {
  it('completes at once, with nothing, at the last event of a finished completion, and frees its stream', async () => {
    const { completionId, lastSeq } = await finishedCompletion();
    expect(lastSeq).toBeGreaterThan(1);
    expect(await client.subscribe(CompletionEvents, { completionId, afterSeq: lastSeq }).all()).toEqual([]);
    expect(await client.subscribe(CompletionEvents, { completionId, afterSeq: lastSeq + 100 }).all()).toEqual(
      [],
    );
    const [last] = await client.subscribe(CompletionEvents, { completionId, afterSeq: lastSeq - 1 }).all();
    expect(last?.completionEvents).toMatchObject({ __typename: 'CompletionDone', seq: lastSeq });
  });

  it('completes when a running completion ends, for a client that asked past its end', async () => {
    server.simulator.setLatency({ firstTokenMs: 300, chunkDelayMs: 0 });
    const conversationId = await conversation();
    const { startCompletion } = await server.data(
      StartCompletion,
      { input: { conversationId, content: 'Plan my week' } },
      { apiKey: KEY },
    );
    const events = client.subscribe(CompletionEvents, { completionId: startCompletion.id, afterSeq: 1000 });
    expect(await events.all()).toEqual([]);
  });

  it('refuses a negative afterSeq with BAD_USER_INPUT, and frees its stream', async () => {
    const { completionId } = await finishedCompletion();
    const refused = client.subscribe(CompletionEvents, { completionId, afterSeq: -1 });
    await expect(refused.completed).rejects.toThrow(/"code":"BAD_USER_INPUT"/);
    await expect(refused.completed).rejects.toThrow(/afterSeq: must be 0 or more/);
    expect(await client.subscribe(CompletionEvents, { completionId, afterSeq: 0 }).all()).not.toEqual([]);
  });
});
