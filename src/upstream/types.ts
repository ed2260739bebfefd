import type { Logger } from '../observability/logger.js';
import type { TraceContext } from '../observability/tracing.js';
import type { WireRequest } from './parameters.js';

/** What a completion asks of the model API, with what the platform itself needs to know about the request. */
export interface ChatRequest extends WireRequest {
  /**
   * The prompt's tokens: the stored per-message counts plus the tool definitions. The rate limiter reserves them
   * plus maxTokens, and they are the prompt's usage when the server reports none.
   */
  promptTokens: number;
  /** Answer from the response cache when possible (default: only at temperature 0). */
  cache?: boolean;
  /** Whose request it is: the upstream queue serves owners in turn (see UpstreamLimiter); it pays for it. */
  owner?: string;
  /** The API key the request came with: that key's budgets apply besides the owner's. */
  apiKeyId?: string | null;
}

/** Spending limits checked before a request goes upstream (the budgets' BudgetService). */
export interface SpendingGuard {
  /** Reserves the request's estimated cost, or fails with BUDGET_EXCEEDED. */
  reserve(request: ChatRequest): Promise<{ settle(usage: Usage | null): Promise<void> }>;
}

/** What the model sent, normalised across JSON and SSE responses. */
export type UpstreamDelta =
  | { type: 'content'; text: string }
  | { type: 'toolCall'; index: number; id?: string; functionName?: string; argumentsDelta: string }
  | { type: 'refusal'; text: string }
  /** `id` and `model`: the response's own (the model that answered may be a snapshot of the one asked). */
  | { type: 'finish'; reason: string; cached?: boolean; id?: string; model?: string };

/** Tokens one upstream request (or a run's requests, added up) used. */
export interface Usage {
  promptTokens: number;
  completionTokens: number;
  /** Of the prompt tokens, those the model API served from its prompt cache (OpenAI reports them). */
  cachedPromptTokens?: number;
  /** Of the completion tokens, those a reasoning model spent reasoning (OpenAI reports them). */
  reasoningTokens?: number;
  /** Counted by us with tiktoken because the server sent no usage (see UsageMeter). */
  estimated?: boolean;
}

/** Who makes a model request, for how it is sent, logged and traced. */
export interface UpstreamCaller {
  /** Ask for SSE chunks, or one JSON reply. */
  stream: boolean;
  signal: AbortSignal;
  /** The request's logger: the call's log line carries its request id. */
  logger: Logger;
  /** The parent of the call's `chat` span. */
  trace: TraceContext;
  conversationId?: string;
}
