import { afterEach, describe, expect, it } from 'vitest';
import { CreateConversation } from '../conversations/documents.js';
import { sseClient, wsClient } from '../support/clients.js';
import { type TestServer, useTestServer } from '../support/server.js';
import {
  CancelCompletion,
  Chat,
  CompletionById,
  CompletionEvents,
  Messages,
  SendMessage,
  StartCompletion,
} from './documents.js';

const server = useTestServer({ env: { OPENAI_MAX_RETRIES: '0' } });
// Only the tests about upstream silence run where 1 s of it fails a call: on a loaded machine a healthy call
// (one of 50 at once) can wait that long too.
const impatient = useTestServer({ env: { OPENAI_MAX_RETRIES: '0', OPENAI_TIMEOUT_MS: '1000' } });
afterEach(() => {
  for (const { simulator } of [server, impatient]) {
    simulator.clearFaults();
    simulator.setLatency({ firstTokenMs: 0, chunkDelayMs: 0 });
  }
});

const newConversation = async (systemPrompt = 'You are terse.', on: TestServer = server) =>
  (await on.data(CreateConversation, { input: { title: 'test', systemPrompt } })).createConversation.id;

const textOf = (events: { __typename?: string; text?: string }[]) =>
  events
    .filter((event) => event.__typename === 'ContentDelta')
    .map((event) => event.text)
    .join('');

const upstreamRequestsFor = (content: string) =>
  server.simulator.requests.filter((request) => JSON.stringify(request.body.messages).includes(content));

describe('sendMessage', () => {
  it('stores the user message and the reply, and records usage and timings', async () => {
    const conversationId = await newConversation();
    const { sendMessage } = await server.data(SendMessage, {
      input: { conversationId, content: 'Plan my week' },
    });
    expect(sendMessage.status).toBe('COMPLETED');
    expect(sendMessage.message?.content).toBe('Simulated reply to: Plan my week');
    const [upstream] = upstreamRequestsFor('Plan my week');
    expect(upstream?.stream).toBe(false);
    expect(sendMessage.usage.promptTokens).toBeGreaterThan(0);
    expect(sendMessage.usage.totalTokens).toBe(
      sendMessage.usage.promptTokens + sendMessage.usage.completionTokens,
    );
    expect(sendMessage.latencyMs).toBeGreaterThanOrEqual(sendMessage.timeToFirstTokenMs ?? 0);
    const { conversation } = await server.data(Messages, { id: conversationId });
    expect(conversation.messages.edges.map((edge) => [edge.node.role, edge.node.content])).toEqual([
      ['SYSTEM', 'You are terse.'],
      ['USER', 'Plan my week'],
      ['ASSISTANT', 'Simulated reply to: Plan my week'],
    ]);
  });

  it('sends the request settings upstream', async () => {
    const conversationId = await newConversation();
    await server.data(SendMessage, {
      input: {
        conversationId,
        content: 'settings probe',
        temperature: 0.2,
        maxTokens: 77,
        topP: 0.9,
        presencePenalty: 0.5,
      },
    });
    const [upstream] = upstreamRequestsFor('settings probe');
    expect(upstream?.body).toMatchObject({
      model: 'gpt-4.1-mini',
      temperature: 0.2,
      max_completion_tokens: 77,
      top_p: 0.9,
      presence_penalty: 0.5,
      frequency_penalty: 0,
    });
    expect(upstream?.body).not.toHaveProperty('max_tokens');
  });

  it('rejects out-of-range settings naming the field, and stores nothing', async () => {
    const conversationId = await newConversation();
    const response = await server.request(SendMessage, {
      input: { conversationId, content: 'too hot', temperature: 3 },
    });
    expect(response.errors?.[0]?.extensions).toMatchObject({
      code: 'BAD_USER_INPUT',
      field: 'input.temperature',
    });
    const { conversation } = await server.data(Messages, { id: conversationId });
    expect(conversation.messages.edges).toHaveLength(1);
  });

  it('returns the first completion for a retried idempotency key and sends one upstream request', async () => {
    const conversationId = await newConversation();
    const input = { conversationId, content: 'idempotent order', idempotencyKey: 'order-42' };
    const [first, second] = await Promise.all([
      server.data(SendMessage, { input }),
      server.data(SendMessage, { input }),
    ]);
    const third = await server.data(SendMessage, { input });
    expect(new Set([first.sendMessage.id, second.sendMessage.id, third.sendMessage.id]).size).toBe(1);
    expect(upstreamRequestsFor('idempotent order')).toHaveLength(1);
    const { conversation } = await server.data(Messages, { id: conversationId });
    expect(conversation.messages.edges.filter((edge) => edge.node.role === 'USER')).toHaveLength(1);
  });
});

