import OpenAI from 'openai';
import { AppError, ErrorCode } from '../errors.js';
import type { TokenCounter } from '../tokens/index.js';
import { upstreamErrorDetail } from './errors.js';
import type { UpstreamGate } from './gate.js';
import type { UpstreamCall, UpstreamMonitor } from './monitor.js';
import { isOpenAI, type ParameterPolicy, type TokenLimitSetting, toParams } from './parameters.js';
import type { ResponseCache } from './response-cache.js';
import { isRetryable, retryAfterSeconds } from './retry.js';
import type { ChatRequest, SpendingGuard, UpstreamCaller, UpstreamDelta, Usage } from './types.js';
import { UsageMeter } from './usage-meter.js';

export interface UpstreamOptions {
  apiKey: string;
  baseURL: string;
  timeoutMs: number;
  /** Rate limits and retries around the start of every request (the SDK's own retries are off). */
  gate: UpstreamGate;
  cache: ResponseCache;
  /** Budgets: a request's estimated cost is reserved before it is sent, and corrected by its usage after. */
  budgets: SpendingGuard;
  /** Logs and counts every call. */
  monitor: UpstreamMonitor;
  /** The model table: which parameters each model takes. */
  models: ParameterPolicy['models'];
  /** OPENAI_TOKEN_LIMIT_PARAM (servers other than OpenAI's). */
  tokenLimit: TokenLimitSetting;
  /** Estimates the usage of calls the server reports none for. */
  tokens: TokenCounter;
}

/**
 * The one place that talks to the model API. Identical cacheable requests are answered from the response cache;
 * the others start through the gate (rate limits, then our retries of transient errors; the SDK's are off), and
 * a stream is never retried once it has started.
 */
export class OpenAIService {
  private readonly client: OpenAI;
  private readonly monitor: UpstreamMonitor;
  private readonly gate: UpstreamGate;
  private readonly cache: ResponseCache;
  private readonly budgets: SpendingGuard;
  private readonly parameters: ParameterPolicy;
  private readonly tokens: TokenCounter;

  private readonly idleTimeoutMs: number;
  private readonly server: URL;

  constructor(options: UpstreamOptions) {
    this.idleTimeoutMs = options.timeoutMs;
    this.server = new URL(options.baseURL);
    this.parameters = {
      models: options.models,
      openai: isOpenAI(options.baseURL),
      tokenLimit: options.tokenLimit,
    };
    this.monitor = options.monitor;
    this.gate = options.gate;
    this.cache = options.cache;
    this.budgets = options.budgets;
    this.tokens = options.tokens;
    this.client = new OpenAI({
      apiKey: options.apiKey,
      baseURL: options.baseURL,
      timeout: options.timeoutMs,
      maxRetries: 0,
    });
  }

  /** The ids of the models the upstream offers (its `GET /models`). */
  async listModels(signal: AbortSignal): Promise<string[]> {
    const ids: string[] = [];
    for await (const model of this.client.models.list({ signal })) ids.push(model.id);
    return ids;
  }

  /**
   * Streams the reply as deltas; a JSON request yields the same deltas in one go, so callers handle one shape.
   * Each call is logged once, with the caller's logger so the line carries its request id, and counted.
   * `onUsage` hears the call's usage once when it ends, also when it failed or was cancelled part-way: reported
   * by the server or estimated (see UsageMeter). A reply from the response cache used nothing and reports none.
   * Budgets are checked first: a request they cannot cover fails with BUDGET_EXCEEDED and is never sent; the
   * others' reservations are corrected by that same usage, so cost is counted once, failed or not.
   */
  async *deltas(
    request: ChatRequest,
    caller: UpstreamCaller,
    onUsage?: (usage: Usage) => void,
  ): AsyncGenerator<UpstreamDelta> {
    const { stream, signal, logger, trace, conversationId } = caller;
    const { model, messages } = request;
    const hold = await this.budgets.reserve(request);
    const call = this.monitor.begin(
      { model, messages, stream, signal, trace, conversationId, server: this.server },
      logger,
    );
    let meter: UsageMeter | undefined;
    let failure: unknown;
    try {
      const send = () => {
        meter = new UsageMeter(this.tokens, request);
        return this.send(request, stream, signal, call, meter);
      };
      for await (const delta of this.cache.through(request, send)) {
        call.saw(delta);
        yield delta;
      }
    } catch (error) {
      failure = error;
      throw error;
    } finally {
      const usage = (await meter?.usage()) ?? null;
      call.end(failure, usage);
      if (usage) onUsage?.(usage);
      await hold.settle(usage).catch((error: unknown) => {
        // The reservation then stands: the budget counts the estimate instead of the usage.
        logger.warn({ err: error }, 'correcting a budget reservation failed');
      });
    }
  }

