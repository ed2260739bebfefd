import { decodeGlobalID, encodeGlobalID } from '@pothos/plugin-relay';
import type { Fault } from '../../src/simulator/index.js';
import { CreateConversation, SendMessage, StartCompletion } from '../clients.js';
import { type Answer, codeOf, post, type StreamEnd, stream } from './client.js';
import type { Cluster } from './cluster.js';
import { SoakChat, SoakCompletionEvents } from './documents.js';
import type { SoakFunction } from './webhooks.js';

/**
 * How a turn talks to the server: `send` is sendMessage; `chat` a chat subscription followed to its end,
 * `chat-left` one the client leaves mid-stream; `resume` startCompletion, then completionEvents with reconnects.
 */
export type TurnKind = 'send' | 'chat' | 'chat-left' | 'resume';
type Tool = SoakFunction | 'validate_transaction';

/** One user message and the completion it starts, as the client saw it. */
export interface Turn {
  n: number;
  /** In the message content and the idempotency key: finds the turn's rows and upstream requests. */
  marker: string;
  kind: TurnKind;
  tool?: Tool;
  fault?: Fault;
  sentAt: number;
  /** Attempts that got no answer (the instance was down or died) and were sent again. */
  retries: number;
  /** Raw completion id, once an answer named it. */
  completionId?: string;
  /** completed, failed (terminal event or sendMessage), an error code, `left`, or `unanswered`. */
  outcome: string;
  /** The seqs a streaming client received, in order, across reconnects. */
  seqs: number[];
  terminals: number;
  reconnects: number;
}

const TOOLS: Tool[] = ['soak_lookup', 'soak_slow', 'soak_flaky', 'validate_transaction'];
/** Turns per conversation before a user starts a new one, so contexts stay small. */
const TURNS_PER_CONVERSATION = 6;
/** Attempts per request when the instance is down, and the pause between them. */
const MAX_ATTEMPTS = 15;
const RETRY_PAUSE_MS = 400;
/** A stream with nothing for this long counts as broken (faults, slow webhooks and lease sweeps stay below). */
const STREAM_IDLE_MS = 20_000;
const TERMINAL = new Set(['CompletionDone', 'CompletionFailed']);

const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

/** Drives the cluster: virtual users running turns, the faults queued before them, the kills. */
export class Traffic {
  readonly turns: Turn[] = [];
  readonly faultsQueued: Record<string, number> = {};
  private issued = 0;

  constructor(
    private readonly cluster: Cluster,
    private readonly random: () => number,
    private readonly runId: string,
    private readonly log: (message: string) => void,
  ) {}

  /** Plain sendMessage turns on the survivor only, without faults: the memory baseline's warm-up. */
  async warmup(count: number): Promise<void> {
    const url = this.cluster.pick(() => 0);
    await Promise.all(
      Array.from({ length: 4 }, async () => {
        // A conversation per user: turns in one conversation never overlap, so each upstream request's last
        // user message names the turn it serves.
        const conversation = await this.conversation(url);
        while (this.issued < count) await this.run(this.plan('send', false), conversation);
      }),
    );
  }

  /** Users run turns until `target` turns were started or the deadline passed; the kills are spread over it. */
  async drive(target: number, deadline: number): Promise<void> {
    const start = this.issued;
    const { users, kills } = this.cluster.settings;
    const killer = (async () => {
      for (let k = 1; k <= kills; k++) {
        while (this.issued - start < ((target - start) * k) / (kills + 1) && Date.now() < deadline)
          await sleep(100);
        if (Date.now() >= deadline) return;
        this.log(`SIGKILL instance 1 (kill ${k} of ${kills}, ${this.issued} turns started)`);
        await this.cluster.killAndRestart();
        this.log('instance 1 restarted');
      }
    })();
    await Promise.all(
      Array.from({ length: users }, async () => {
        let conversation = '';
        for (let turns = 0; this.issued < target && Date.now() < deadline; turns++) {
          if (turns % TURNS_PER_CONVERSATION === 0) {
            const created = await this.retrying(undefined, (url) => this.conversation(url));
            if (!created) throw new Error('could not create a conversation on any instance');
            conversation = created;
          }
          const turn = this.plan(this.kind(), true);
          if (turn.fault) {
            await this.cluster.sim.injectFault(turn.fault);
            this.faultsQueued[faultName(turn.fault)] = (this.faultsQueued[faultName(turn.fault)] ?? 0) + 1;
          }
          await this.run(turn, conversation);
        }
      }),
    );
    await killer;
  }

