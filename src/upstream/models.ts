import type { Logger } from '../observability/logger.js';
import type { ModelTable } from '../tokens/index.js';

/** A hostile or huge listing must not grow the models on offer (and so metric labels) without bound. */
const MAX_LISTED_MODELS = 2000;
const LISTED_NAME = /^[A-Za-z0-9][A-Za-z0-9._:/@+-]{0,127}$/;

export interface UpstreamModelsOptions {
  models: ModelTable;
  /** The upstream's `GET /models`. */
  list: (signal: AbortSignal) => Promise<string[]>;
  /** OPENAI_MODELS: when set, these are the upstream's models and `GET /models` is not read. */
  configured: readonly string[];
  refreshMs: number;
  timeoutMs: number;
  logger: Logger;
}

/**
 * Keeps the models the upstream offers current in the model table: OPENAI_MODELS when set, otherwise the
 * upstream's own `GET /models`, read at start and every `refreshMs`. A failed read keeps the last list.
 */
export class UpstreamModels {
  private timer: NodeJS.Timeout | undefined;
  private readonly stopped = new AbortController();

  constructor(private readonly options: UpstreamModelsOptions) {}

  async start(): Promise<void> {
    const { configured, refreshMs } = this.options;
    if (configured.length > 0) {
      this.offer(configured);
      return;
    }
    await this.refresh();
    this.timer = setInterval(() => void this.refresh(), refreshMs);
    this.timer.unref();
  }

  stop(): void {
    clearInterval(this.timer);
    this.stopped.abort();
  }

  async refresh(): Promise<void> {
    const { list, timeoutMs, logger } = this.options;
    try {
      const signal = AbortSignal.any([this.stopped.signal, AbortSignal.timeout(timeoutMs)]);
      this.offer(await list(signal));
    } catch (error) {
      if (this.stopped.signal.aborted) return;
      logger.warn(
        { err: error instanceof Error ? error.message : String(error) },
        'could not read the upstream GET /models: only the model table (and OPENAI_MODELS) is on offer',
      );
    }
  }

  private offer(ids: readonly string[]): void {
    const { models, logger } = this.options;
    const valid = ids.filter((id) => LISTED_NAME.test(id));
    if (valid.length > MAX_LISTED_MODELS) {
      logger.warn({ listed: valid.length, kept: MAX_LISTED_MODELS }, 'the upstream lists too many models');
    }
    const fresh = models.offer(valid.slice(0, MAX_LISTED_MODELS));
    if (fresh.length > 0) {
      logger.warn(
        { models: fresh },
        'models the table lacks: token limits and prices use the fallback entry (extend with MODEL_TABLE_JSON)',
      );
    }
  }
}
