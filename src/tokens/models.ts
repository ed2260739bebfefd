import { z } from 'zod';

export type Encoding = 'cl100k_base' | 'o200k_base';

export interface ModelInfo {
  id: string;
  contextWindow: number;
  maxOutputTokens: number;
  encoding: Encoding;
  inputUsdPerMillion: number;
  outputUsdPerMillion: number;
}

/** One entry of `MODEL_TABLE_JSON`; config validates with it before handing entries to `ModelTable`. */
export const modelInfoSchema = z.object({
  id: z.string().min(1),
  contextWindow: z.number().int().positive(),
  maxOutputTokens: z.number().int().positive(),
  encoding: z.enum(['cl100k_base', 'o200k_base']),
  inputUsdPerMillion: z.number().nonnegative(),
  outputUsdPerMillion: z.number().nonnegative(),
}) satisfies z.ZodType<ModelInfo>;

// Prices are USD per million tokens (standard tier, uncached input) as published by OpenAI.
export const BUILTIN_MODELS: readonly ModelInfo[] = Object.freeze([
  model('gpt-4', 8192, 8192, 'cl100k_base', 30, 60),
  model('gpt-4-turbo', 128_000, 4096, 'cl100k_base', 10, 30),
  model('gpt-3.5-turbo', 16_385, 4096, 'cl100k_base', 0.5, 1.5),
  model('gpt-4o', 128_000, 16_384, 'o200k_base', 2.5, 10),
  model('gpt-4o-mini', 128_000, 16_384, 'o200k_base', 0.15, 0.6),
  model('gpt-4.1', 1_047_576, 32_768, 'o200k_base', 2, 8),
  model('gpt-4.1-mini', 1_047_576, 32_768, 'o200k_base', 0.4, 1.6),
  model('gpt-4.1-nano', 1_047_576, 32_768, 'o200k_base', 0.1, 0.4),
  model('o1', 200_000, 100_000, 'o200k_base', 15, 60),
  model('o3', 200_000, 100_000, 'o200k_base', 2, 8),
  model('o3-mini', 200_000, 100_000, 'o200k_base', 1.1, 4.4),
  model('o4-mini', 200_000, 100_000, 'o200k_base', 1.1, 4.4),
]);

function model(
  id: string,
  contextWindow: number,
  maxOutputTokens: number,
  encoding: Encoding,
  inputUsdPerMillion: number,
  outputUsdPerMillion: number,
): ModelInfo {
  return Object.freeze({
    id,
    contextWindow,
    maxOutputTokens,
    encoding,
    inputUsdPerMillion,
    outputUsdPerMillion,
  });
}

/**
 * Resolves model names to their limits, encoding and prices.
 * Lookup: exact id, then the longest id of which the name is a dated snapshot (`gpt-4o-2024-08-06` -> `gpt-4o`),
 * otherwise a permissive fallback (o200k_base, 128k window, free) so unknown models of compatible servers
 * still work; `onUnknown` hears about each such model once so the caller can warn.
 */
export class ModelTable {
  private readonly entries = new Map<string, ModelInfo>();
  private readonly resolved = new Map<string, ModelInfo>();
  // Longest first, so the first prefix hit is the most specific model.
  private readonly byLengthDesc: ModelInfo[];

  constructor(
    extra: ModelInfo[] = [],
    private readonly onUnknown?: (model: string, fallback: ModelInfo) => void,
  ) {
    for (const info of [...BUILTIN_MODELS, ...extra]) this.entries.set(info.id, Object.freeze({ ...info }));
    this.byLengthDesc = [...this.entries.values()].sort((a, b) => b.id.length - a.id.length);
  }

  get(model: string): ModelInfo {
    const cached = this.resolved.get(model) ?? this.entries.get(model);
    if (cached) return cached;
    const known = this.findSnapshotOf(model);
    if (known) {
      this.resolved.set(model, known);
      return known;
    }
    const fallback = Object.freeze({
      id: model,
      contextWindow: 128_000,
      maxOutputTokens: 16_384,
      encoding: 'o200k_base',
      inputUsdPerMillion: 0,
      outputUsdPerMillion: 0,
    } satisfies ModelInfo);
    this.resolved.set(model, fallback);
    this.onUnknown?.(model, fallback);
    return fallback;
  }

  has(model: string): boolean {
    return this.entries.has(model) || this.findSnapshotOf(model) !== undefined;
  }

  list(): ModelInfo[] {
    return [...this.entries.values()];
  }

  private findSnapshotOf(model: string): ModelInfo | undefined {
    // Requiring the '-' keeps `gpt-4.5-preview` from resolving to `gpt-4`.
    return this.byLengthDesc.find((info) => model.startsWith(`${info.id}-`));
  }
}

export interface TokenUsageLike {
  promptTokens: number;
  completionTokens: number;
}

export function costUsd(model: ModelInfo, usage: TokenUsageLike): number {
  return (
    (usage.promptTokens * model.inputUsdPerMillion + usage.completionTokens * model.outputUsdPerMillion) /
    1_000_000
  );
}
