import type { ConversationSettings } from '../conversations/settings.js';
import type { NewMessage } from '../conversations/store.js';
import type { FunctionCallChoice, ToolOffer } from '../functions/index.js';
import type { Logger } from '../observability/logger.js';
import type { TraceContext } from '../observability/tracing.js';
import type { CompletionRow, ConversationRow } from '../storage/schema.js';
import type { Usage } from '../upstream/index.js';
import type { ResponseFormatInput, StructuredOutput } from './structured-output.js';

/** A running completion: what every step needs, and what the steps have gathered so far. */
export interface CompletionRun {
  completion: CompletionRow;
  conversation: ConversationRow;
  settings: ConversationSettings;
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
  progress: { started: number; firstTokenMs: number | null; usage: Usage };
  /** The current step's content so far, stored as PARTIAL if the run fails before it is stored in full. */
  content: string;
  /** The final reply, once the model gave it (a reply that fails its responseFormat is kept). */
  answer?: NewMessage;
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
    firstTokenMs: progress.firstTokenMs,
    elapsedMs: Math.round(performance.now() - progress.started),
  };
}
