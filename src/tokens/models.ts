import { z } from 'zod';

export type Encoding = 'cl100k_base' | 'o200k_base';

/** Every `reasoning_effort` value of the API; each reasoning model accepts a subset (its `reasoningEfforts`). */
export const REASONING_EFFORTS = ['none', 'minimal', 'low', 'medium', 'high', 'xhigh'] as const;
export type ReasoningEffort = (typeof REASONING_EFFORTS)[number];

/** The request parameter that caps the reply: OpenAI deprecated `max_tokens`, reasoning models refuse it. */
export type TokenLimitParameter = 'max_tokens' | 'max_completion_tokens';

export interface ModelInfo {
  id: string;
  contextWindow: number;
  maxOutputTokens: number;
  encoding: Encoding;
  inputUsdPerMillion: number;
  /** The price of prompt tokens served from the prompt cache; unset: the full input price. */
  cachedInputUsdPerMillion?: number;
  outputUsdPerMillion: number;
  /**
   * Reasoning models: the `reasoning_effort` values the API documents for the model, lowest first. Unset: not a
   * reasoning model.
   */
  reasoningEfforts?: readonly ReasoningEffort[];
  /** Unset: `max_completion_tokens` on OpenAI; on other servers per OPENAI_TOKEN_LIMIT_PARAM. */
  tokenLimitParameter?: TokenLimitParameter;
}

export const MODEL_NAME_MAX_LENGTH = 128;
/** Covers OpenAI ids, Ollama tags (`llama3.1:8b`) and Hugging Face names (`meta-llama/Llama-3.1-8B-Instruct`). */
const MODEL_NAME = /^[A-Za-z0-9][A-Za-z0-9._:/@+-]*$/;

/** What a model name may look like (whether the model is on offer is the table's `accepts`). */
export const modelNameSchema = z
  .string()
  .min(1, 'must not be empty')
  .max(MODEL_NAME_MAX_LENGTH, `must be at most ${MODEL_NAME_MAX_LENGTH} characters`)
  .regex(MODEL_NAME, { message: 'may contain only letters, digits and . _ : / @ + -', abort: true });

/** One entry of `MODEL_TABLE_JSON`; config validates with it before handing entries to `ModelTable`. */
export const modelInfoSchema = z.object({
  id: z.string().min(1),
  contextWindow: z.number().int().positive(),
  maxOutputTokens: z.number().int().positive(),
  encoding: z.enum(['cl100k_base', 'o200k_base']),
  inputUsdPerMillion: z.number().nonnegative(),
  cachedInputUsdPerMillion: z.number().nonnegative().optional(),
  outputUsdPerMillion: z.number().nonnegative(),
  reasoningEfforts: z.array(z.enum(REASONING_EFFORTS)).min(1).optional(),
  tokenLimitParameter: z.enum(['max_tokens', 'max_completion_tokens']).optional(),
}) satisfies z.ZodType<ModelInfo>;

/** When the prices below were read from OpenAI's model pages (developers.openai.com/api/docs/models). */
export const MODEL_PRICES_DATE = '2026-11-25';

const O_SERIES: readonly ReasoningEffort[] = ['low', 'medium', 'high'];
const GPT_5: readonly ReasoningEffort[] = ['minimal', 'low', 'medium', 'high'];
const GPT_5_1: readonly ReasoningEffort[] = ['none', 'low', 'medium', 'high'];
const GPT_5_2: readonly ReasoningEffort[] = ['none', 'low', 'medium', 'high', 'xhigh'];

