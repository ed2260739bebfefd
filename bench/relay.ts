import type { Client } from 'graphql-ws';
import type { SimulatorClient } from '../src/simulator/index.js';
import {
  CompletionEvents,
  connectWs,
  type GraphQLHttp,
  StartCompletion,
  subscribe,
  USER_MESSAGE,
} from './clients.js';
import type { ChildService } from './processes.js';
import { type Summary, summarize } from './stats.js';

export interface RelayShape {
  completions: number;
  subscribersPerCompletion: number;
  connections: number;
  rounds: number;
  /** Chunks per reply (the simulator's SIMULATOR_REPLY_WORDS). */
  replyWords: number;
}

export interface RelayResult {
  /** Chunk events delivered to subscribers per second of server CPU time, i.e. on one core. */
  eventsPerCpuSecond: Summary;
  /** Server CPU milliseconds per 1,000 chunk events delivered. */
  cpuMsPerThousandEvents: Summary;
  /** Server CPU milliseconds per 1,000 chunks read from upstream (each fanned out to every subscriber). */
  cpuMsPerThousandUpstreamChunks: Summary;
  /** Delivered per wall-clock second, as the harness received them (bounded by the harness on a small machine). */
  eventsPerWallSecond: Summary;
  /** Rounds discarded because events started flowing before the subscriptions were all set up. */
  discardedRounds: number;
}

/** Before its first token the simulator waits this long, so every subscriber is in place before chunks flow. */
const INITIAL_GAP_MS = 1500;
const MAX_GAP_MS = 20_000;

/**
 * Scenario 3: completions fanned out to many `completionEvents` subscribers, the simulator sending every chunk at
 * once after the first-token gap. Server CPU is counted from the moment set-up has finished (the server is
 * quiet) to the end of every stream, so it covers relaying, not subscribing.
 */
export async function relayThroughput(
  deps: { server: ChildService; http: GraphQLHttp; simulator: SimulatorClient },
  shape: RelayShape,
): Promise<RelayResult> {
  const { server, http, simulator } = deps;
  const sockets: Client[] = await Promise.all(
    Array.from({ length: shape.connections }, () => connectWs(server.url)),
  );
  const samples = {
    perCpuSecond: [] as number[],
    perEvent: [] as number[],
    perChunk: [] as number[],
    wall: [] as number[],
  };
  let discardedRounds = 0;
  let gapMs = INITIAL_GAP_MS;
  try {
    // One unmeasured warm-up round, then the measured ones.
    for (let round = -1; round < shape.rounds; ) {
      if (gapMs > MAX_GAP_MS) throw new Error('subscriptions never finished setting up before chunks flowed');
      await simulator.setLatency({ firstTokenMs: gapMs, chunkDelayMs: 0 });
      const conversations = await http.conversations(shape.completions);
      const ids = await Promise.all(
        conversations.map(
          async (conversationId) =>
            (await http.data(StartCompletion, { input: { conversationId, content: USER_MESSAGE } }))
              .startCompletion.id,
        ),
      );
      let delivered = 0;
      let firstAt = 0;
      let lastAt = 0;
      const streams = ids.flatMap((completionId, c) =>
        Array.from({ length: shape.subscribersPerCompletion }, (_, s) => {
          const socket = sockets[(c * shape.subscribersPerCompletion + s) % sockets.length] as Client;
          return subscribe(
            socket,
            CompletionEvents,
            { completionId, afterSeq: 0 },
            {
              next: ({ completionEvents: event }) => {
                if (event.__typename !== 'ContentDelta') return;
                lastAt = performance.now();
                if (delivered++ === 0) firstAt = lastAt;
              },
            },
          ).done;
        }),
      );
      await server.quiet();
      const cpuBefore = server.cpuMs();
      const overlapped = delivered > 0;
      await Promise.all(streams);
      const cpuMs = server.cpuMs() - cpuBefore;
      if (overlapped) {
        discardedRounds++;
        gapMs *= 2;
        continue;
      }
      if (round++ < 0) continue;
      const expected = shape.completions * shape.subscribersPerCompletion * shape.replyWords;
      if (delivered !== expected)
        throw new Error(`relay delivered ${delivered} chunk events, expected ${expected}`);
      samples.perCpuSecond.push(delivered / (cpuMs / 1000));
      samples.perEvent.push((cpuMs * 1000) / delivered);
      samples.perChunk.push((cpuMs * 1000) / (shape.completions * shape.replyWords));
      samples.wall.push(delivered / ((lastAt - firstAt) / 1000));
    }
  } finally {
    await simulator.setLatency({ firstTokenMs: 0, chunkDelayMs: 0 });
    await Promise.all(sockets.map((socket) => socket.dispose()));
  }
  return {
    eventsPerCpuSecond: summarize(samples.perCpuSecond),
    cpuMsPerThousandEvents: summarize(samples.perEvent),
    cpuMsPerThousandUpstreamChunks: summarize(samples.perChunk),
    eventsPerWallSecond: summarize(samples.wall),
    discardedRounds,
  };
}
