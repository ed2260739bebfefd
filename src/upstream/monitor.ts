import type {
  ChatCompletionCreateParams,
  ChatCompletionMessageParam,
} from 'openai/resources/chat/completions';
import { AppError, ErrorCode } from '../errors.js';
import type { Logger } from '../observability/logger.js';
import type { Metrics } from '../observability/metrics.js';
import {
  chatRequestAttributes,
  chatResponseAttributes,
  chatSpan,
  inputMessages,
  outputMessages,
} from '../observability/spans.js';
import { failSpan, type Span, type TraceContext, type Tracing } from '../observability/tracing.js';
import { costUsd, type ModelTable, type TokenUsageLike } from '../tokens/index.js';
import type { UpstreamDelta } from './types.js';

export interface UpstreamCallStart {
  model: string;
  messages: readonly ChatCompletionMessageParam[];
  stream: boolean;
  signal: AbortSignal;
  /** The parent of the call's `chat` span. */
  trace: TraceContext;
  /** The upstream's base URL (server.address and server.port of the span). */
  server: URL;
  conversationId?: string;
}

/**
 * Usage as the model API reports it; `cachedPromptTokens` (part of the prompt) came from its prompt cache,
 * `reasoningTokens` (part of the completion) went into a reasoning model's thinking, and `estimated` marks our own
 * count for a server that reported none.
 */
export type ObservedUsage = TokenUsageLike & {
  cachedPromptTokens?: number;
  reasoningTokens?: number;
  estimated?: boolean;
};

/** The one structured line written per upstream call, to the request's log and to LOG_FILE. */
export interface UpstreamLogEntry {
  /** The model as requested (validated against the models on offer). */
  model: string;
  stream: boolean;
  messageCount: number;
  promptTokens: number;
  completionTokens: number;
  cachedPromptTokens: number;
  reasoningTokens: number;
  /** The server sent no usage: the tokens are our tiktoken estimate. */
  estimated: boolean;
  costUsd: number;
  latencyMs: number;
  timeToFirstTokenMs: number | null;
  /** `ok`, `cached` (answered by the response cache, nothing spent), `cancelled` or the error code. */
  status: string;
  retries: number;
}

export const UPSTREAM_LOG_MESSAGE = 'upstream call';

/**
 * Watches every call to the model API: the OpenAI service begins a call, feeds it what arrives and ends it; the
 * monitor then logs it once (message contents only at debug) and counts it in the metrics.
 */
export class UpstreamMonitor {
  constructor(
    private readonly deps: {
      metrics: Metrics;
      models: ModelTable;
      /** LOG_FILE's logger: receives the same line for every call. */
      file: Logger | null;
      tracing: Tracing;
    },
  ) {}

  begin(start: UpstreamCallStart, logger: Logger): UpstreamCall {
    const { tracing } = this.deps;
    const { name, options } = chatSpan(start.model, start.server, start.conversationId);
    const span = tracing.startSpan(name, options, start.trace);
    const capture = span.isRecording() && tracing.captureContent;
    if (capture) span.setAttribute('gen_ai.input.messages', inputMessages(start.messages));
    return new UpstreamCall(this, start, logger, span, capture);
  }

  wantsContents(logger: Logger): boolean {
    return logger.isLevelEnabled('debug') || (this.deps.file?.isLevelEnabled('debug') ?? false);
  }

  /** Logs and counts a call that has ended; UpstreamCall.end calls it once per call. */
  record(
    call: Omit<UpstreamLogEntry, 'costUsd'>,
    contents: { messages: readonly unknown[]; reply: string },
    logger: Logger,
  ): void {
    const { metrics, models, file } = this.deps;
    const { status } = call;
    const info = models.get(call.model);
    const entry: UpstreamLogEntry = { ...call, costUsd: costUsd(info, call) };
    // Labels name the model table's entry (a snapshot counts as its model), never what a client typed.
    const model = info.id;
    metrics.upstreamRequests.inc({ model, outcome: status });
    metrics.upstreamDuration.observe({ model, outcome: status }, entry.latencyMs / 1000);
    if (entry.timeToFirstTokenMs !== null) {
      metrics.upstreamTimeToFirstToken.observe({ model }, entry.timeToFirstTokenMs / 1000);
    }
    if (entry.retries > 0) metrics.upstreamRetries.inc({ model }, entry.retries);
    const estimated = String(entry.estimated);
    metrics.upstreamTokens.inc({ model, kind: 'prompt', estimated }, entry.promptTokens);
    metrics.upstreamTokens.inc({ model, kind: 'completion', estimated }, entry.completionTokens);
    metrics.upstreamTokens.inc({ model, kind: 'cached', estimated }, entry.cachedPromptTokens);
    metrics.upstreamTokens.inc({ model, kind: 'reasoning', estimated }, entry.reasoningTokens);
    metrics.upstreamCost.inc({ model, estimated }, entry.costUsd);

    const level = status === 'ok' || status === 'cached' || status === 'cancelled' ? 'info' : 'warn';
    const withContents = (target: Logger) =>
      target.isLevelEnabled('debug') ? { ...entry, ...contents } : entry;
    logger[level](withContents(logger), UPSTREAM_LOG_MESSAGE);
    // The file logger has the same base fields (service) as the app logger: copy only the request's own bindings.
    const { service: _base, ...requestBindings } = logger.bindings();
    file?.[level]({ ...requestBindings, ...withContents(file) }, UPSTREAM_LOG_MESSAGE);
  }

