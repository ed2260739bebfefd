import type { ConversationSettings } from '../conversations/settings.js';
import type { NewMessage } from '../conversations/store.js';
import type { FunctionCallChoice, ToolOffer } from '../functions/index.js';
import type { Logger } from '../observability/logger.js';
import type { TraceContext } from '../observability/tracing.js';
import type {
  CompletionAttemptRecord,
  CompletionRow,
  ConversationRow,
  MessageRow,
} from '../storage/schema.js';
import { type Usage, usageColumns } from '../upstream/index.js';
import type { ModelChain } from './fallbacks.js';
import type { CompletionOutcome } from './store.js';
import type { ResponseFormatInput, StructuredOutput } from './structured-output.js';

/** A running completion: what every step needs, and what the steps have gathered so far. */
export interface CompletionRun {
  completion: CompletionRow;
  conversation: ConversationRow;
  settings: ConversationSettings;
  /** The model asked now, its fallback models, and the attempts so far. */
  chain: ModelChain;
  offer: ToolOffer;
  structured: StructuredOutput | null;
  maxSteps: number;
  cache: boolean | undefined;
  stream: boolean;
  /** What the send asked that the stored state keeps. */
  request: Pick<RunState, 'functions' | 'functionCall' | 'responseFormat' | 'requireApproval'>;
  /** A resumed run: the state it paused with. */
  resumeAfter?: RunState;
  signal: AbortSignal;
  logger: Logger;
  /** The run's `invoke_agent` span: the parent of its model requests, context trims and function executions. */
  trace: TraceContext;
  /** Usage and cost of every request so far, each request priced at its own model's rates. */
  progress: { started: number; firstTokenMs: number | null; usage: Usage; costUsd: number };
  /** The current step's content so far, stored as PARTIAL if the run fails before it is stored in full. */
  content: string;
  /** The current request has relayed content or tool-call deltas: it must not fall back (see ModelChain). */
  relayed: boolean;
  /** The final reply, once the model gave it (a reply that fails its responseFormat is kept). */
  answer?: NewMessage;
  /** The context as the run's first statement read it, for the first step only. */
  context?: MessageRow[];
}

/**
 * What a run keeps in memory while it runs, stored with the completion when it pauses for approvals so that any
 * instance, after any restart, can go on with it.
 */
export interface RunState {
  /** The run's settings: the conversation's at the start, with the send's overrides. */
  settings: ConversationSettings;
  functions: string[];
  functionCall: FunctionCallChoice | null;
  maxSteps: number;
  /** The request whose tool calls wait; the run goes on with the next one. */
  step: number;
  responseFormat: ResponseFormatInput | null;
  cache: boolean | null;
  stream: boolean;
  /** The send asked that every call be approved. */
  requireApproval: boolean;
  usage: Usage;
  /** Each request priced at its own model; unset in a state stored before fallbacks (then the usage's model). */
  costUsd?: number;
  /** The models still to ask, the one that answered first, and the attempts so far (see ModelChain). */
  models?: string[];
  attempts?: CompletionAttemptRecord[];
  firstTokenMs: number | null;
  /** How long the run ran before it paused: its latency leaves the wait out. */
  elapsedMs: number;
  /** The seq of the last event before the pause: the numbering goes on after it, on any instance. */
  lastSeq: number;
  /** The tool calls of this pause. */
  awaiting: string[];
}

/** The state a paused run is stored with, from the run in memory after its `step`-th request. */
export function pausedState(run: CompletionRun, step: number): Omit<RunState, 'lastSeq' | 'awaiting'> {
  const { progress } = run;
  return {
    ...run.request,
    settings: run.settings,
    maxSteps: run.maxSteps,
    step,
    cache: run.cache ?? null,
    stream: run.stream,
    usage: progress.usage,
    costUsd: progress.costUsd,
    models: run.chain.remaining,
    attempts: run.chain.attempts,
    firstTokenMs: progress.firstTokenMs,
    elapsedMs: Math.round(performance.now() - progress.started),
  };
}

/** What every outcome stores of the run: the model that answered (or was asked last), attempts, usage, timings. */
export function measured(run: CompletionRun): CompletionOutcome {
  const { progress } = run;
  return {
    model: run.chain.current,
    attempts: run.chain.attempts,
    ...usageColumns(progress.usage, progress.costUsd),
    latencyMs: Math.round(performance.now() - progress.started),
    timeToFirstTokenMs: progress.firstTokenMs,
  };
}