// USD per million tokens, standard tier: input, cached input, output (MODEL_PRICES_DATE).
export const BUILTIN_MODELS: readonly ModelInfo[] = Object.freeze([
  model('gpt-5.4-mini', 400_000, 128_000, 'o200k_base', [0.75, 0.075, 4.5], GPT_5_2),
  model('gpt-5.4-nano', 400_000, 128_000, 'o200k_base', [0.2, 0.02, 1.25], GPT_5_2),
  model('gpt-5.2', 400_000, 128_000, 'o200k_base', [1.75, 0.175, 14], GPT_5_2),
  model('gpt-5.1', 400_000, 128_000, 'o200k_base', [1.25, 0.125, 10], GPT_5_1),
  model('gpt-5', 400_000, 128_000, 'o200k_base', [1.25, 0.125, 10], GPT_5),
  model('gpt-5-mini', 400_000, 128_000, 'o200k_base', [0.25, 0.025, 2], GPT_5),
  model('gpt-5-nano', 400_000, 128_000, 'o200k_base', [0.05, 0.005, 0.4], GPT_5),
  model('gpt-4.1', 1_047_576, 32_768, 'o200k_base', [2, 0.5, 8]),
  model('gpt-4.1-mini', 1_047_576, 32_768, 'o200k_base', [0.4, 0.1, 1.6]),
  model('gpt-4.1-nano', 1_047_576, 32_768, 'o200k_base', [0.1, 0.025, 0.4]),
  model('gpt-4o', 128_000, 16_384, 'o200k_base', [2.5, 1.25, 10]),
  model('gpt-4o-mini', 128_000, 16_384, 'o200k_base', [0.15, 0.075, 0.6]),
  model('o1', 200_000, 100_000, 'o200k_base', [15, 7.5, 60], O_SERIES),
  model('o3', 200_000, 100_000, 'o200k_base', [2, 0.5, 8], O_SERIES),
  model('o3-mini', 200_000, 100_000, 'o200k_base', [1.1, 0.55, 4.4], O_SERIES),
  model('o4-mini', 200_000, 100_000, 'o200k_base', [1.1, 0.275, 4.4], O_SERIES),
  // Legacy models (no prompt caching).
  model('gpt-4', 8192, 8192, 'cl100k_base', [30, undefined, 60]),
  model('gpt-4-turbo', 128_000, 4096, 'cl100k_base', [10, undefined, 30]),
  model('gpt-3.5-turbo', 16_385, 4096, 'cl100k_base', [0.5, undefined, 1.5]),
]);

function model(
  id: string,
  contextWindow: number,
  maxOutputTokens: number,
  encoding: Encoding,
  [inputUsdPerMillion, cachedInputUsdPerMillion, outputUsdPerMillion]: [number, number | undefined, number],
  reasoningEfforts?: readonly ReasoningEffort[],
): ModelInfo {
  return Object.freeze({
    id,
    contextWindow,
    maxOutputTokens,
    encoding,
    inputUsdPerMillion,
    ...(cachedInputUsdPerMillion === undefined ? {} : { cachedInputUsdPerMillion }),
    outputUsdPerMillion,
    ...(reasoningEfforts ? { reasoningEfforts } : {}),
  });
}

/** Limits and prices of a model the table lacks (a server's own model, or one newer than the table). */
export const FALLBACK_MODEL: Omit<ModelInfo, 'id'> = Object.freeze({
  contextWindow: 128_000,
  maxOutputTokens: 16_384,
  encoding: 'o200k_base',
  inputUsdPerMillion: 0,
  outputUsdPerMillion: 0,
});

/** A dated snapshot of a table model: `gpt-4o-2024-08-06`, `gpt-4-0613`, `gpt-3.5-turbo-0125`. */
const SNAPSHOT = /^(.+)-(?:\d{4}-\d{2}-\d{2}|\d{4})$/;

/**
 * Resolves model names to their limits, encoding, capabilities and prices.
 * Lookup: exact id, then the table model of which the name is a dated snapshot (`gpt-4o-2024-08-06` -> `gpt-4o`),
 * otherwise the fallback entry (under the model's own name), so models of compatible servers work; `onUnknown`
 * hears about each such model once so the caller can warn.
 */
