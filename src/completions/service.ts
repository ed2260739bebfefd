import type { ChatCompletionMessageParam } from 'openai/resources/chat/completions';
import { z } from 'zod';
import type { ConversationSettings } from '../conversations/settings.js';
import type { ConversationStore } from '../conversations/store.js';
import { AppError, ErrorCode, notFound } from '../errors.js';
import type { Logger } from '../observability/logger.js';
import type {
  CompletionErrorRecord,
  CompletionRow,
  ConversationRow,
  MessageRow,
  ToolCallRecord,
} from '../storage/schema.js';
import { costUsd, type ModelTable } from '../tokens/index.js';
import { parseInput, withoutNullish } from '../validation.js';
import type { CompletionEvent, CompletionEventLog, NewCompletionEvent } from './events.js';
import type { ChatRequest, OpenAIService, Usage } from './openai-service.js';
import type { CompletionStore } from './store.js';

export interface SendMessageInput extends Partial<ConversationSettings> {
  conversationId: string;
  content: string;
  idempotencyKey?: string | null;
}

export interface StartOptions {
  /** Ask the model for SSE chunks (subscriptions) or one JSON reply (sendMessage). */
  stream: boolean;
  /** `chat`: the run is aborted when its last subscriber leaves. */
  cancelWhenUnwatched: boolean;
}

interface ActiveRun {
  controller: AbortController;
  done: Promise<CompletionRow>;
  watchers: number;
  cancelWhenUnwatched: boolean;
}

const CANCELLED: CompletionErrorRecord = { code: 'CANCELLED', message: 'The completion was cancelled' };

/**
 * Runs completions: stores the user message first, asks the model, relays what arrives as events, and stores
 * the outcome (the assistant message, PARTIAL if cut short, and the completion's usage, cost and timings).
 */
export class CompletionService {
  private readonly runs = new Map<string, ActiveRun>();
  private readonly inputSchema;

  constructor(
    private readonly deps: {
      conversations: ConversationStore;
      completions: CompletionStore;
      events: CompletionEventLog;
      openai: OpenAIService;
      models: ModelTable;
      settingsSchema: z.ZodType<Partial<ConversationSettings>>;
      logger: Logger;
    },
  ) {
    this.inputSchema = z.object({
      content: z.string().min(1, 'must not be empty'),
      idempotencyKey: z.string().min(1).max(200).nullish(),
    });
  }

  /** Starts a completion, or returns the earlier one when the idempotency key was seen before. */
  async start(ownerId: string, input: SendMessageInput, options: StartOptions): Promise<CompletionRow> {
    const { content, idempotencyKey } = parseInput(this.inputSchema, input);
    const overrides = withoutNullish(parseInput(this.deps.settingsSchema, pickSettings(input)));
    const conversation = await this.deps.conversations.get(ownerId, input.conversationId);
    const settings = { ...settingsOf(conversation), ...overrides };

    const { row, created } = await this.deps.completions.create({
      ownerId,
      conversationId: conversation.id,
      model: settings.model,
      idempotencyKey,
    });
    if (!created) return row;

    await this.deps.conversations.append(conversation, { role: 'user', content, completionId: row.id });
    const controller = new AbortController();
    const run: ActiveRun = {
      controller,
      watchers: 0,
      cancelWhenUnwatched: options.cancelWhenUnwatched,
      done: Promise.resolve(row),
    };
    this.runs.set(row.id, run);
    run.done = this.execute(row, conversation, settings, options.stream, controller.signal).finally(() =>
      this.runs.delete(row.id),
    );
    return row;
  }