  private async *send(
    request: ChatRequest,
    stream: boolean,
    signal: AbortSignal,
    call: UpstreamCall,
    meter: UsageMeter,
  ): AsyncGenerator<UpstreamDelta> {
    const params = toParams(request, this.parameters);
    const onRetry = () => call.retrying();
    call.sent(params, stream);
    let settle: ((usedTokens: number | undefined) => Promise<void>) | undefined;
    try {
      if (!stream) {
        const admitted = await this.gate.send(request, signal, onRetry, () =>
          this.client.chat.completions.create({ ...params, stream: false }, { signal }).withResponse(),
        );
        settle = admitted.settle;
        meter.answer();
        const response = admitted.data;
        if (response.usage) meter.report(toUsage(response.usage));
        const choice = response.choices[0];
        if (choice?.message.content) yield meter.saw({ type: 'content', text: choice.message.content });
        if (choice?.message.refusal) yield meter.saw({ type: 'refusal', text: choice.message.refusal });
        for (const [index, call] of (choice?.message.tool_calls ?? []).entries()) {
          if (call.type !== 'function') continue;
          yield meter.saw({
            type: 'toolCall',
            index,
            id: call.id,
            functionName: call.function.name,
            argumentsDelta: call.function.arguments,
          });
        }
        const { id, model } = response;
        yield { type: 'finish', reason: choice?.finish_reason ?? 'stop', id, model };
        return;
      }
      const admitted = await this.gate.send(request, signal, onRetry, () =>
        this.client.chat.completions
          .create({ ...params, stream: true, stream_options: { include_usage: true } }, { signal })
          .withResponse(),
      );
      settle = admitted.settle;
      meter.answer();
      let finishReason: string | null = null;
      let response: { id?: string; model?: string } = {};
      for await (const chunk of withinDeadlines(admitted.data, signal, this.idleTimeoutMs)) {
        response = chunk;
        const choice = chunk.choices[0];
        if (choice?.delta.content) yield meter.saw({ type: 'content', text: choice.delta.content });
        if (choice?.delta.refusal) yield meter.saw({ type: 'refusal', text: choice.delta.refusal });
        for (const call of choice?.delta.tool_calls ?? []) {
          yield meter.saw({
            type: 'toolCall',
            index: call.index,
            id: call.id,
            functionName: call.function?.name,
            argumentsDelta: call.function?.arguments ?? '',
          });
        }
        if (choice?.finish_reason) finishReason = choice.finish_reason;
        if (chunk.usage) meter.report(toUsage(chunk.usage));
      }
      if (finishReason === null) {
        throw new AppError(ErrorCode.UPSTREAM_UNAVAILABLE, 'The model stream ended without a finish reason');
      }
      yield { type: 'finish', reason: finishReason, id: response.id, model: response.model };
    } catch (error) {
      throw toAppError(error, this.client.apiKey);
    } finally {
      // The reservation is corrected by the usage, reported or estimated, also for a stream cut short.
      const usage = await meter.usage();
      await settle?.(usage ? usage.promptTokens + usage.completionTokens : undefined);
    }
  }
}

const toUsage = (usage: OpenAI.CompletionUsage): Usage => ({
  promptTokens: usage.prompt_tokens,
  completionTokens: usage.completion_tokens,
  cachedPromptTokens: usage.prompt_tokens_details?.cached_tokens ?? 0,
  reasoningTokens: usage.completion_tokens_details?.reasoning_tokens ?? 0,
});

