import { AppError, ErrorCode } from '../errors.js';
import type { ModelTable } from '../tokens/index.js';

/** FALLBACK_MODELS: each model's fallback models, in order. */
export type FallbackDefaults = Readonly<Record<string, readonly string[]>>;

/**
 * Failures another model could answer: the upstream unavailable after its retries (5xx, timeouts, connection),
 * rate limited beyond the longest wait (upstream 429s or our own buckets, which can be per model), and a context
 * too long for the model's window. Anything else (a request the upstream refuses, a cancel) would fail the same
 * way on any model, or must not be retried.
 */
const FALLBACK_CODES: ReadonlySet<string> = new Set([
  ErrorCode.UPSTREAM_UNAVAILABLE,
  ErrorCode.UPSTREAM_RATE_LIMITED,
  ErrorCode.RATE_LIMITED,
  ErrorCode.CONTEXT_TOO_LONG,
]);

export function warrantsFallback(error: unknown): error is AppError {
  return error instanceof AppError && FALLBACK_CODES.has(error.code);
}

/** The models a run may ask, in order: the model, then its fallbacks (the settings', else FALLBACK_MODELS'). */
export function modelChain(
  settings: { model: string; fallbackModels: readonly string[] | null },
  defaults: FallbackDefaults,
): string[] {
  return [...new Set([settings.model, ...(settings.fallbackModels ?? defaults[settings.model] ?? [])])];
}

/** The models FALLBACK_MODELS names that are not on offer, to refuse at start; none: null. */
export function unofferedFallbacks(defaults: FallbackDefaults, models: ModelTable): string | null {
  const unoffered = [...new Set(Object.entries(defaults).flat(2))].filter((model) => !models.accepts(model));
  if (unoffered.length === 0) return null;
  return (
    `FALLBACK_MODELS names models that are not on offer: ${unoffered.join(', ')} (offered: the model table, ` +
    'MODEL_TABLE_JSON, OPENAI_MODELS or the upstream GET /models)'
  );
}