  /** Resolves with the completion once it has ended (at once if it already has, or runs elsewhere). */
  async finished(completion: CompletionRow): Promise<CompletionRow> {
    const run = this.runs.get(completion.id);
    if (run) return run.done;
    if (completion.status !== 'running') return completion;
    return new Promise((resolve, reject) => {
      const events = this.deps.events.follow(completion.id, 0, new AbortController().signal);
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

  async cancel(ownerId: string, completionId: string): Promise<CompletionRow> {
    const completion = await this.owned(ownerId, completionId);
    const run = this.runs.get(completionId);
    if (!run) return completion;
    run.controller.abort();
    return run.done;
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
    const completion = await this.owned(ownerId, completionId);
    if (!this.deps.events.has(completionId) && completion.status !== 'running') {
      const message = completion.messageId
        ? await this.deps.conversations.message(completion.messageId)
        : null;
      yield* storedEvents(completion, message?.content ?? '', afterSeq);
      return;
    }
    const run = this.runs.get(completionId);
    if (run) run.watchers += 1;
    try {
      yield* this.deps.events.follow(completionId, afterSeq, signal);
    } finally {
      if (run) {
        run.watchers -= 1;
        if (run.watchers === 0 && run.cancelWhenUnwatched) run.controller.abort();
      }
    }
  }

  /** Waits for running completions up to `graceMs`, then cancels the rest and waits for them to be stored. */
  async drain(graceMs: number): Promise<void> {
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

  private async execute(
    completion: CompletionRow,
    conversation: ConversationRow,
    settings: ConversationSettings,
    stream: boolean,
    signal: AbortSignal,
  ): Promise<CompletionRow> {
    const { conversations, completions, events, openai, logger } = this.deps;
    const started = performance.now();
    let firstTokenMs: number | null = null;
    let content = '';
    const toolCalls: ToolCallRecord[] = [];
    let usage: Usage = { promptTokens: 0, completionTokens: 0 };
    let finishReason = 'stop';
    const elapsed = () => Math.round(performance.now() - started);

    try {
      const context = await conversations.contextMessages(conversation.id);
      const request: ChatRequest = { ...settings, messages: context.map(toMessageParam) };
      for await (const delta of openai.deltas(request, stream, signal)) {
        if (delta.type === 'content') {
          firstTokenMs ??= elapsed();
          content += delta.text;
          events.append(completion.id, { kind: 'content', text: delta.text });
        } else if (delta.type === 'toolCall') {
          firstTokenMs ??= elapsed();
          const call = (toolCalls[delta.index] ??= { id: '', functionName: '', arguments: '' });
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
        } else if (delta.type === 'usage') {
          usage = delta.usage;
        } else {
          finishReason = delta.reason;
        }
      }
      const message = await conversations.append(conversation, {
        role: 'assistant',
        content: content || null,
        toolCalls: toolCalls.length > 0 ? toolCalls : null,
        completionId: completion.id,
      });
      const row = await completions.finish(completion.id, {
        status: 'completed',
        messageId: message.id,
        finishReason,
        ...usage,
        costUsd: costUsd(this.deps.models.get(settings.model), usage),
        latencyMs: elapsed(),
        timeToFirstTokenMs: firstTokenMs,
      });
      events.append(completion.id, { kind: 'done', finishReason, usage });
      return row;
    } catch (caught) {
      const cancelled = signal.aborted;
      const error = cancelled ? CANCELLED : errorRecord(caught);
      if (!cancelled && !(caught instanceof AppError))
        logger.error({ err: caught, completionId: completion.id }, 'completion failed');
      try {
        const partial = content
          ? await conversations.append(conversation, {
              role: 'assistant',
              content,
              status: 'partial',
              completionId: completion.id,
            })
          : null;
        return await completions.finish(completion.id, {
          status: cancelled ? 'cancelled' : 'failed',
          messageId: partial?.id ?? null,
          error,
          latencyMs: elapsed(),
          timeToFirstTokenMs: firstTokenMs,
        });
      } finally {
        events.append(completion.id, { kind: 'failed', error });
      }
    }
  }
}

/** Replays a finished completion from storage: its stored reply as one delta (if any), then its end. */
function* storedEvents(
  completion: CompletionRow,
  content: string,
  afterSeq: number,
): Generator<CompletionEvent> {
  const base = { completionId: completion.id };
  const replay: NewCompletionEvent[] = content ? [{ kind: 'content', text: content }] : [];
  replay.push(
    completion.status === 'completed'
      ? {
          kind: 'done',
          finishReason: completion.finishReason ?? 'stop',
          usage: { promptTokens: completion.promptTokens, completionTokens: completion.completionTokens },
        }
      : { kind: 'failed', error: completion.error ?? CANCELLED },
  );
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
  const { model, temperature, maxTokens, topP, frequencyPenalty, presencePenalty } = conversation;
  return { model, temperature, maxTokens, topP, frequencyPenalty, presencePenalty };
}

function pickSettings(input: Partial<ConversationSettings>): Partial<ConversationSettings> {
  const { model, temperature, maxTokens, topP, frequencyPenalty, presencePenalty } = input;
  return withoutNullish({ model, temperature, maxTokens, topP, frequencyPenalty, presencePenalty });
}

export function toMessageParam(message: MessageRow): ChatCompletionMessageParam {
  const content = message.content ?? '';
  switch (message.role) {
    case 'system':
      return { role: 'system', content, ...(message.name ? { name: message.name } : {}) };
    case 'user':
      return { role: 'user', content, ...(message.name ? { name: message.name } : {}) };
    case 'tool':
      return { role: 'tool', content, tool_call_id: message.toolCallId ?? '' };
    case 'assistant':
      return {
        role: 'assistant',
        content: message.content,
        ...(message.toolCalls?.length
          ? {
              tool_calls: message.toolCalls.map((call) => ({
                id: call.id,
                type: 'function' as const,
                function: { name: call.functionName, arguments: call.arguments },
              })),
            }
          : {}),
      };
  }
}