describe('streaming', () => {
  it('streams deltas over graphql-ws that concatenate to the stored reply, same as the non-streamed one', async () => {
    const [streamed, plain] = [await newConversation(), await newConversation()];
    const client = wsClient(server.wsUrl);
    const events = await client
      .subscribe(Chat, { input: { conversationId: streamed, content: 'Same question' } })
      .all();
    await client.close();
    const { sendMessage } = await server.data(SendMessage, {
      input: { conversationId: plain, content: 'Same question' },
    });

    const chats = events.map((event) => event.chat);
    expect(chats.map((event) => event.seq)).toEqual(chats.map((_, index) => index + 1));
    const done = chats.at(-1);
    expect(done?.__typename).toBe('CompletionDone');
    const text = textOf(chats);
    expect(chats.filter((event) => event.__typename === 'ContentDelta').length).toBeGreaterThan(1);
    expect(done?.__typename === 'CompletionDone' && done.completion.message?.content).toBe(text);
    expect(text).toBe(sendMessage.message?.content);
    expect(done?.__typename === 'CompletionDone' && done.usage).toEqual({
      promptTokens: sendMessage.usage.promptTokens,
      completionTokens: sendMessage.usage.completionTokens,
    });
  });

  it('streams over SSE', async () => {
    const conversationId = await newConversation();
    const client = sseClient(server.url);
    const events = await client.subscribe(Chat, { input: { conversationId, content: 'Over SSE' } }).all();
    client.close();
    const chats = events.map((event) => event.chat);
    expect(textOf(chats)).toBe('Simulated reply to: Over SSE');
    expect(chats.at(-1)?.__typename).toBe('CompletionDone');
  });

  it('gives a late subscriber and a reconnecting one every event exactly once, in order', async () => {
    const conversationId = await newConversation();
    server.simulator.setLatency({ firstTokenMs: 0, chunkDelayMs: 15 });
    const { startCompletion } = await server.data(StartCompletion, {
      input: { conversationId, content: 'a reply with quite a few words in it to stream slowly' },
    });
    expect(startCompletion.status).toBe('RUNNING');
    const client = wsClient(server.wsUrl);
    const first = client.subscribe(CompletionEvents, { completionId: startCompletion.id });
    const early = [await first.next(), await first.next(), await first.next()].map(
      (event) => event.completionEvents,
    );
    first.unsubscribe();
    const lastSeen = early.at(-1)?.seq ?? 0;
    const resumed = (
      await client.subscribe(CompletionEvents, { completionId: startCompletion.id, afterSeq: lastSeen }).all()
    ).map((event) => event.completionEvents);
    const late = (await client.subscribe(CompletionEvents, { completionId: startCompletion.id }).all()).map(
      (event) => event.completionEvents,
    );
    await client.close();

    const stitched = [...early, ...resumed];
    expect(stitched.map((event) => event.seq)).toEqual(stitched.map((_, index) => index + 1));
    expect(late.map((event) => event.seq)).toEqual(stitched.map((event) => event.seq));
    const stored = await server.data(CompletionById, { id: startCompletion.id });
    expect(textOf(stitched)).toBe(stored.completion.message?.content);
    expect(textOf(late)).toBe(stored.completion.message?.content);
  });

  it('aborts the upstream request when the last chat subscriber leaves, keeping a PARTIAL message', async () => {
    const conversationId = await newConversation();
    server.simulator.setLatency({ firstTokenMs: 0, chunkDelayMs: 40 });
    const content = 'leave early please, this reply is long enough to cut';
    const client = wsClient(server.wsUrl);
    const subscription = client.subscribe(Chat, { input: { conversationId, content } });
    const first = (await subscription.next()).chat;
    const second = (await subscription.next()).chat;
    subscription.unsubscribe();
    const upstream = await server.simulator.waitFor(
      (request) => JSON.stringify(request.body.messages).includes(content) && request.status === 'aborted',
    );
    expect(upstream.status).toBe('aborted');
    const completion = await waitForStatus(first.completionId, 'CANCELLED');
    await client.close();
    expect(completion.message?.status).toBe('PARTIAL');
    expect(completion.message?.content?.startsWith(textOf([first, second]))).toBe(true);
    expect(completion.error?.code).toBe('CANCELLED');
  });

  it('cancelCompletion aborts the upstream request', async () => {
    const conversationId = await newConversation();
    server.simulator.injectFault({ type: 'stall' });
    const content = 'cancel me';
    const { startCompletion } = await server.data(StartCompletion, { input: { conversationId, content } });
    await server.simulator.waitFor((request) => JSON.stringify(request.body.messages).includes(content));
    const { cancelCompletion } = await server.data(CancelCompletion, { id: startCompletion.id });
    expect(cancelCompletion.status).toBe('CANCELLED');
    const upstream = await server.simulator.waitFor(
      (request) => JSON.stringify(request.body.messages).includes(content) && request.status === 'aborted',
    );
    expect(upstream.status).toBe('aborted');
  });

  it('keeps 50 concurrent chat streams apart', async () => {
    const conversations = await Promise.all(Array.from({ length: 50 }, () => newConversation()));
    const client = wsClient(server.wsUrl);
    const results = await Promise.all(
      conversations.map((conversationId, index) =>
        client.subscribe(Chat, { input: { conversationId, content: `stream number ${index}` } }).all(),
      ),
    );
    await client.close();
    const completionIds = new Set<string>();
    results.forEach((events, index) => {
      const chats = events.map((event) => event.chat);
      expect(textOf(chats)).toBe(`Simulated reply to: stream number ${index}`);
      expect(new Set(chats.map((event) => event.completionId)).size).toBe(1);
      completionIds.add(chats[0]?.completionId ?? '');
    });
    expect(completionIds.size).toBe(50);
  });
});

