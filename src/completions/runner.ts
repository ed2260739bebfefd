import type { ContextManager } from '../conversations/context.js';
import type { ConversationStore, NewMessage } from '../conversations/store.js';
import { AppError, ErrorCode } from '../errors.js';
import type { ToolOffer } from '../functions/index.js';
import type { CompletionRow, ToolCallRecord } from '../storage/schema.js';
import { costUsd, type ModelTable, REPLY_PRIMING_TOKENS } from '../tokens/index.js';
import {
  addUsage,
  type ChatRequest,
  type OpenAIService,
  toMessageParam,
  type Usage,
} from '../upstream/index.js';
import { CANCELLED, type CompletionEventLog, errorRecord } from './events.js';
import { type CompletionRun, measured } from './run-state.js';
import type { CompletionOutcome, CompletionStore, Lease } from './store.js';
import type { ToolCalls } from './tool-calls.js';
import { wholeToolPairs } from './tool-pairs.js';

/**
 * Runs one completion to its end: asks the model, relays what arrives as events, runs the functions it calls
 * and asks again, and stores the outcome (the assistant message, PARTIAL if cut short, and the completion's
 * usage, cost and timings).
 */
export class CompletionRunner {
  constructor(
    private readonly deps: {
      conversations: ConversationStore;
      context: ContextManager;
      completions: CompletionStore;
      events: CompletionEventLog;
      openai: OpenAIService;
      toolCalls: ToolCalls;
      models: ModelTable;
      lease: Lease;
    },
  ) {}

  /**
   * The tool loop: ask the model; while it calls functions, run them, store the results and ask again, up to
   * `maxSteps` requests; then store the answer and the completion's totals.
   */
  async run(run: CompletionRun): Promise<CompletionRow> {
    const { events } = this.deps;
    const { completion, progress } = run;
    try {
      // Another request once the calls of the `made`-th are answered, unless that was the last allowed.
      const another = (made: number) => {
        if (made >= run.maxSteps) {
          throw new AppError(
            ErrorCode.FUNCTION_FAILED,
            `The model was still calling functions after maxSteps (${run.maxSteps}) requests; ` +
              'the calls ran and are stored. Raise maxSteps or offer fewer functions.',
          );
        }
        return this.step(run, made + 1);
      };
      let made = run.resumeAfter?.step ?? 0;
      if (run.resumeAfter) await this.deps.toolCalls.answerDecided(run, run.resumeAfter);
      let reply = await another(made++);
      while (reply.toolCalls.length > 0) {
        const paused = await this.deps.toolCalls.run(run, reply, made);
        if (paused) return paused;
        reply = await another(made++);
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
        ...measured(run),
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
          ...measured(run),
        });
        swept = row === null;
        return row ?? (await this.current(completion));
      } finally {
        if (!swept) events.append(completion.id, { kind: 'failed', error });
      }
    }
  }

  /**
   * Stores a run's outcome and its reply (if any) in one statement, unless a lease sweep ended the run first
   * (another instance took this one for dead): then nothing is written and the sweep's outcome and terminal
   * event stand (null).
   */
  private async conclude(
    run: CompletionRun,
    reply: NewMessage | null,
    outcome: CompletionOutcome,
  ): Promise<CompletionRow | null> {
    const held = { completionId: run.completion.id, instanceId: this.deps.lease.instanceId };
    return this.deps.conversations.finishTurn(run.conversation, held, outcome, reply);
  }

  /** A run that could not be resumed (a function it offered is gone or disabled) ends FAILED. */
  async failToResume(completion: CompletionRow, caught: unknown): Promise<CompletionRow> {
    const error = errorRecord(caught);
    const row = await this.deps.completions.finishHeld(completion.id, this.deps.lease, {
      status: 'failed',
      error,
    });
    this.deps.events.append(completion.id, { kind: 'failed', error });
    return row ?? this.current(completion);
  }

  private async current(completion: CompletionRow): Promise<CompletionRow> {
    return (await this.deps.completions.get(completion.id)) ?? completion;
  }

  /**
   * One step: the run's model, or its fallback models while it fails in a way another model could answer (see
   * ModelChain.ask). The fallback loop is here, around the step's request, and not in the upstream client: the
   * context is fitted to each model's own window first, and only the run knows what reached the client.
   */
  private step(run: CompletionRun, step: number): Promise<StepReply> {
    return run.chain.ask((model) => this.request(run, step, model), run);
  }

  /** One upstream request to `model`: relays what arrives as events and returns the reply; usage adds up in `run`. */
  private async request(run: CompletionRun, step: number, model: string): Promise<StepReply> {
    const { conversations, events, openai } = this.deps;
    const { completion, progress } = run;
    const settings = { ...run.settings, model };
    run.relayed = false;
    // The first step's context came with the statement that started the run; later requests read it afresh.
    // Its stored counts tell the fit whether anything must go.
    let context = run.context ?? (await conversations.contextMessages(run.conversation.id));
    run.context = undefined;
    const fitted = await this.deps.context.fit(
      run.conversation,
      { ...settings, ...toolsForStep(run.offer, step) },
      run,
      context.reduce((total, message) => total + message.tokenCount, REPLY_PRIMING_TOKENS),
    );
    if (fitted.removedIds.length > 0) context = await conversations.contextMessages(run.conversation.id);
    const sent = wholeToolPairs(context);
    const request: ChatRequest = {
      ...settings,
      ...toolsForStep(run.offer, step),
      messages: sent.map(toMessageParam),
      // What is sent, by the stored counts: an incomplete tool pair left out is not counted either.
      promptTokens:
        sent.reduce((total, message) => total + message.tokenCount, REPLY_PRIMING_TOKENS) + fitted.toolTokens,
      cache: run.cache,
      responseFormat: run.structured?.wire,
      owner: completion.ownerId,
      apiKeyId: completion.apiKeyId,
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
      progress.costUsd += costUsd(this.deps.models.get(model), usage);
    };
    const caller = { ...run, conversationId: run.conversation.id };
    for await (const delta of openai.deltas(request, caller, addStepUsage)) {
      if (delta.type === 'content') {
        firstToken();
        run.content += delta.text;
        run.relayed = true;
        events.append(completion.id, { kind: 'content', text: delta.text });
      } else if (delta.type === 'toolCall') {
        firstToken();
        const call = toolCalls[delta.index] ?? { id: '', functionName: '', arguments: '' };
        toolCalls[delta.index] = call;
        call.id ||= delta.id ?? '';
        call.functionName ||= delta.functionName ?? '';
        call.arguments += delta.argumentsDelta;
        run.relayed = true;
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
