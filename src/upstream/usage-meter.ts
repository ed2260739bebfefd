import type { TokenCounter, ToolCallLike } from '../tokens/index.js';
import type { Usage } from './types.js';

/** The part of an upstream delta the meter reads (the OpenAI service's UpstreamDelta fits it). */
type MeteredDelta =
  | { type: 'content' | 'refusal'; text: string }
  | { type: 'toolCall'; index: number; functionName?: string; argumentsDelta: string }
  | { type: 'finish' };

/**
 * The usage of one upstream request: what the server reported, or, when it reported none (many compatible
 * servers and proxies send no `usage`, some ignore `stream_options.include_usage`), an estimate with the
 * context's own tiktoken rules, marked `estimated`. The prompt is the request's count (messages and tool
 * definitions); the completion is what arrived: text, refusal, and tool-call names and arguments. A request the
 * server never answered (refused, or abandoned before its response began) used nothing.
 */
export class UsageMeter {
  private answered = false;
  private reported: Usage | undefined;
  private text = '';
  private readonly toolCalls: ToolCallLike[] = [];

  constructor(
    private readonly tokens: TokenCounter,
    private readonly request: { model: string; promptTokens: number },
  ) {}

  /** The server accepted the request and its response began. */
  answer(): void {
    this.answered = true;
  }

  report(usage: Usage): void {
    this.reported = usage;
  }

  /** Notes what the model generated; returns the delta, so a producer can meter what it yields in passing. */
  saw<D extends MeteredDelta>(delta: D): D {
    if (delta.type === 'content' || delta.type === 'refusal') this.text += delta.text;
    else if (delta.type === 'toolCall') {
      const call = this.toolCalls[delta.index] ?? { id: '', functionName: '', arguments: '' };
      this.toolCalls[delta.index] = call;
      call.functionName ||= delta.functionName ?? '';
      call.arguments += delta.argumentsDelta;
    }
    return delta;
  }

  /**
   * Reported usage, else the estimate of what was sent and generated; null when the request used nothing. A
   * report of zero tokens (some servers send one rather than none) counts as no report: no prompt is empty.
   */
  async usage(): Promise<Usage | null> {
    if (this.reported && this.reported.promptTokens + this.reported.completionTokens > 0)
      return this.reported;
    if (!this.answered) return null;
    return {
      promptTokens: this.request.promptTokens,
      completionTokens: await this.tokens.completionTokens(
        this.text || null,
        this.toolCalls.filter(Boolean),
        this.request.model,
      ),
      estimated: true,
    };
  }
}

/** The usage of a run's requests added up; estimated when any of them was. */
export function addUsage(total: Usage, step: Usage): Usage {
  const cached = (total.cachedPromptTokens ?? 0) + (step.cachedPromptTokens ?? 0);
  const estimated = (total.estimated ?? false) || (step.estimated ?? false);
  return {
    promptTokens: total.promptTokens + step.promptTokens,
    completionTokens: total.completionTokens + step.completionTokens,
    reasoningTokens: (total.reasoningTokens ?? 0) + (step.reasoningTokens ?? 0),
    ...(cached > 0 ? { cachedPromptTokens: cached } : {}),
    ...(estimated ? { estimated } : {}),
  };
}

/**
 * A usage as the columns every usage-bearing row stores: tokens, whether estimated, and the cost (each request
 * priced at its own model's rates: a completion that fell back asked several models).
 */
export function usageColumns(usage: Usage, costUsd: number) {
  return {
    promptTokens: usage.promptTokens,
    completionTokens: usage.completionTokens,
    reasoningTokens: usage.reasoningTokens ?? 0,
    usageEstimated: usage.estimated ?? false,
    costUsd,
  };
}
