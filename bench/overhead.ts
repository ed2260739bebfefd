import type { Client } from 'graphql-ws';
import type OpenAI from 'openai';
import type {
  ChatCompletionCreateParamsNonStreaming,
  ChatCompletionCreateParamsStreaming,
} from 'openai/resources/chat/completions';
import type { SimulatorClient } from '../src/simulator/index.js';
import { Chat, connectWs, type GraphQLHttp, SendMessage, subscribe, USER_MESSAGE } from './clients.js';
import type { ChildService } from './processes.js';
import { alternate, type Comparison, closedLoop, type Operation, type Samples } from './stats.js';

/** Another gateway in front of the same simulator, asked the same request through the SDK. */
export interface Peer {
  process: ChildService;
  openai: OpenAI;
}

export interface OverheadDeps {
  server: ChildService;
  http: GraphQLHttp;
  simulator: SimulatorClient;
  /** The baseline: the openai SDK talking to the simulator directly, from the harness process. */
  openai: OpenAI;
}

export interface LoadShape {
  clients: number;
  /** Operations per client per round. */
  iterations: number;
  rounds: number;
}

/**
 * The exact request body the server sent upstream for one platform call, so the baseline asks the simulator the
 * same thing (same messages, settings and therefore the same reply).
 */
async function upstreamBody(simulator: SimulatorClient, platformCall: () => Promise<unknown>) {
  await simulator.clearRequests();
  await platformCall();
  const [request] = await simulator.requests();
  if (!request?.body) throw new Error('the simulator logged no request body');
  return request.body;
}

/**
 * A closed-loop round that also reports the server's CPU time per operation: wall-clock latency on a busy machine
 * includes waiting for a core, CPU time does not (the baseline's is the server idling, close to zero).
 */
async function measuredRound(
  server: ChildService,
  shape: LoadShape,
  staggerMs: number,
  operation: Operation,
): Promise<Samples> {
  const cpuBefore = server.cpuMs();
  const started = performance.now();
  const samples = await closedLoop(shape.clients, shape.iterations, staggerMs, operation);
  const seconds = (performance.now() - started) / 1000;
  const operations = shape.clients * shape.iterations;
  return {
    ...samples,
    serverCpuMsPerOperation: [(server.cpuMs() - cpuBefore) / operations],
    operationsPerSecond: [operations / seconds],
  };
}

/**
 * Scenario 1: `sendMessage` over HTTP (persisted) against the same JSON request made with the SDK; and, with a
 * peer, the same request through the peer against the SDK, measured right after in the same way.
 */
export async function nonStreamedOverhead(
  deps: OverheadDeps,
  shape: LoadShape,
  peer?: Peer,
): Promise<{ ours: Record<string, Comparison>; peer?: Record<string, Comparison> }> {
  const { http, openai } = deps;
  // A fresh conversation per call: the one that captures the body, the warm-up, and the measured rounds.
  const conversations = await http.conversations(2 + shape.rounds * shape.clients * shape.iterations);
  const send = () =>
    http.data(SendMessage, {
      input: { conversationId: conversations.pop() as string, content: USER_MESSAGE },
    });
  const body = (await upstreamBody(
    deps.simulator,
    send,
  )) as unknown as ChatCompletionCreateParamsNonStreaming;

  const timed =
    (call: () => Promise<unknown>): Operation =>
    async () => {
      const started = performance.now();
      await call();
      return { latencyMs: [performance.now() - started] };
    };
  const direct = timed(() => openai.chat.completions.create(body));
  const ours = await alternate(
    shape.rounds,
    (operation) => measuredRound(deps.server, shape, 0, operation),
    direct,
    timed(send),
  );
  if (!peer) return { ours };
  const viaPeer = timed(() => peer.openai.chat.completions.create(body));
  const theirs = await alternate(
    shape.rounds,
    (operation) => measuredRound(peer.process, shape, 0, operation),
    direct,
    viaPeer,
  );
  return { ours, peer: theirs };
}

/**
 * Scenario 2: the `chat` subscription over graphql-ws against a direct SDK stream. Time to first and last content
 * token, measured from the moment the client asks. Clients start staggered over one stream's duration so that
 * starts are spread out as in steady traffic.
 */
export async function streamingOverhead(
  deps: OverheadDeps,
  shape: LoadShape,
  streamMs: number,
): Promise<Record<string, Comparison>> {
  const { http, openai } = deps;
  const sockets: Client[] = await Promise.all(
    Array.from({ length: shape.clients }, () => connectWs(deps.server.url)),
  );
  try {
    const conversations = await http.conversations(2 + shape.rounds * shape.clients * shape.iterations);
    const chat = async (socket: Client): Promise<Samples> => {
      const started = performance.now();
      let first: number | undefined;
      let last = 0;
      let failure: string | undefined;
      const { done } = subscribe(
        socket,
        Chat,
        { input: { conversationId: conversations.pop() as string, content: USER_MESSAGE } },
        {
          next: ({ chat: event }) => {
            if (event.__typename === 'CompletionFailed') failure = event.error.message;
            if (event.__typename !== 'ContentDelta') return;
            last = performance.now() - started;
            first ??= last;
          },
        },
      );
      await done;
      if (failure !== undefined || first === undefined)
        throw new Error(`chat failed: ${failure ?? 'no content'}`);
      return { timeToFirstTokenMs: [first], timeToLastTokenMs: [last] };
    };
    const streamBody = (await upstreamBody(deps.simulator, () =>
      chat(sockets[0] as Client),
    )) as unknown as ChatCompletionCreateParamsStreaming;
    const direct = async (): Promise<Samples> => {
      const started = performance.now();
      let first: number | undefined;
      let last = 0;
      const stream = await openai.chat.completions.create(streamBody);
      for await (const chunk of stream) {
        if (!chunk.choices[0]?.delta.content) continue;
        last = performance.now() - started;
        first ??= last;
      }
      if (first === undefined) throw new Error('the stream delivered no content');
      return { timeToFirstTokenMs: [first], timeToLastTokenMs: [last] };
    };

    const stagger = streamMs / shape.clients;
    return await alternate(
      shape.rounds,
      (operation) => measuredRound(deps.server, shape, stagger, operation),
      direct,
      (client) => chat(sockets[client] as Client),
    );
  } finally {
    await Promise.all(sockets.map((socket) => socket.dispose()));
  }
}