/**
 * Maps the SDK's error classes onto the contract's codes, passing on only the upstream error's own fields
 * (upstreamErrorDetail); an abort passes through untouched.
 */
export function toAppError(error: unknown, apiKey: string): unknown {
  if (error instanceof AppError || error instanceof OpenAI.APIUserAbortError) return error;
  if (error instanceof OpenAI.RateLimitError) {
    return new AppError(
      ErrorCode.UPSTREAM_RATE_LIMITED,
      `The model API is rate limiting us: ${upstreamErrorDetail(error, apiKey)}`,
      { retryAfter: retryAfterSeconds(error.headers) },
    );
  }
  if (error instanceof OpenAI.AuthenticationError || error instanceof OpenAI.PermissionDeniedError) {
    return new AppError(
      ErrorCode.UPSTREAM_UNAVAILABLE,
      'The model API refused our credentials (check OPENAI_API_KEY)',
    );
  }
  if (error instanceof OpenAI.APIConnectionTimeoutError) {
    return new AppError(ErrorCode.UPSTREAM_UNAVAILABLE, 'The model API did not answer in time');
  }
  if (error instanceof OpenAI.APIConnectionError) {
    return new AppError(ErrorCode.UPSTREAM_UNAVAILABLE, `The model API connection failed: ${error.message}`);
  }
  if (error instanceof OpenAI.BadRequestError && error.code === 'context_length_exceeded') {
    // Our count fitted the context to the window the model table gives; the upstream knows the model better.
    return new AppError(
      ErrorCode.CONTEXT_TOO_LONG,
      `The model API refused the context as too long for the model: ${upstreamErrorDetail(error, apiKey)}`,
    );
  }
  if (error instanceof OpenAI.APIError) {
    const detail = upstreamErrorDetail(error, apiKey);
    return error.status !== undefined && !isRetryable(error)
      ? new AppError(ErrorCode.UPSTREAM_INVALID_REQUEST, `The model API rejected the request: ${detail}`)
      : new AppError(ErrorCode.UPSTREAM_UNAVAILABLE, `The model API failed: ${detail}`);
  }
  if (error instanceof Error) {
    return new AppError(ErrorCode.UPSTREAM_UNAVAILABLE, `The model API connection failed: ${error.message}`);
  }
  return error;
}

/**
 * Iterates a stream but gives up when `signal` aborts or no chunk arrives for `idleMs`. The SDK's timeout covers
 * the wait for the response headers only, and an abort that lands between two chunks was seen to leave the
 * iterator waiting for ever (shutdown then hung); racing each step keeps both bounded.
 */
export async function* withinDeadlines<T>(
  source: AsyncIterable<T>,
  signal: AbortSignal,
  idleMs: number,
): AsyncGenerator<T> {
  const iterator = source[Symbol.asyncIterator]();
  let onAbort: (() => void) | undefined;
  let timer: NodeJS.Timeout | undefined;
  // One promise and one timer for the whole stream, the timer restarted per chunk: this runs for every chunk.
  const interrupted = new Promise<never>((_, reject) => {
    onAbort = () => reject(signal.reason);
    signal.addEventListener('abort', onAbort, { once: true });
    timer = setTimeout(
      () => reject(new AppError(ErrorCode.UPSTREAM_UNAVAILABLE, `The model stream stalled for ${idleMs} ms`)),
      idleMs,
    );
  });
  interrupted.catch(() => {});
  try {
    for (;;) {
      signal.throwIfAborted();
      timer?.refresh();
      const pending = iterator.next();
      // Losing the race leaves this step unawaited; its later rejection must not become an unhandled one.
      pending.catch(() => {});
      const next = await Promise.race([pending, interrupted]);
      if (next.done) return;
      yield next.value;
    }
  } finally {
    clearTimeout(timer);
    if (onAbort) signal.removeEventListener('abort', onAbort);
    void iterator.return?.()?.catch(() => {});
  }
}
