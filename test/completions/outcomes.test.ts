import { decodeGlobalID } from '@pothos/plugin-relay';
import { sql } from 'drizzle-orm';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { CreateConversation } from '../conversations/documents.js';
import { wsClient } from '../support/clients.js';
import { startTestServer, type TestServer } from '../support/server.js';
import { CompletionById, CompletionEvents, Messages, SendMessage, StartCompletion } from './documents.js';

const LEASE_MS = 1000;
let server: TestServer;
beforeAll(async () => {
  server = await startTestServer({ env: { COMPLETION_LEASE_MS: String(LEASE_MS) } });
});
afterAll(() => server.close());

const newConversation = async () =>
  (await server.data(CreateConversation, { input: { title: 'outcomes' } })).createConversation.id;

describe('starting a completion', () => {
  // The soak test found this with SIGKILL between the two writes: the retry got the orphaned completion back
  // (FAILED by the lease sweep) and the user's message was never stored. A write the database refuses after
  // the completion insert is the same gap, deterministically.
  it('writes the completion and the user message together: a retry after a failed start stores the message', async () => {
    const conversationId = await newConversation();
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

  // Also found by the soak test: on a loaded machine a live run's lease lapsed, another instance's sweep failed
  // it, and then the run's own end overwrote the status with COMPLETED after a second terminal event.
  it('keeps the outcome of a lease sweep when the run it took for dead ends later', async () => {
    const conversationId = await newConversation();
    server.simulator.injectFault({ type: 'stall', ms: 3 * LEASE_MS });
    const { startCompletion } = await server.data(StartCompletion, {
      input: { conversationId, content: 'a run that outlives its lease' },
    });
    const ours = (request: { body: Record<string, unknown> }) =>
      JSON.stringify(request.body.messages).includes('outlives its lease');
    await server.simulator.waitFor((request) => ours(request) && request.status === 'running');
    // What another instance sees when this one stops renewing: the lease belongs to an instance gone quiet.
    const id = decodeGlobalID(startCompletion.id).id;
    await server.app.services.database.db.execute(
      sql`update completions set instance_id = 'gone', lease_expires_at = now() - interval '1 second' where id = ${id}`,
    );
    const client = wsClient(server.wsUrl);
    const events = await client.subscribe(CompletionEvents, { completionId: startCompletion.id }).all();
    expect(events.map((event) => event.completionEvents.__typename)).toEqual(['CompletionFailed']);
    await server.simulator.waitFor((request) => ours(request) && request.status === 'completed', 10_000);

    // The run has ended upstream by now; give it the time to store what it would store.
    await new Promise((resolve) => setTimeout(resolve, LEASE_MS));
    const { completion } = await server.data(CompletionById, { id: startCompletion.id });
    expect(completion?.status).toBe('FAILED');
    const replay = await client.subscribe(CompletionEvents, { completionId: startCompletion.id }).all();
    await client.close();
    expect(replay.map((event) => event.completionEvents.__typename)).toEqual(['CompletionFailed']);
    const { conversation } = await server.data(Messages, { id: conversationId });
    expect(conversation.messages.edges.map((edge) => edge.node.role)).toEqual(['USER']);
  });

  // Found by the soak test: SIGKILL between a tool call and its results left the call unanswered, and every later
  // request of the conversation was refused upstream (400, tool_calls must be followed by tool messages).
  it('answers in a conversation whose tool call lost its results with a dead instance', async () => {
    const conversationId = await newConversation();
    await server.data(SendMessage, { input: { conversationId, content: 'before the crash' } });
    await server.app.services.conversations.store.append(
      { id: decodeGlobalID(conversationId).id, model: 'gpt-4' },
      {
        role: 'assistant',
        content: null,
        toolCalls: [{ id: 'call_lost', functionName: 'lookup', arguments: '{}' }],
      },
    );
    const { sendMessage } = await server.data(SendMessage, {
      input: { conversationId, content: 'after the crash' },
    });
    expect(sendMessage.status).toBe('COMPLETED');
    const sent = server.simulator.requests.at(-1)?.body.messages as {
      role: string;
      content: string | null;
    }[];
    expect(sent.map((message) => message.content)).toEqual([
      'before the crash',
      'Simulated reply to: before the crash',
      'after the crash',
    ]);
  });

  // Found by the soak test: SIGKILL between storing a completion's outcome and publishing its terminal event left
  // every follower (completionEvents, a retried sendMessage) waiting forever on a completion that had ended.
  it('ends a follower with the stored outcome when the terminal event was never published', async () => {
    const conversationId = await newConversation();
    server.simulator.injectFault({ type: 'stall', afterChunks: 2, ms: 2 * LEASE_MS });
    const { startCompletion } = await server.data(StartCompletion, {
      input: { conversationId, content: 'an outcome stored but never announced' },
    });
    const client = wsClient(server.wsUrl);
    const follower = client.subscribe(CompletionEvents, { completionId: startCompletion.id });
    await follower.next();
    await follower.next();
    // Another instance stored this outcome and died before publishing it: the run here can no longer end it.
    await server.app.services.database.db.execute(
      sql`update completions set status = 'completed', finish_reason = 'stop', instance_id = 'gone'
          where id = ${decodeGlobalID(startCompletion.id).id}`,
    );
    // Followers look at the store, then the database, 250 ms after the stream goes quiet (then backing off): the
    // run ends about 2 s from now, after its stall. A back-off counted from the subscription looked at 7.75 s.
    const ended = await Promise.race([
      follower.completed.then(() => true),
      new Promise((resolve) => setTimeout(() => resolve(false), 6_000)),
    ]);
    await client.close();
    expect(ended).toBe(true);
    const events = follower.received.map((event) => event.completionEvents);
    expect(events.at(-1)?.__typename).toBe('CompletionDone');
    expect(events.map((event) => event.seq)).toEqual(events.map((_, index) => index + 1));
  });
});
