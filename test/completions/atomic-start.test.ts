import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { CreateConversation } from '../conversations/documents.js';
import { startTestServer, type TestServer } from '../support/server.js';
import { Messages, SendMessage } from './documents.js';

let server: TestServer;
beforeAll(async () => {
  server = await startTestServer({ env: { COMPLETION_LEASE_MS: '600' } });
});
afterAll(() => server.close());

describe('starting a completion', () => {
  // The soak test found this with SIGKILL between the two writes: the retry got the orphaned completion back
  // (FAILED by the lease sweep) and the user's message was never stored. A write the database refuses after
  // the completion insert is the same gap, deterministically.
  it('writes the completion and the user message together: a retry after a failed start stores the message', async () => {
    const { createConversation } = await server.data(CreateConversation, { input: { title: 'atomic' } });
    const conversationId = createConversation.id;
    const idempotencyKey = 'atomic-start-1';
    const refused = await server.request(SendMessage, {
      input: { conversationId, content: 'nul \u0000 in the middle', idempotencyKey },
    });
    expect(refused.errors?.length).toBeGreaterThan(0);

    const retried = await server.data(SendMessage, {
      input: { conversationId, content: 'the same order, without the NUL', idempotencyKey },
    });
    expect(retried.sendMessage.status).toBe('COMPLETED');
    const { conversation } = await server.data(Messages, { id: conversationId });
    expect(
      conversation.messages.edges
        .filter((edge) => edge.node.role === 'USER')
        .map((edge) => edge.node.content),
    ).toEqual(['the same order, without the NUL']);
  });
});