export class ModelTable {
  private readonly entries = new Map<string, ModelInfo>();
  private readonly resolved = new Map<string, ModelInfo>();
  private listed: ReadonlySet<string> = new Set();

  constructor(
    extra: ModelInfo[] = [],
    private readonly onUnknown?: (model: string, fallback: ModelInfo) => void,
  ) {
    for (const info of [...BUILTIN_MODELS, ...extra]) this.entries.set(info.id, Object.freeze({ ...info }));
  }

  get(model: string): ModelInfo {
    const cached = this.resolved.get(model) ?? this.entries.get(model);
    if (cached) return cached;
    const known = this.findSnapshotOf(model);
    if (known) {
      this.resolved.set(model, known);
      return known;
    }
    const fallback = Object.freeze({ id: model, ...FALLBACK_MODEL });
    this.resolved.set(model, fallback);
    this.onUnknown?.(model, fallback);
    return fallback;
  }

  /** The table has an entry for the model (itself or the model it is a snapshot of). */
  has(model: string): boolean {
    return this.entries.has(model) || this.findSnapshotOf(model) !== undefined;
  }

  /** Models can be used when the table knows them or the upstream offers them (its `GET /models`, OPENAI_MODELS). */
  accepts(model: string): boolean {
    return this.has(model) || this.listed.has(model);
  }

  /**
   * Replaces the models the upstream offers besides the table's. Returns those the table lacks that were not
   * offered before: they resolve to the fallback entry (the caller warns about them, once, instead of `onUnknown`).
   */
  offer(models: Iterable<string>): string[] {
    this.listed = new Set(models);
    const fresh = [...this.listed].filter((id) => !this.has(id) && !this.resolved.has(id));
    for (const id of fresh) this.resolved.set(id, Object.freeze({ id, ...FALLBACK_MODEL }));
    return fresh;
  }

  /** Every model a client can choose, sorted: the table's and the upstream's. */
  offered(): string[] {
    return [...new Set([...this.entries.keys(), ...this.listed])].sort();
  }

  /** The table's entries, then the upstream's other models (with the fallback's limits and prices). */
  list(): ModelInfo[] {
    const others = [...this.listed].filter((id) => !this.has(id)).sort();
    return [...this.entries.values(), ...others.map((id) => this.get(id))];
  }

  private findSnapshotOf(model: string): ModelInfo | undefined {
    // Only a date may follow: `gpt-4-anything` is not gpt-4, and `gpt-4.5-preview` is not gpt-4.
    const base = SNAPSHOT.exec(model)?.[1];
    return base === undefined ? undefined : this.entries.get(base);
  }
}

export interface TokenUsageLike {
  promptTokens: number;
  completionTokens: number;
  /** Of the prompt tokens, those served from the prompt cache (billed at the cached-input price). */
  cachedPromptTokens?: number;
}

export function costUsd(model: ModelInfo, usage: TokenUsageLike): number {
  const cached = Math.min(usage.cachedPromptTokens ?? 0, usage.promptTokens);
  const cachedPrice = model.cachedInputUsdPerMillion ?? model.inputUsdPerMillion;
  return (
    ((usage.promptTokens - cached) * model.inputUsdPerMillion +
      cached * cachedPrice +
      usage.completionTokens * model.outputUsdPerMillion) /
    1_000_000
  );
}

/** Reasoning models take `reasoning_effort`, and sampling parameters only at effort `none` (gpt-5.1 on). */
export function isReasoningModel(model: ModelInfo): boolean {
  return model.reasoningEfforts !== undefined;
}

/**
 * Whether the API accepts non-default temperature, top_p and penalties with this model at this effort. For a
 * reasoning model only an explicit `none` does: the default effort differs between model generations.
 */
export function acceptsSampling(model: ModelInfo, effort: ReasoningEffort | null | undefined): boolean {
  return !isReasoningModel(model) || effort === 'none';
}