  private kind(): TurnKind {
    const r = this.random();
    return r < 0.3 ? 'send' : r < 0.55 ? 'chat' : r < 0.7 ? 'chat-left' : 'resume';
  }

  private plan(kind: TurnKind, withExtras: boolean): Turn {
    const n = this.issued++;
    const tool =
      withExtras && this.random() < 0.3 ? TOOLS[Math.floor(this.random() * TOOLS.length)] : undefined;
    const turn: Turn = {
      n,
      marker: `soak-${this.runId}-${n}`,
      kind,
      tool,
      sentAt: 0,
      retries: 0,
      outcome: 'unanswered',
      seqs: [],
      terminals: 0,
      reconnects: 0,
    };
    if (withExtras && this.random() < this.cluster.settings.faultProbability) turn.fault = this.fault(turn);
    this.turns.push(turn);
    return turn;
  }

  private fault(turn: Turn): Fault {
    const r = this.random();
    if (turn.tool && r < 0.3) return { type: 'tool_arguments', arguments: '{"item": "oat milk", ' };
    const pick = Math.floor(this.random() * 6);
    const chunks = 1 + Math.floor(this.random() * 5);
    switch (pick) {
      case 0:
        return { type: 'rate_limit', retryAfterMs: 200 + Math.round(this.random() * 400) };
      case 1:
        return { type: 'server_error', status: 500 };
      case 2:
        // Slower than usual but within the idle timeout: the stream goes on.
        return { type: 'stall', afterChunks: chunks, ms: 1200 };
      case 3:
        // Never resumes: the server's idle timeout gives up on it.
        return { type: 'stall', afterChunks: chunks };
      default:
        return { type: 'disconnect', afterChunks: chunks };
    }
  }

  private async conversation(url: string): Promise<string> {
    const answer = await post(url, CreateConversation, {
      input: { title: 'soak', systemPrompt: 'You are a concise assistant for a shopping platform.' },
    });
    const id = answer.data?.createConversation.id;
    if (!id) throw new Error(`createConversation failed: ${JSON.stringify(answer.errors)}`);
    return id;
  }

  private input(turn: Turn, conversationId: string) {
    const content =
      turn.tool === 'validate_transaction'
        ? `Validate this $${20 + turn.n} purchase from Amazon (reference ${turn.marker}).`
        : turn.tool
          ? `Item: oat milk. Please help with it (reference ${turn.marker}).`
          : `Suggest a weekly grocery budget for a family of four (reference ${turn.marker}).`;
    return {
      conversationId,
      content,
      idempotencyKey: turn.marker,
      maxTokens: 200,
      ...(turn.tool
        ? { functions: [turn.tool], functionCall: { mode: 'REQUIRED' as const, name: turn.tool } }
        : {}),
    };
  }

