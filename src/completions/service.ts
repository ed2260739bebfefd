import { z } from 'zod';
import type { ContextManager } from '../conversations/context.js';
import { type ConversationSettings, checkModelSettings } from '../conversations/settings.js';
import type { ConversationStore, NewMessage } from '../conversations/store.js';
import { AppError, badInput, ErrorCode, notFound } from '../errors.js';
import {
  type FunctionCallChoice,
  type FunctionService,
  type ToolOffer,
  toolMessageContent,
} from '../functions/index.js';
import type { Logger } from '../observability/logger.js';
import type { Db } from '../storage/db.js';
import type {
  CompletionErrorRecord,
  CompletionRow,
  ConversationRow,
  ToolCallRecord,
} from '../storage/schema.js';
import { type ModelTable, REPLY_PRIMING_TOKENS } from '../tokens/index.js';
import {
  addUsage,
  type ChatRequest,
  type OpenAIService,
  toMessageParam,
  type Usage,
  usageColumns,
} from '../upstream/index.js';
import { parseInput, withoutNullish } from '../validation.js';
import {
  CANCELLED,
  type CompletionEvent,
  type CompletionEventLog,
  type NewCompletionEvent,
  terminalOf,
} from './events.js';
import type { CompletionOutcome, CompletionStore, Lease } from './store.js';
import type { ResponseFormatInput, StructuredOutput, StructuredOutputs } from './structured-output.js';
import { wholeToolPairs } from './tool-pairs.js';

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
}

interface ActiveRun {
  controller: AbortController;
  done: Promise<CompletionRow>;
  watchers: number;
  cancelWhenUnwatched: boolean;
  /** The reply so far, saved with each lease renewal. */
  content: () => string;
}

/**
 * Runs completions: stores the user message first, asks the model, relays what arrives as events, and stores
 * the outcome (the assistant message, PARTIAL if cut short, and the completion's usage, cost and timings).
 */
export class CompletionService {
  private readonly runs = new Map<string, ActiveRun>();
  private readonly inputSchema;
  private readonly stopListening = new AbortController();
  private draining = false;