describe('upstream failures', () => {
  const cases = [
    {
      fault: { type: 'rate_limit', retryAfterSeconds: 7 } as const,
      code: 'UPSTREAM_RATE_LIMITED',
      retryAfter: 7,
    },
    {
      fault: { type: 'bad_request', message: 'messages are odd' } as const,
      code: 'UPSTREAM_INVALID_REQUEST',
    },
    { fault: { type: 'server_error' } as const, code: 'UPSTREAM_UNAVAILABLE' },
    { fault: { type: 'stall', ms: 10_000 } as const, code: 'UPSTREAM_UNAVAILABLE', on: impatient },
  ];
  for (const { fault, code, retryAfter, on = server } of cases) {
    it(`maps ${fault.type} to ${code} and keeps the user message`, async () => {
      const conversationId = await newConversation(undefined, on);
      on.simulator.injectFault(fault, 5);
      const content = `fault ${fault.type}`;
      const response = await on.request(SendMessage, { input: { conversationId, content } });
      expect(response.errors?.[0]?.extensions?.code).toBe(code);
      if (retryAfter) expect(response.errors?.[0]?.extensions?.retryAfter).toBe(retryAfter);
      if (fault.type === 'bad_request') expect(response.errors?.[0]?.message).toContain('messages are odd');
      const { conversation } = await on.data(Messages, { id: conversationId });
      expect(conversation.messages.edges.map((edge) => [edge.node.role, edge.node.content])).toEqual([
        ['SYSTEM', 'You are terse.'],
        ['USER', content],
      ]);
    });
  }

  it('ends a stream cut mid-way with CompletionFailed and a PARTIAL message', async () => {
    const conversationId = await newConversation();
    server.simulator.injectFault({ type: 'disconnect', afterChunks: 3 });
    const client = wsClient(server.wsUrl);
    const events = (
      await client
        .subscribe(Chat, { input: { conversationId, content: 'this stream will be cut short' } })
        .all()
    ).map((event) => event.chat);
    await client.close();
    const failed = events.at(-1);
    expect(failed?.__typename).toBe('CompletionFailed');
    if (failed?.__typename !== 'CompletionFailed') return;
    expect(failed.error.code).toBe('UPSTREAM_UNAVAILABLE');
    expect(failed.completion.status).toBe('FAILED');
    expect(failed.completion.message).toEqual({ content: textOf(events), status: 'PARTIAL' });
    expect(textOf(events).length).toBeGreaterThan(0);
  });
});

describe('a stream that stalls mid-way', () => {
  it('fails with UPSTREAM_UNAVAILABLE after OPENAI_TIMEOUT_MS of silence, keeping what arrived', async () => {
    const conversationId = await newConversation(undefined, impatient);
    // The server under test allows 1 s between chunks; the simulator now waits 5 s between them.
    impatient.simulator.setLatency({ firstTokenMs: 0, chunkDelayMs: 5_000 });
    const client = wsClient(impatient.wsUrl);
    const events = (
      await client.subscribe(Chat, { input: { conversationId, content: 'stall after a word' } }).all()
    ).map((event) => event.chat);
    await client.close();
    const failed = events.at(-1);
    expect(failed?.__typename).toBe('CompletionFailed');
    if (failed?.__typename !== 'CompletionFailed') return;
    expect(failed.error).toMatchObject({
      code: 'UPSTREAM_UNAVAILABLE',
      message: expect.stringMatching(/stalled/),
    });
    expect(failed.completion.message).toEqual({ content: textOf(events), status: 'PARTIAL' });
  });
});

async function waitForStatus(completionId: string, status: string) {
  const client = wsClient(server.wsUrl);
  await client.subscribe(CompletionEvents, { completionId }).completed.catch(() => {});
  await client.close();
  const { completion } = await server.data(CompletionById, { id: completionId });
  expect(completion.status).toBe(status);
  return completion;
}
