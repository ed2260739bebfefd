import { AppError, ErrorCode } from '../errors.js';
import type { Logger } from '../observability/logger.js';
import type { Metrics } from '../observability/metrics.js';
import type { CompletionAttemptRecord, CompletionErrorRecord } from '../storage/schema.js';
import type { ModelTable } from '../tokens/index.js';
import { CANCELLED, errorRecord } from './events.js';

/**
 * Failures another model could answer: the upstream unavailable after its retries (5xx, timeouts, connection),
 * rate limited beyond the longest wait (upstream 429s, or our own buckets, which can be per model), and a context
 * too long for the model's window. Anything else (a request the upstream refuses, a cancel) would fail the same
 * way on any model, or must not be retried.
 */
const FALLBACK_CODES: ReadonlySet<string> = new Set([
  ErrorCode.UPSTREAM_UNAVAILABLE,
  ErrorCode.UPSTREAM_RATE_LIMITED,
  ErrorCode.RATE_LIMITED,
  ErrorCode.CONTEXT_TOO_LONG,
]);

/** FALLBACK_MODELS: each model's fallback models, in order. */
export type FallbackDefaults = Readonly<Record<string, readonly string[]>>;

/** Which models a completion may ask: its settings' fallback models, else FALLBACK_MODELS' for its model. */
export class ModelFallbacks {
  constructor(
    private readonly deps: {
      defaults: FallbackDefaults;
      models: ModelTable;
      metrics: Pick<Metrics, 'modelFellBack'>;
    },
  ) {}

  /** A run's chain: from its settings, or as a run that paused for approvals left it. */
  chain(
    settings: { model: string; fallbackModels: readonly string[] | null },
    paused?: { models?: string[]; attempts?: CompletionAttemptRecord[] },
  ): ModelChain {
    const { defaults, models, metrics } = this.deps;
    const fallbacks = settings.fallbackModels ?? defaults[settings.model] ?? [];
    const chain = paused?.models ?? [...new Set([settings.model, ...fallbacks])];
    // Metric labels name model-table entries (a snapshot counts as its model), as the upstream metrics do.
    return new ModelChain(chain, paused?.attempts ?? [], (from, to, code) =>
      metrics.modelFellBack(models.get(from).id, models.get(to).id, code),
    );
  }

  /** What is wrong when FALLBACK_MODELS names models that are not on offer (refused at start); else null. */
  unoffered(): string | null {
    const { defaults, models } = this.deps;
    const unoffered = [...new Set(Object.entries(defaults).flat(2))].filter(
      (model) => !models.accepts(model),
    );
    if (unoffered.length === 0) return null;
    return (
      `FALLBACK_MODELS names models that are not on offer: ${unoffered.join(', ')} (offered: the model table, ` +
      'MODEL_TABLE_JSON, OPENAI_MODELS or the upstream GET /models)'
    );
  }
}

/** What the chain reads of the run it asks for. */
interface Asking {
  signal: AbortSignal;
  logger: Logger;
  /** The request has relayed content or tool-call deltas to the client. */
  relayed: boolean;
}

/**
 * One completion's models, in order, and its attempts so far: one entry per model asked, with the error it
 * failed with (null: it answered). A model that answers several steps of the tool loop is listed once.
 */
export class ModelChain {
  constructor(
    private readonly models: string[],
    readonly attempts: CompletionAttemptRecord[],
    private readonly fellBack: (from: string, to: string, code: string) => void,
  ) {}

  /** The model asked now: the first, or the fallback that took over (it answers the later steps too). */
  get current(): string {
    return this.models[0] ?? '';
  }

  /** The current model and those after it. */
  get remaining(): string[] {
    return [...this.models];
  }

  /**
   * Asks the current model; while it fails in a way another model could answer, before anything of its reply
   * reached the client, asks the next one. Once content was relayed the failure stands: the client must never
   * see two answers glued together.
   */
  async ask<T>(request: (model: string) => Promise<T>, run: Asking): Promise<T> {
    for (;;) {
      const model = this.current;
      try {
        const reply = await request(model);
        this.note(model, null);
        return reply;
      } catch (error) {
        const record = run.signal.aborted ? CANCELLED : errorRecord(error);
        this.note(model, record);
        const next = this.models[1];
        const passOver = !run.relayed && !run.signal.aborted && isFallbackCode(error);
        if (next === undefined || !passOver) throw error;
        this.models.shift();
        this.fellBack(model, next, record.code);
        run.logger.warn(
          { model, fallback: next, code: record.code },
          'model failed: asking its fallback model',
        );
      }
    }
  }

  private note(model: string, error: CompletionErrorRecord | null): void {
    const last = this.attempts.at(-1);
    if (last?.model === model) last.error = error;
    else this.attempts.push({ model, error });
  }
}

function isFallbackCode(error: unknown): boolean {
  return error instanceof AppError && FALLBACK_CODES.has(error.code);
}