  constructor(
    private readonly deps: {
      conversations: ConversationStore;
      context: ContextManager;
      completions: CompletionStore;
      /** For the transaction that starts a completion (the stores' writes share it). */
      db: Pick<Db, 'transaction'>;
      events: CompletionEventLog;
      openai: OpenAIService;
      functions: FunctionService;
      models: ModelTable;
      settingsSchema: z.ZodType<Partial<ConversationSettings>>;
      structuredOutputs: StructuredOutputs;
      lease: Lease;
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
    if (this.draining) {
      throw new AppError(
        ErrorCode.UPSTREAM_UNAVAILABLE,
        'This instance is shutting down: retry on another one',
      );
    }
    const { content, idempotencyKey, functions, maxSteps } = parseInput(this.inputSchema, input);
    const structured = this.deps.structuredOutputs.prepare(input.responseFormat);
    const offer = await this.deps.functions.offerTools(functions ?? [], input.functionCall);
    const overrides = withoutNullish(parseInput(this.deps.settingsSchema, pickSettings(input)));
    const conversation = await this.deps.conversations.get(ownerId, input.conversationId);
    const settings = { ...settingsOf(conversation), ...overrides };
    checkModelSettings(this.deps.models.get(settings.model), overrides, settings.reasoningEffort);

    // One transaction: a failure or a crash between the two writes must not leave a completion holding the
    // idempotency key without its user message (a retry would get it back, and the message would be lost).
    const { row, created } = await this.deps.db.transaction(async (tx) => {
      const { lease } = this.deps;
      const fields = {
        ownerId,
        conversationId: conversation.id,
        model: settings.model,
        idempotencyKey,
        lease,
      };
      const started = await this.deps.completions.create(fields, tx);
      const message = { role: 'user' as const, content, completionId: started.row.id };
      if (started.created) await this.deps.conversations.append(conversation, message, tx);
      return started;
    });
    if (!created) return row;
    const controller = new AbortController();
    const running: CompletionRun = {
      completion: row,
      conversation,
      settings,
      offer,
      structured,
      maxSteps: maxSteps ?? DEFAULT_MAX_STEPS,
      cache: input.cache ?? undefined,
      stream: options.stream,
      signal: controller.signal,
      logger: options.logger.child({ completionId: row.id }),
      progress: {
        started: performance.now(),
        firstTokenMs: null,
        usage: { promptTokens: 0, completionTokens: 0 },
      },
      content: '',
    };
    const active: ActiveRun = {
      controller,
      watchers: 0,
      cancelWhenUnwatched: options.cancelWhenUnwatched,
      content: () => running.content,
      done: this.execute(running).finally(() => this.runs.delete(row.id)),
    };
    this.runs.set(row.id, active);
    return row;
  }

  /** Resolves with the completion once it has ended (at once if it already has, or runs elsewhere). */
  async finished(completion: CompletionRow): Promise<CompletionRow> {
    const run = this.runs.get(completion.id);
    if (run) return run.done;
    if (completion.status !== 'running') return completion;
    return new Promise((resolve, reject) => {
      const events = this.follow(completion.id, 0, new AbortController().signal);
      void (async () => {
        for await (const _event of events) {
          // drain to the terminal event
        }
        const row = await this.deps.completions.get(completion.id);
        if (row) resolve(row);
        else reject(notFound('Completion', completion.id));
      })().catch(reject);
    });
  }

  /** Cancels a run here, or asks the instance running it (through pub/sub) and waits for it to end. */
  async cancel(ownerId: string, completionId: string): Promise<CompletionRow> {
    const completion = await this.owned(ownerId, completionId);
    const run = this.runs.get(completionId);
    if (run) {
      run.controller.abort();
      return run.done;
    }
    if (completion.status !== 'running') return completion;
    this.deps.events.requestCancel(completionId);
    const timeout = AbortSignal.timeout(this.deps.remoteCancelTimeoutMs);
    for await (const _event of this.follow(completionId, 0, timeout)) {
      // drain to the terminal event
    }
    return (await this.deps.completions.get(completionId)) ?? completion;
  }

  /** Starts answering cancel requests from other instances and keeping this instance's leases. */
  listen(leases: { start(): void }): void {
    leases.start();
    void (async () => {
      for await (const completionId of this.deps.events.cancelRequests(this.stopListening.signal)) {
        this.runs.get(completionId)?.controller.abort();
      }
    })();
  }

  /** Running completions with their replies so far, for lease renewal. */
  activeRuns(): { id: string; partialContent: string }[] {
    return [...this.runs].map(([id, run]) => ({ id, partialContent: run.content() }));
  }

  async owned(ownerId: string, completionId: string): Promise<CompletionRow> {
    const completion = await this.deps.completions.get(completionId);
    if (!completion || completion.ownerId !== ownerId) throw notFound('Completion', completionId);
    return completion;
  }

  /**
   * The completion's events after `afterSeq`, then live. A finished completion whose event log has expired is
   * replayed from what was stored: its whole reply as one delta, then its end.
   */
  async *events(
    ownerId: string,
    completionId: string,
    afterSeq: number,
    signal: AbortSignal,
  ): AsyncGenerator<CompletionEvent> {
    if (afterSeq < 0) throw badInput('afterSeq', 'must be 0 or more');
    const completion = await this.owned(ownerId, completionId);
    if (completion.status !== 'running' && !(await this.deps.events.exists(completionId))) {
      const message = completion.messageId
        ? await this.deps.conversations.message(completion.messageId)
        : null;
      yield* storedEvents(completion, message?.content ?? '', afterSeq);
      return;
    }
    const run = this.runs.get(completionId);
    if (run) run.watchers += 1;
    try {
      yield* this.follow(completionId, afterSeq, signal);
    } finally {
      if (run) {
        run.watchers -= 1;
        if (run.watchers === 0 && run.cancelWhenUnwatched) run.controller.abort();
      }
    }
  }

  /**
   * The event log's follow, which asks the database when it hears nothing: a completion that ended on an instance
   * that died before announcing it gets its terminal event from the stored outcome instead of never ending.
   */
  private follow(completionId: string, afterSeq: number, signal: AbortSignal) {
    return this.deps.events.follow(completionId, afterSeq, signal, async (last) => {
      if (this.runs.has(completionId)) return undefined;
      const row = await this.deps.completions.get(completionId);
      if (!row || row.status === 'running') return undefined;
      return { ...terminalOf(row), seq: last + 1, completionId } as CompletionEvent;
    });
  }

  /** Waits for running completions up to `graceMs`, then cancels the rest and waits for them to be stored. */
  async drain(graceMs: number): Promise<void> {
    this.draining = true;
    this.stopListening.abort();
    const pending = [...this.runs.values()].map((run) => run.done.catch(() => undefined));
    let timer: NodeJS.Timeout | undefined;
    const deadline = new Promise<void>((resolve) => {
      timer = setTimeout(resolve, graceMs);
    });
    await Promise.race([Promise.all(pending), deadline]);
    clearTimeout(timer);
    for (const run of this.runs.values()) run.controller.abort();
    await Promise.all(pending);
  }

  /**
   * The tool loop: ask the model; while it calls functions, run them, store the results and ask again, up to
   * `maxSteps` requests; then store the answer and the completion's totals.
   */
  private async execute(run: CompletionRun): Promise<CompletionRow> {
    const { events } = this.deps;
    const { completion, progress } = run;
    const elapsed = () => Math.round(performance.now() - progress.started);
    try {
      let reply = await this.step(run, 1);
      for (let step = 2; reply.toolCalls.length > 0; step++) {
        await this.runToolCalls(run, reply);
        if (step > run.maxSteps) {
          throw new AppError(
            ErrorCode.FUNCTION_FAILED,
            `The model was still calling functions after maxSteps (${run.maxSteps}) requests; ` +
              'the calls ran and are stored. Raise maxSteps or offer fewer functions.',
          );
        }
        reply = await this.step(run, step);
      }
      const { usage } = progress;
      const answer = {
        role: 'assistant' as const,
        content: reply.content || null,
        refusal: reply.refusal || null,
        completionId: completion.id,
      };
      // Stored with the outcome even when it fails its responseFormat (then FAILED, in the catch below).
      run.answer = answer;
      const parsed = run.structured && !reply.refusal ? run.structured.parse(reply.content) : null;
      const row = await this.conclude(run, answer, {
        status: 'completed',
        parsed,
        finishReason: reply.finishReason,
        cached: reply.cached,
        ...usageColumns(this.deps.models.get(run.settings.model), usage),
        latencyMs: elapsed(),
        timeToFirstTokenMs: progress.firstTokenMs,
      });
      if (!row) return this.current(completion);
      events.append(completion.id, { kind: 'done', finishReason: reply.finishReason, usage });
      return row;
    } catch (caught) {
      const cancelled = run.signal.aborted;
      const error = cancelled ? CANCELLED : errorRecord(caught);
      if (!cancelled && !(caught instanceof AppError)) run.logger.error({ err: caught }, 'completion failed');
      let swept = false;
      try {
        const partial = run.content
          ? {
              role: 'assistant' as const,
              content: run.content,
              status: 'partial' as const,
              completionId: completion.id,
            }
          : null;
        const row = await this.conclude(run, run.answer ?? partial, {
          status: cancelled ? 'cancelled' : 'failed',
          error,
          ...usageColumns(this.deps.models.get(run.settings.model), progress.usage),
          latencyMs: elapsed(),
          timeToFirstTokenMs: progress.firstTokenMs,
        });
        swept = row === null;
        return row ?? (await this.current(completion));
      } finally {
        if (!swept) events.append(completion.id, { kind: 'failed', error });
      }
    }
  }

  /**
   * Stores a run's outcome and its reply (if any) in one transaction, unless a lease sweep ended the run first
   * (another instance took this one for dead): then nothing is written and the sweep's outcome and terminal
   * event stand (null).
   */
  private async conclude(
    run: CompletionRun,
    reply: NewMessage | null,
    outcome: CompletionOutcome,
  ): Promise<CompletionRow | null> {
    const { completions, conversations, lease } = this.deps;
    return this.deps.db.transaction(async (tx) => {
      const row = await completions.finishHeld(run.completion.id, lease, outcome, tx);
      if (!row || !reply) return row;
      const message = await conversations.append(run.conversation, reply, tx);
      return completions.finish(row.id, { messageId: message.id }, tx);
    });
  }

  private async current(completion: CompletionRow): Promise<CompletionRow> {
    return (await this.deps.completions.get(completion.id)) ?? completion;
  }

  /** One upstream request: relays what arrives as events and returns the reply; usage adds up in `run`. */
  private async step(run: CompletionRun, step: number): Promise<StepReply> {
    const { conversations, events, openai } = this.deps;
    const { completion, progress } = run;
    // The context is read anyway to be sent, so its stored counts tell the fit whether anything must go.
    let context = await conversations.contextMessages(run.conversation.id);
    const fitted = await this.deps.context.fit(
      run.conversation,
      { ...run.settings, ...toolsForStep(run.offer, step) },
      run,
      context.reduce((total, message) => total + message.tokenCount, REPLY_PRIMING_TOKENS),
    );
    if (fitted.removedIds.length > 0) context = await conversations.contextMessages(run.conversation.id);
    const sent = wholeToolPairs(context);
    const request: ChatRequest = {
      ...run.settings,
      ...toolsForStep(run.offer, step),
      messages: sent.map(toMessageParam),
      // What is sent, by the stored counts: an incomplete tool pair left out is not counted either.
      promptTokens:
        sent.reduce((total, message) => total + message.tokenCount, REPLY_PRIMING_TOKENS) + fitted.toolTokens,
      cache: run.cache,
      responseFormat: run.structured?.wire,
      owner: completion.ownerId,
    };
    const toolCalls: ToolCallRecord[] = [];
    let finishReason = 'stop';
    let cached = false;
    let refusal = '';
    run.content = '';
    const firstToken = () => {
      progress.firstTokenMs ??= Math.round(performance.now() - progress.started);
    };
    const addStepUsage = (usage: Usage) => {
      progress.usage = addUsage(progress.usage, usage);
    };
    for await (const delta of openai.deltas(request, run.stream, run.signal, run.logger, addStepUsage)) {
      if (delta.type === 'content') {
        firstToken();
        run.content += delta.text;
        events.append(completion.id, { kind: 'content', text: delta.text });
      } else if (delta.type === 'toolCall') {
        firstToken();
        const call = toolCalls[delta.index] ?? { id: '', functionName: '', arguments: '' };
        toolCalls[delta.index] = call;
        call.id ||= delta.id ?? '';
        call.functionName ||= delta.functionName ?? '';
        call.arguments += delta.argumentsDelta;
        events.append(completion.id, {
          kind: 'toolCall',
          index: delta.index,
          toolCallId: delta.id ?? null,
          functionName: delta.functionName ?? null,
          argumentsDelta: delta.argumentsDelta,
        });
      } else if (delta.type === 'refusal') {
        firstToken();
        refusal += delta.text;
      } else {
        finishReason = delta.reason;
        cached = delta.cached ?? false;
      }
    }
    return { content: run.content, refusal, toolCalls: toolCalls.filter(Boolean), finishReason, cached };
  }

  /**
   * Stores the assistant's tool calls, runs them concurrently and stores each result as a `tool` message, even
   * when cancelled, so the calls never lack their answers in the conversation.
   */
  private async runToolCalls(run: CompletionRun, reply: StepReply): Promise<void> {
    const { conversations, events, functions } = this.deps;
    const { completion, conversation } = run;
    await conversations.append(conversation, {
      role: 'assistant',
      content: reply.content || null,
      toolCalls: reply.toolCalls,
      completionId: completion.id,
    });
    run.content = '';
    const executions = await Promise.all(
      reply.toolCalls.map(async (call) => {
        const execution = await functions.executeToolCall(
          completion.ownerId,
          run.offer,
          call,
          completion.id,
          run.signal,
        );
        events.append(completion.id, { kind: 'functionExecuted', execution });
        return execution;
      }),
    );
    for (const execution of executions) {
      await conversations.append(conversation, {
        role: 'tool',
        content: toolMessageContent(execution),
        name: execution.functionName,
        toolCallId: execution.toolCallId,
        completionId: completion.id,
      });
    }
    run.signal.throwIfAborted();
  }
}

/** A running completion: what every step needs, and what the steps have gathered so far. */
interface CompletionRun {
  completion: CompletionRow;
  conversation: ConversationRow;
  settings: ConversationSettings;
  offer: ToolOffer;
  structured: StructuredOutput | null;
  maxSteps: number;
  cache: boolean | undefined;
  stream: boolean;
  signal: AbortSignal;
  logger: Logger;
  progress: { started: number; firstTokenMs: number | null; usage: Usage };
  /** The current step's content so far, stored as PARTIAL if the run fails before it is stored in full. */
  content: string;
  /** The final reply, once the model gave it (a reply that fails its responseFormat is kept). */
  answer?: NewMessage;
}

interface StepReply {
  content: string;
  /** The model declined (OpenAI's `refusal`); kept apart from content. */
  refusal: string;
  toolCalls: ToolCallRecord[];
  finishReason: string;
  /** Answered by the response cache, without an upstream request. */
  cached: boolean;
}

/** A forced or required call applies to the first request only; forcing it again would loop to maxSteps. */
function toolsForStep(offer: ToolOffer, step: number): Pick<ChatRequest, 'tools' | 'toolChoice'> {
  if (offer.tools.length === 0) return {};
  const toolChoice = step > 1 && offer.toolChoice !== 'none' ? 'auto' : offer.toolChoice;
  return { tools: offer.tools, toolChoice };
}

/** Replays a finished completion from storage: its stored reply as one delta (if any), then its end. */
function* storedEvents(
  completion: CompletionRow,
  content: string,
  afterSeq: number,
): Generator<CompletionEvent> {
  const base = { completionId: completion.id };
  const replay: NewCompletionEvent[] = content ? [{ kind: 'content', text: content }] : [];
  replay.push(terminalOf(completion));
  for (const [index, event] of replay.entries()) {
    if (index + 1 > afterSeq) yield { ...event, ...base, seq: index + 1 } as CompletionEvent;
  }
}

function errorRecord(error: unknown): CompletionErrorRecord {
  if (error instanceof AppError)
    return { code: error.code, message: error.message, retryAfter: error.retryAfter ?? null };
  return { code: ErrorCode.INTERNAL_SERVER_ERROR, message: 'Unexpected error' };
}

function settingsOf(conversation: ConversationRow): ConversationSettings {
  const { model, temperature, maxTokens, topP, frequencyPenalty, presencePenalty, reasoningEffort } =
    conversation;
  return { model, temperature, maxTokens, topP, frequencyPenalty, presencePenalty, reasoningEffort };
}

function pickSettings(input: Partial<ConversationSettings>): Partial<ConversationSettings> {
  const { model, temperature, maxTokens, topP, frequencyPenalty, presencePenalty, reasoningEffort } = input;
  return withoutNullish({
    model,
    temperature,
    maxTokens,
    topP,
    frequencyPenalty,
    presencePenalty,
    reasoningEffort,
  });
}