  private async run(turn: Turn, conversationId: string): Promise<void> {
    turn.sentAt = Date.now();
    const input = this.input(turn, conversationId);
    if (turn.kind === 'send') {
      const answer = await this.retrying(turn, (url) => post(url, SendMessage, { input }));
      this.settle(turn, answer, (data) => data.sendMessage);
      if (answer?.data) turn.outcome = answer.data.sendMessage.status.toLowerCase();
      return;
    }
    if (turn.kind === 'resume') {
      const answer = await this.retrying(turn, (url) => post(url, StartCompletion, { input }));
      this.settle(turn, answer, (data) => data.startCompletion);
      if (!turn.completionId) return;
      // One or two planned reconnects, each after a few events, to whichever instance comes up.
      const stops = Array.from(
        { length: 1 + Math.floor(this.random() * 2) },
        () => 1 + Math.floor(this.random() * 4),
      );
      return this.follow(turn, stops);
    }
    const leaveAfter =
      turn.kind === 'chat-left' ? 1 + Math.floor(this.random() * 4) : Number.POSITIVE_INFINITY;
    for (let attempt = 0; attempt < MAX_ATTEMPTS && !turn.completionId; attempt++) {
      const end = await stream(
        this.cluster.pick(this.random),
        SoakChat,
        { input },
        (data) => this.record(turn, data.chat) && turn.seqs.length < leaveAfter,
        STREAM_IDLE_MS,
      );
      if (this.ended(turn, end)) return;
      turn.retries++;
      await sleep(RETRY_PAUSE_MS);
    }
    // The stream broke after naming its completion: follow it elsewhere from the last event received.
    if (turn.completionId && turn.terminals === 0) await this.follow(turn, []);
  }

  /** Whether the turn is over after a stream ended this way (false: reconnect). */
  private ended(turn: Turn, end: StreamEnd): boolean {
    if (end.end === 'left') turn.outcome = turn.terminals > 0 ? turn.outcome : 'left';
    if (end.end === 'errors') turn.outcome = end.code;
    if (end.end === 'complete' && turn.terminals === 0) turn.outcome = 'ended without a terminal event';
    return end.end !== 'broken' || turn.terminals > 0;
  }

  /** completionEvents from the last seq received, reconnecting after `stops` events each, and when broken. */
  private async follow(turn: Turn, stops: number[]): Promise<void> {
    const completionId = encodeGlobalID('Completion', turn.completionId ?? '');
    for (let attempt = 0; attempt < MAX_ATTEMPTS && turn.terminals === 0; attempt++) {
      const stopAfter = stops.shift() ?? Number.POSITIVE_INFINITY;
      let received = 0;
      const end = await stream(
        this.cluster.pick(this.random),
        SoakCompletionEvents,
        { completionId, afterSeq: turn.seqs.at(-1) ?? 0 },
        (data) => this.record(turn, data.completionEvents) && ++received < stopAfter,
        STREAM_IDLE_MS,
      );
      if (end.end !== 'left' && this.ended(turn, end)) return;
      turn.reconnects++;
      if (end.end === 'broken') await sleep(RETRY_PAUSE_MS);
    }
  }

  /** Notes one event; false once it was the terminal one. */
  private record(turn: Turn, event: { __typename: string; seq: number; completionId: string }): boolean {
    turn.completionId ??= decodeGlobalID(event.completionId).id;
    turn.seqs.push(event.seq);
    if (!TERMINAL.has(event.__typename)) return true;
    turn.terminals++;
    turn.outcome = event.__typename === 'CompletionDone' ? 'completed' : 'failed';
    return false;
  }

  private settle<R>(turn: Turn, answer: Answer<R> | undefined, pick: (data: R) => { id: string }): void {
    if (!answer) return;
    if (answer.data) turn.completionId = decodeGlobalID(pick(answer.data).id).id;
    else turn.outcome = codeOf(answer.errors ?? []);
  }

  /** `send` on a live instance; again on another (the same idempotency key) when no answer came back. */
  private async retrying<T>(
    turn: Turn | undefined,
    send: (url: string) => Promise<T>,
  ): Promise<T | undefined> {
    for (let attempt = 0; attempt < MAX_ATTEMPTS; attempt++) {
      try {
        return await send(this.cluster.pick(this.random));
      } catch {
        if (turn) turn.retries++;
        await sleep(RETRY_PAUSE_MS);
      }
    }
    return undefined;
  }
}

export function faultName(fault: Fault): string {
  if (fault.type === 'stall') return fault.ms === undefined ? 'stall (never resumes)' : 'stall (resumes)';
  return fault.type;
}
