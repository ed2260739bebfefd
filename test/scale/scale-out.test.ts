import { readFileSync } from 'node:fs';
import pg from 'pg';
import { beforeAll, describe, expect, it } from 'vitest';
import type { Simulator } from '../../src/simulator/index.js';
import {
  CancelCompletion,
  Chat,
  CompletionById,
  CompletionEvents,
  SendMessage,
  StartCompletion,
} from '../completions/documents.js';
import { CreateConversation } from '../conversations/documents.js';
import { wsClient } from '../support/clients.js';
import { useInstances } from '../support/instances.js';
import type { ServerProcess } from '../support/process.js';
import { redisAvailable } from '../support/redis.js';
import { postgresAvailable } from '../support/services.js';

const LEASE_MS = 1500;
const available = (await postgresAvailable()) && (await redisAvailable());

type Event = { __typename: string; seq: number; text?: string };
const textOf = (events: Event[]) =>
  events
    .filter((event) => event.__typename === 'ContentDelta')
    .map((event) => event.text)
    .join('');
const seqs = (events: Event[]) => events.map((event) => event.seq);
const oneToN = (events: Event[]) => events.map((_, index) => index + 1);

describe.skipIf(!available)('many instances on one PostgreSQL and one Redis', () => {
  const instances = useInstances({ COMPLETION_LEASE_MS: String(LEASE_MS) });
  const spawn = instances.spawn;
  let simulator: Simulator;
  let a: ServerProcess;
  let b: ServerProcess;

  const conversationOn = async (server: ServerProcess) =>
    (await server.data(CreateConversation, { input: { title: 'scale' } })).createConversation.id;

  beforeAll(async () => {
    simulator = instances.simulator;
    // Started together on an empty database: both migrate under one advisory lock (checked below).
    [a, b] = await Promise.all([spawn(), spawn()]);
  }, 120_000);

  it('runs the migrations once when two instances start together on an empty database', async () => {
    const journal = JSON.parse(readFileSync('drizzle/meta/_journal.json', 'utf8')) as { entries: unknown[] };
    const client = new pg.Client({ connectionString: instances.databaseUrl });
    await client.connect();
    try {
      const { rows } = await client.query<{ hash: string }>('select hash from drizzle.__drizzle_migrations');
      expect(rows).toHaveLength(journal.entries.length);
      expect(new Set(rows.map((row) => row.hash)).size).toBe(rows.length);
    } finally {
      await client.end();
    }
  });

  it('delivers a stream started on A to a subscriber on B, and a reconnect to A resumes without loss', async () => {
    simulator.setLatency({ chunkDelayMs: 20 });
    const conversationId = await conversationOn(a);
    const { startCompletion } = await a.data(StartCompletion, {
      input: { conversationId, content: 'stream across instances with a good number of words to relay' },
    });
    const onB = wsClient(b.wsUrl);
    const first = onB.subscribe(CompletionEvents, { completionId: startCompletion.id });
    const early = [await first.next(), await first.next(), await first.next()].map((e) => e.completionEvents);
    first.unsubscribe();
    const onA = wsClient(a.wsUrl);
    const rest = (
      await onA
        .subscribe(CompletionEvents, { completionId: startCompletion.id, afterSeq: early.at(-1)?.seq })
        .all()
    ).map((e) => e.completionEvents);
    const whole = (await onB.subscribe(CompletionEvents, { completionId: startCompletion.id }).all()).map(
      (e) => e.completionEvents,
    );
    await Promise.all([onA.close(), onB.close()]);
    simulator.setLatency({ chunkDelayMs: 0 });

    const stitched = [...early, ...rest];
    expect(seqs(stitched)).toEqual(oneToN(stitched));
    expect(seqs(whole)).toEqual(seqs(stitched));
    expect(stitched.at(-1)?.__typename).toBe('CompletionDone');
    const { completion } = await b.data(CompletionById, { id: startCompletion.id });
    expect(textOf(stitched)).toBe(completion.message?.content);
  });

  it("cancels on B a completion that runs on A, aborting A's upstream request", async () => {
    const conversationId = await conversationOn(a);
    const content = 'cancel me from the other instance';
    simulator.injectFault({ type: 'stall' });
    const { startCompletion } = await a.data(StartCompletion, { input: { conversationId, content } });
    const mentions = (request: { body: Record<string, unknown> }) =>
      JSON.stringify(request.body.messages).includes(content);
    await simulator.waitFor(mentions);
    const { cancelCompletion } = await b.data(CancelCompletion, { id: startCompletion.id });
    expect(cancelCompletion.status).toBe('CANCELLED');
    const upstream = await simulator.waitFor((request) => mentions(request) && request.status === 'aborted');
    expect(upstream.status).toBe('aborted');
  });

  it('fails a completion whose instance was killed, keeping its partial reply, while B keeps serving', async () => {
    const doomed = await spawn();
    simulator.setLatency({ chunkDelayMs: 100 });
    const conversationId = await conversationOn(doomed);
    const { startCompletion } = await doomed.data(StartCompletion, {
      input: { conversationId, content: 'a long answer that will never finish because its instance dies' },
    });
    const onB = wsClient(b.wsUrl);
    const subscription = onB.subscribe(CompletionEvents, { completionId: startCompletion.id });
    // Eight chunks at 100 ms span more than one lease renewal (every LEASE_MS / 3), which saves the reply so far.
    for (let index = 0; index < 8; index++) await subscription.next();
    doomed.child.kill('SIGKILL');
    await doomed.exited;
    const events = (await subscription.all()).map((e) => e.completionEvents);
    await onB.close();
    simulator.setLatency({ chunkDelayMs: 0 });

    const failed = events.at(-1);
    expect(failed?.__typename).toBe('CompletionFailed');
    expect(seqs(events)).toEqual(oneToN(events));
    const { completion } = await b.data(CompletionById, { id: startCompletion.id });
    expect(completion.status).toBe('FAILED');
    expect(completion.error?.code).toBe('UPSTREAM_UNAVAILABLE');
    expect(completion.message?.status).toBe('PARTIAL');
    expect(completion.message?.content?.length).toBeGreaterThan(0);
    expect(textOf(events).startsWith(completion.message?.content ?? '')).toBe(true);

    const { sendMessage } = await b.data(SendMessage, {
      input: { conversationId: await conversationOn(b), content: 'still there?' },
    });
    expect(sendMessage.status).toBe('COMPLETED');
  });

  it('ends 20 running streams as COMPLETED or CANCELLED on SIGTERM, storing their messages, and exits 0', async () => {
    // A lease that outlives a loaded machine's stalls: a lapsed lease lets another instance's sweep fail the run.
    const draining = await spawn({ SHUTDOWN_GRACE_MS: '1000', COMPLETION_LEASE_MS: '5000' });
    // Short replies (about 6 chunks) finish within the grace; long ones (about 27 chunks, 2.7 s) cannot.
    simulator.setLatency({ chunkDelayMs: 100 });
    const client = wsClient(draining.wsUrl);
    const streams = await Promise.all(
      Array.from({ length: 20 }, async (_, index) => {
        const conversationId = await conversationOn(draining);
        const words = Array.from({ length: index % 2 === 0 ? 0 : 30 }, (_, word) => `word${word}`).join(' ');
        const subscription = client.subscribe(Chat, {
          input: { conversationId, content: `stream ${index} ${words}` },
        });
        await subscription.next();
        return subscription;
      }),
    );
    draining.child.kill('SIGTERM');
    const outcomes = await Promise.all(
      streams.map(async (stream) =>
        (await stream.all()).map((event) => event.chat as Event & { completionId: string }),
      ),
    );
    expect(await draining.exited).toBe(0);
    await client.close();
    simulator.setLatency({ chunkDelayMs: 0 });

    const statuses: string[] = [];
    for (const events of outcomes) {
      const last = events.at(-1);
      const { completion } = await b.data(CompletionById, { id: last?.completionId ?? '' });
      statuses.push(completion.status);
      expect(completion.message?.status).toBe(completion.status === 'COMPLETED' ? 'COMPLETE' : 'PARTIAL');
      expect(completion.message?.content).toBe(textOf(events));
    }
    expect(new Set(statuses)).toEqual(new Set(['COMPLETED', 'CANCELLED']));
  });

  it('holds one global rate limit across two instances', async () => {
    const limited = {
      REDIS_KEY_PREFIX: instances.redisPrefix(),
      RATE_LIMIT_RPM: '4',
      RATE_LIMIT_MAX_WAIT: '0',
    };
    // A ten-minute window: the bucket does not refill noticeably during the test.
    const [e, f] = await Promise.all([
      spawn({ ...limited, RATE_LIMIT_WINDOW_MS: '600000' }),
      spawn({ ...limited, RATE_LIMIT_WINDOW_MS: '600000' }),
    ]);
    const codes: string[] = [];
    for (let index = 0; index < 10; index++) {
      const server = index % 2 === 0 ? e : f;
      const response = await server.request(SendMessage, {
        input: { conversationId: await conversationOn(server), content: `global limit ${index}` },
      });
      codes.push(response.errors?.[0]?.extensions?.code ?? 'OK');
    }
    expect(codes.filter((code) => code === 'OK')).toHaveLength(4);
    expect(codes.filter((code) => code === 'RATE_LIMITED')).toHaveLength(6);
    const upstream = simulator.requests.filter((request) =>
      JSON.stringify(request.body).includes('global limit'),
    );
    expect(upstream).toHaveLength(4);
  });
});
