import type { Client } from 'graphql-ws';
import type { SimulatorClient } from '../src/simulator/index.js';
import {
  CancelCompletion,
  CompletionEvents,
  connectWs,
  type GraphQLHttp,
  StartCompletion,
  subscribe,
  USER_MESSAGE,
} from './clients.js';
import type { ChildService } from './processes.js';

export interface IdleShape {
  subscriptions: number;
  connections: number;
}

export interface IdleResult {
  subscriptions: number;
  connections: number;
  /** Server RSS growth divided by the number of subscriptions, both readings taken after a full GC. */
  bytesPerSubscription: number;
  /** The V8 heap's share of that growth: JavaScript objects only, without sockets' native buffers. */
  heapBytesPerSubscription: number;
  rssBeforeBytes: number;
  rssAfterBytes: number;
  /** Server CPU spent opening one subscription (parse, validate, authorize, replay). */
  cpuMsPerSubscribe: number;
}

/** Long enough that the followed completion stays RUNNING for the whole scenario. */
const STALLED_CHUNK_DELAY_MS = 30 * 60_000;

/**
 * Scenario 4: many open `completionEvents` subscriptions on one RUNNING completion whose stream has stalled after
 * its first chunk. Each subscription's replay of that chunk tells the harness it is in place; then they sit idle
 * while the server's memory is read. Connections are opened before the first reading so only subscriptions
 * count. The server must run with `--inspect` (see ChildService.collectGarbage).
 */
export async function idleSubscriptions(
  deps: { server: ChildService; http: GraphQLHttp; simulator: SimulatorClient },
  shape: IdleShape,
): Promise<IdleResult> {
  const { server, http, simulator } = deps;
  await simulator.setLatency({ firstTokenMs: 0, chunkDelayMs: STALLED_CHUNK_DELAY_MS });
  const sockets: Client[] = await Promise.all(
    Array.from({ length: shape.connections }, () => connectWs(server.url)),
  );
  try {
    const [conversationId] = await http.conversations(1);
    const { startCompletion } = await http.data(StartCompletion, {
      input: { conversationId: conversationId as string, content: USER_MESSAGE },
    });
    const completionId = startCompletion.id;
    const open = (socket: Client) => {
      let placed: () => void = () => {};
      const inPlace = new Promise<void>((resolve) => {
        placed = resolve;
      });
      const { done } = subscribe(
        socket,
        CompletionEvents,
        { completionId, afterSeq: 0 },
        { next: () => placed() },
      );
      return { inPlace, done };
    };
    // The first chunk has arrived once a first subscriber sees it.
    const first = open(sockets[0] as Client);
    await first.inPlace;
    await server.quiet();

    const heapBefore = await server.collectGarbage();
    const rssBeforeBytes = server.rssBytes();
    const cpuBefore = server.cpuMs();
    const subscriptions = Array.from({ length: shape.subscriptions }, (_, i) =>
      open(sockets[i % sockets.length] as Client),
    );
    await Promise.all(subscriptions.map((subscription) => subscription.inPlace));
    await server.quiet();
    const cpuMs = server.cpuMs() - cpuBefore;
    const heapAfter = await server.collectGarbage();
    const rssAfterBytes = server.rssBytes();

    // Cancelling ends every stream: all of them were still live.
    await http.data(CancelCompletion, { id: completionId });
    await Promise.all([first, ...subscriptions].map((subscription) => subscription.done));
    return {
      subscriptions: shape.subscriptions,
      connections: shape.connections,
      bytesPerSubscription: (rssAfterBytes - rssBeforeBytes) / shape.subscriptions,
      heapBytesPerSubscription: (heapAfter.heapUsedBytes - heapBefore.heapUsedBytes) / shape.subscriptions,
      rssBeforeBytes,
      rssAfterBytes,
      cpuMsPerSubscribe: cpuMs / shape.subscriptions,
    };
  } finally {
    await simulator.setLatency({ firstTokenMs: 0, chunkDelayMs: 0 });
    await Promise.all(sockets.map((socket) => socket.dispose()));
  }
}