  streamOpened(): void {
    this.deps.metrics.activeStreams.inc();
  }

  streamClosed(): void {
    this.deps.metrics.activeStreams.dec();
  }
}

/**
 * One call to the model API, from sending to its last chunk (or failure); logged and counted when it ends, and
 * traced as a `chat {model}` span (see observability/spans.ts), contents on it only with `captureContent`.
 */
export class UpstreamCall {
  private readonly startedAt = performance.now();
  private readonly keepContents: boolean;
  private firstTokenMs: number | null = null;
  private reply = '';
  private readonly toolCalls: { id: string; functionName: string; arguments: string }[] = [];
  private finish: Extract<UpstreamDelta, { type: 'finish' }> | undefined;
  private retries = 0;
  private ended = false;

  constructor(
    private readonly monitor: UpstreamMonitor,
    private readonly start: UpstreamCallStart,
    private readonly logger: Logger,
    private readonly span: Span,
    private readonly captureContent: boolean,
  ) {
    this.keepContents = captureContent || monitor.wantsContents(logger);
    if (start.stream) monitor.streamOpened();
  }

  /** The retry loop calls this before each new attempt of the same call. */
  retrying(): void {
    this.retries += 1;
  }

  /** The request as it goes on the wire, once per call. */
  sent(params: ChatCompletionCreateParams, stream: boolean): void {
    if (this.span.isRecording()) this.span.setAttributes(chatRequestAttributes(params, stream));
  }

  saw(delta: UpstreamDelta): void {
    if (delta.type !== 'finish') this.firstTokenMs ??= this.elapsedMs();
    if (delta.type === 'content' && this.keepContents) this.reply += delta.text;
    if (delta.type === 'toolCall' && this.captureContent) {
      const call = this.toolCalls[delta.index] ?? { id: '', functionName: '', arguments: '' };
      this.toolCalls[delta.index] = call;
      call.id ||= delta.id ?? '';
      call.functionName ||= delta.functionName ?? '';
      call.arguments += delta.argumentsDelta;
    }
    if (delta.type === 'finish') this.finish = delta;
  }

  /**
   * Ends the call once, successful unless `error` is given, with its usage (null: none, as for a refused call or
   * a cached reply); later calls are ignored.
   */
  end(error?: unknown, usage?: ObservedUsage | null): void {
    if (this.ended) return;
    this.ended = true;
    if (this.start.stream) this.monitor.streamClosed();
    const { model, messages, stream, signal } = this.start;
    const status = signal.aborted
      ? 'cancelled'
      : error !== undefined
        ? error instanceof AppError
          ? error.code
          : ErrorCode.INTERNAL_SERVER_ERROR
        : this.finish?.cached
          ? 'cached'
          : 'ok';
    this.traced(status, usage);
    this.monitor.record(
      {
        model,
        stream,
        messageCount: messages.length,
        promptTokens: usage?.promptTokens ?? 0,
        completionTokens: usage?.completionTokens ?? 0,
        cachedPromptTokens: usage?.cachedPromptTokens ?? 0,
        reasoningTokens: usage?.reasoningTokens ?? 0,
        estimated: usage?.estimated ?? false,
        latencyMs: this.elapsedMs(),
        timeToFirstTokenMs: this.firstTokenMs,
        status,
        retries: this.retries,
      },
      { messages, reply: this.reply },
      this.logger,
    );
  }

  private traced(status: string, usage: ObservedUsage | null | undefined): void {
    const { span, finish } = this;
    if (!span.isRecording()) return; // off or sampled out: nothing to end
    span.setAttributes(chatResponseAttributes({ ...finish, finishReason: finish?.reason, usage }));
    if (this.captureContent && finish)
      span.setAttribute('gen_ai.output.messages', outputMessages(this.reply, this.toolCalls, finish.reason));
    if (status !== 'ok' && status !== 'cached')
      failSpan(span, status === 'cancelled' ? 'CANCELLED' : status, undefined);
    span.end();
  }

  private elapsedMs(): number {
    return Math.round(performance.now() - this.startedAt);
  }
}
