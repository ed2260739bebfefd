import OpenAI from 'openai';
import type {
  ChatCompletionCreateParamsBase,
  ChatCompletionMessageParam,
  ChatCompletionTool,
  ChatCompletionToolChoiceOption,
} from 'openai/resources/chat/completions';
import { AppError, ErrorCode } from '../errors.js';

export interface ChatRequest {
  model: string;
  messages: ChatCompletionMessageParam[];
  temperature: number;
  maxTokens: number;
  topP: number;
  frequencyPenalty: number;
  presencePenalty: number;
  tools?: ChatCompletionTool[];
  toolChoice?: ChatCompletionToolChoiceOption;
}

export interface Usage {
  promptTokens: number;
  completionTokens: number;
}

/** What the model sent, normalised across JSON and SSE responses. */
export type UpstreamDelta =
  | { type: 'content'; text: string }
  | { type: 'toolCall'; index: number; id?: string; functionName?: string; argumentsDelta: string }
  | { type: 'finish'; reason: string }
  | { type: 'usage'; usage: Usage };

export interface UpstreamOptions {
  apiKey: string;
  baseURL: string;
  timeoutMs: number;
  maxRetries: number;
}

/**
 * The one place that talks to the model API. The SDK's own retries (with retry-after honoured) are in force for
 * transient errors; a stream is never retried once it has started, because the SDK only retries the request.
 */
export class OpenAIService {
  private readonly client: OpenAI;

  constructor(options: UpstreamOptions) {
    this.client = new OpenAI({
      apiKey: options.apiKey,
      baseURL: options.baseURL,
      timeout: options.timeoutMs,
      maxRetries: options.maxRetries,
    });
  }

  /** Streams the reply as deltas; a JSON request yields the same deltas in one go, so callers handle one shape. */
  async *deltas(request: ChatRequest, stream: boolean, signal: AbortSignal): AsyncGenerator<UpstreamDelta> {
    const params = toParams(request);
    try {
      if (!stream) {
        const response = await this.client.chat.completions.create({ ...params, stream: false }, { signal });
        const choice = response.choices[0];
        if (choice?.message.content) yield { type: 'content', text: choice.message.content };
        for (const [index, call] of (choice?.message.tool_calls ?? []).entries()) {
          if (call.type !== 'function') continue;
          yield {
            type: 'toolCall',
            index,
            id: call.id,
            functionName: call.function.name,
            argumentsDelta: call.function.arguments,
          };
        }
        if (response.usage) yield { type: 'usage', usage: toUsage(response.usage) };
        yield { type: 'finish', reason: choice?.finish_reason ?? 'stop' };
        return;
      }
      const chunks = await this.client.chat.completions.create(
        { ...params, stream: true, stream_options: { include_usage: true } },
        { signal },
      );
      let finishReason: string | null = null;
      for await (const chunk of chunks) {
        const choice = chunk.choices[0];
        if (choice?.delta.content) yield { type: 'content', text: choice.delta.content };
        for (const call of choice?.delta.tool_calls ?? []) {
          yield {
            type: 'toolCall',
            index: call.index,
            id: call.id,
            functionName: call.function?.name,
            argumentsDelta: call.function?.arguments ?? '',
          };
        }
        if (choice?.finish_reason) finishReason = choice.finish_reason;
        if (chunk.usage) yield { type: 'usage', usage: toUsage(chunk.usage) };
      }
      if (finishReason === null) {
        throw new AppError(ErrorCode.UPSTREAM_UNAVAILABLE, 'The model stream ended without a finish reason');
      }
      yield { type: 'finish', reason: finishReason };
    } catch (error) {
      throw toAppError(error);
    }
  }
}

function toParams(request: ChatRequest): ChatCompletionCreateParamsBase {
  return {
    model: request.model,
    messages: request.messages,
    temperature: request.temperature,
    max_tokens: request.maxTokens,
    top_p: request.topP,
    frequency_penalty: request.frequencyPenalty,
    presence_penalty: request.presencePenalty,
    ...(request.tools?.length ? { tools: request.tools, tool_choice: request.toolChoice } : {}),
  };
}

const toUsage = (usage: OpenAI.CompletionUsage): Usage => ({
  promptTokens: usage.prompt_tokens,
  completionTokens: usage.completion_tokens,
});

/** Seconds to wait, from `retry-after-ms` or `retry-after` (seconds or an HTTP date). */
export function retryAfterSeconds(headers: Headers | undefined): number | undefined {
  const ms = Number(headers?.get('retry-after-ms'));
  if (headers?.get('retry-after-ms') && Number.isFinite(ms)) return ms / 1000;
  const value = headers?.get('retry-after');
  if (!value) return undefined;
  const seconds = Number(value);
  if (Number.isFinite(seconds)) return seconds;
  const date = Date.parse(value);
  return Number.isNaN(date) ? undefined : Math.max(0, (date - Date.now()) / 1000);
}

/** Maps the SDK's error classes onto the contract's codes; an abort passes through untouched. */
export function toAppError(error: unknown): unknown {
  if (error instanceof AppError || error instanceof OpenAI.APIUserAbortError) return error;
  if (error instanceof OpenAI.RateLimitError) {
    return new AppError(
      ErrorCode.UPSTREAM_RATE_LIMITED,
      `The model API is rate limiting us: ${error.message}`,
      {
        retryAfter: retryAfterSeconds(error.headers),
      },
    );
  }
  if (error instanceof OpenAI.AuthenticationError || error instanceof OpenAI.PermissionDeniedError) {
    return new AppError(
      ErrorCode.UPSTREAM_UNAVAILABLE,
      'The model API refused our credentials (check OPENAI_API_KEY)',
    );
  }
  if (error instanceof OpenAI.APIError && error.status !== undefined && error.status < 500) {
    return new AppError(
      ErrorCode.UPSTREAM_INVALID_REQUEST,
      `The model API rejected the request: ${error.message}`,
    );
  }
  if (error instanceof OpenAI.APIConnectionTimeoutError) {
    return new AppError(ErrorCode.UPSTREAM_UNAVAILABLE, 'The model API did not answer in time');
  }
  if (error instanceof OpenAI.APIError) {
    return new AppError(ErrorCode.UPSTREAM_UNAVAILABLE, `The model API failed: ${error.message}`);
  }
  if (error instanceof Error) {
    return new AppError(ErrorCode.UPSTREAM_UNAVAILABLE, `The model API connection failed: ${error.message}`);
  }
  return error;
}
