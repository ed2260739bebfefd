import { ROOT_CONTEXT } from '@opentelemetry/api';
import { z } from 'zod';
import type { ConversationService } from '../conversations/service.js';
import { type ConversationSettings, pickSettings, settingsOf } from '../conversations/settings.js';
import type { ConversationStore } from '../conversations/store.js';
import { AppError, badInput, ErrorCode, notFound } from '../errors.js';
import type { FunctionCallChoice, FunctionService } from '../functions/index.js';
import type { Logger } from '../observability/logger.js';
import { agentSpan, tracedRun } from '../observability/spans.js';
import type { TraceContext, Tracing } from '../observability/tracing.js';
import type { CompletionRow } from '../storage/schema.js';
import type { ModelTable } from '../tokens/index.js';
import { parseInput } from '../validation.js';
import type { ApprovalGate } from './approval-gate.js';
import type { CompletionEvent, CompletionEventLog } from './events.js';
import type { ModelFallbacks } from './fallbacks.js';
import type { CompletionReplay } from './replay.js';
import type { CompletionRun, RunState } from './run-state.js';
import type { CompletionRunner } from './runner.js';
import type { RunRegistry } from './runs.js';
import type { CompletionStore, Lease } from './store.js';
import type { ResponseFormatInput, StructuredOutputs } from './structured-output.js';

export interface SendMessageInput extends Partial<ConversationSettings> {
  conversationId: string;
  content: string;
  idempotencyKey?: string | null;
  /** Registry functions offered to the model as `tools`. */
  functions?: string[] | null;
  functionCall?: FunctionCallChoice | null;
  /** Most model requests one completion makes while the model keeps calling functions (default 5). */
  maxSteps?: number | null;
  /** Answer from the response cache when possible; unset caches only at temperature 0. */
  cache?: boolean | null;
  /** Structured outputs: the reply as JSON, validated when it is finished. */
  responseFormat?: ResponseFormatInput | null;
  /** Every function call waits for approveToolCall / denyToolCall. */
  requireApproval?: boolean | null;
}

export const DEFAULT_MAX_STEPS = 5;
export const MAX_STEPS_LIMIT = 20;

export interface StartOptions {
  /** Ask the model for SSE chunks (subscriptions) or one JSON reply (sendMessage). */
  stream: boolean;
  /** `chat`: the run is aborted when its last subscriber leaves. */
  cancelWhenUnwatched: boolean;
  /** The request's logger: the run's lines, its upstream calls' included, carry the request id. */
  logger: Logger;
  /** The parent of the run's `invoke_agent` span: the GraphQL operation's. */
  trace: TraceContext;
  /** The API key the request came with (null in development mode): its budgets apply besides the owner's. */
  apiKeyId: string | null;
}

/**
 * Completions for the schema and the other features: starts runs (the user message stored first), finishes,
 * cancels and follows them, wherever they run.
 */
export class CompletionService {
  private readonly inputSchema;

  constructor(
    private readonly deps: {
      conversations: ConversationStore;
      completions: CompletionStore;
      events: CompletionEventLog;
      functions: FunctionService;
      models: ModelTable;
      /** Checks the settings a send chooses against the model, over the conversation's own. */
      settings: Pick<ConversationService, 'settings'>;
      fallbacks: ModelFallbacks;
      structuredOutputs: StructuredOutputs;
      tracing: Tracing;
      gate: ApprovalGate;
      lease: Lease;
      runs: RunRegistry;
      runner: CompletionRunner;
      replay: CompletionReplay;
      /** How long a cancel sent to another instance may take to show before the current state is returned. */
      remoteCancelTimeoutMs: number;
    },
  ) {
    this.inputSchema = z.object({
      content: z.string().min(1, 'must not be empty'),
      idempotencyKey: z.string().min(1).max(200).nullish(),
      functions: z.array(z.string()).max(64).nullish(),
      maxSteps: z.number().int().min(1).max(MAX_STEPS_LIMIT).nullish(),
    });
  }

