import type { Config } from '../config.js';
import type { Logger } from '../observability/logger.js';
import { createSimulator } from '../simulator/index.js';
import type { ModelTable } from '../tokens/index.js';

/**
 * The model API: OpenAI (or OPENAI_BASE_URL) when configured, otherwise the built-in simulator in-process, so a
 * fresh checkout answers without any key.
 */
export async function connectUpstream(config: Config, models: ModelTable, logger: Logger) {
  if (config.OPENAI_API_KEY || config.OPENAI_BASE_URL) {
    return {
      apiKey: config.OPENAI_API_KEY ?? 'unused',
      baseURL: config.OPENAI_BASE_URL ?? 'https://api.openai.com/v1',
      close: async () => {},
    };
  }
  const simulator = await createSimulator({ models });
  logger.warn(
    { simulator: simulator.url },
    'No OPENAI_API_KEY or OPENAI_BASE_URL: answering with the built-in simulator, not a real model.',
  );
  return { apiKey: 'simulator', baseURL: simulator.url, close: () => simulator.close() };
}