  /** Starts a completion, or returns the earlier one when the idempotency key was seen before. */
  async start(ownerId: string, input: SendMessageInput, options: StartOptions): Promise<CompletionRow> {
    this.deps.runs.assertAccepting();
    const { content, idempotencyKey, functions, maxSteps } = parseInput(this.inputSchema, input);
    const structured = this.deps.structuredOutputs.prepare(input.responseFormat);
    const offer = await this.deps.functions.offerTools(ownerId, functions ?? [], input.functionCall);
    const known = await this.deps.conversations.settled(ownerId, input.conversationId);
    const settings = this.deps.settings.settings(settingsOf(known), pickSettings(input));

    // One statement: a completion never holds the idempotency key without its user message (a retry would get
    // it back, and the message would be lost).
    const { lease } = this.deps;
    const started = await this.deps.conversations.startTurn(known, {
      ownerId,
      content,
      model: settings.model,
      idempotencyKey: idempotencyKey ?? null,
      apiKeyId: options.apiKeyId,
      instanceId: lease.instanceId,
      leaseExpiresAt: new Date(Date.now() + lease.ms),
    });
    const { completion: row, conversation, context } = started;
    if (!started.created) return row;
    const controller = new AbortController();
    const run: CompletionRun = {
      completion: row,
      conversation,
      settings,
      chain: this.deps.fallbacks.chain(settings),
      offer,
      structured,
      maxSteps: maxSteps ?? DEFAULT_MAX_STEPS,
      cache: input.cache ?? undefined,
      stream: options.stream,
      request: {
        functions: functions ?? [],
        functionCall: input.functionCall ?? null,
        responseFormat: input.responseFormat ?? null,
        requireApproval: input.requireApproval ?? false,
      },
      signal: controller.signal,
      logger: options.logger.child({ completionId: row.id }),
      trace: options.trace,
      progress: {
        started: performance.now(),
        firstTokenMs: null,
        usage: { promptTokens: 0, completionTokens: 0 },
        costUsd: 0,
      },
      content: '',
      context,
      relayed: false,
    };
    const handle = {
      controller,
      cancelWhenUnwatched: options.cancelWhenUnwatched,
      content: () => run.content,
    };
    const span = agentSpan(settings.model, conversation.id, row.id);
    const done = tracedRun(this.deps.tracing, span, options.trace, (trace) =>
      this.deps.runner.run(Object.assign(run, { trace })),
    );
    this.deps.runs.add(row.id, handle, done);
    return row;
  }

  /**
   * Goes on with a run that waited for tool approvals and that this instance claimed (its calls all decided):
   * rebuilt from its stored state, its decided calls answered, then the tool loop as before.
   */
  resume(claimed: CompletionRow, logger: Logger): void {
    const state = claimed.runState as RunState;
    const controller = new AbortController();
    this.deps.events.handOver(claimed.id, state.lastSeq);
    let run: CompletionRun | undefined;
    const outcome = this.restore(claimed, state, controller.signal, logger).then(
      (restored) => {
        run = restored;
        return this.deps.runner.run(restored);
      },
      (error: unknown) => this.deps.runner.failToResume(claimed, error),
    );
    const handle = { controller, cancelWhenUnwatched: false, content: () => run?.content ?? '' };
    this.deps.runs.add(claimed.id, handle, outcome);
  }

  private async restore(
    completion: CompletionRow,
    state: RunState,
    signal: AbortSignal,
    logger: Logger,
  ): Promise<CompletionRun> {
    return {
      completion,
      conversation: await this.deps.conversations.get(completion.ownerId, completion.conversationId),
      settings: state.settings,
      chain: this.deps.fallbacks.chain(state.settings, state),
      // Offered again: a function disabled meanwhile fails the run rather than running.
      offer: await this.deps.functions.offerTools(completion.ownerId, state.functions, state.functionCall),
      structured: this.deps.structuredOutputs.prepare(state.responseFormat),
      maxSteps: state.maxSteps,
      cache: state.cache ?? undefined,
      stream: state.stream,
      request: state,
      resumeAfter: state,
      signal,
      logger: logger.child({ completionId: completion.id }),
      // A run resumed after an approval traces on its own (the operation that started it is long over).
      trace: ROOT_CONTEXT,
      progress: {
        started: performance.now() - state.elapsedMs,
        firstTokenMs: state.firstTokenMs,
        usage: state.usage,
        costUsd: state.costUsd ?? 0,
      },
      content: '',
      relayed: false,
    };
  }

  /**
   * Runs a completion to its end without streaming (`sendMessage`, the shopping assistant): its row once
   * COMPLETED or AWAITING_APPROVAL (a tool call waits for a person), or its stored error, with the upstream code,
   * as an AppError.
   */
  async complete(
    ownerId: string,
    input: SendMessageInput,
    caller: Pick<StartOptions, 'logger' | 'apiKeyId' | 'trace'>,
  ): Promise<CompletionRow> {
    const started = await this.start(ownerId, input, {
      stream: false,
      cancelWhenUnwatched: false,
      ...caller,
    });
    const completion = await this.finished(started);
    if (completion.status === 'completed' || completion.status === 'awaiting_approval') return completion;
    const error = completion.error;
    throw new AppError(
      (error?.code as ErrorCode | undefined) ?? ErrorCode.INTERNAL_SERVER_ERROR,
      error?.message ?? 'Failed',
      {
        retryAfter: error?.retryAfter ?? undefined,
        resetsAt: error?.resetsAt ? new Date(error.resetsAt) : undefined,
      },
    );
  }

  /** Resolves with the completion once it has ended (at once if it already has, or runs elsewhere). */
  async finished(completion: CompletionRow): Promise<CompletionRow> {
    const done = this.deps.runs.done(completion.id);
    if (done) return done;
    if (completion.status !== 'running') return completion;
    return this.deps.replay.outcome(completion, new AbortController().signal);
  }

  /** Cancels a run here, or asks the instance running it (through pub/sub) and waits for it to end. */
  async cancel(ownerId: string, completionId: string): Promise<CompletionRow> {
    const completion = await this.owned(ownerId, completionId);
    const cancelled = this.deps.runs.cancel(completionId);
    if (cancelled) return cancelled;
    if (completion.status === 'awaiting_approval') {
      // Unless a decision resumed it meanwhile: then it is cancelled where it runs.
      return (await this.deps.gate.cancel(completionId)) ?? this.cancel(ownerId, completionId);
    }
    if (completion.status !== 'running') return completion;
    this.deps.events.requestCancel(completionId);
    const timeout = AbortSignal.timeout(this.deps.remoteCancelTimeoutMs);
    for await (const _event of this.deps.replay.follow(completionId, 0, timeout)) {
      // drain to the terminal event
    }
    return (await this.deps.completions.get(completionId)) ?? completion;
  }

  async owned(ownerId: string, completionId: string): Promise<CompletionRow> {
    const completion = await this.deps.completions.get(completionId);
    if (!completion || completion.ownerId !== ownerId) throw notFound('Completion', completionId);
    return completion;
  }

  /** The completion's events after `afterSeq`, then live; a `chat` run ends when its last subscriber leaves. */
  async *events(
    ownerId: string,
    completionId: string,
    afterSeq: number,
    signal: AbortSignal,
  ): AsyncGenerator<CompletionEvent> {
    if (afterSeq < 0) throw badInput('afterSeq', 'must be 0 or more');
    yield* this.watch(await this.owned(ownerId, completionId), afterSeq, signal);
  }

  /** The events of a completion the caller already holds (`chat`: the one it started), as `events` gives them. */
  async *watch(
    completion: CompletionRow,
    afterSeq: number,
    signal: AbortSignal,
  ): AsyncGenerator<CompletionEvent> {
    const unwatch = this.deps.runs.watch(completion.id);
    try {
      yield* this.deps.replay.events(completion, afterSeq, signal);
    } finally {
      unwatch();
    }
  }
}
