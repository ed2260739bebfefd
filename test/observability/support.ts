import type { Simulator } from '../../src/simulator/index.js';
import { BUILTIN_MODELS } from '../../src/tokens/index.js';

/** Reads /metrics over HTTP, as Prometheus would. */
export async function scrape(graphqlUrl: string, token?: string): Promise<Response> {
  return fetch(graphqlUrl.replace(/\/graphql$/, '/metrics'), {
    headers: token ? { authorization: `Bearer ${token}` } : {},
  });
}

/** A sample's value from the Prometheus text format; labels must match exactly. Absent samples read 0. */
export function sample(text: string, name: string, labels: Record<string, string> = {}): number {
  const wanted = Object.entries(labels)
    .sort(([a], [b]) => a.localeCompare(b))
    .map(([key, value]) => `${key}="${value}"`)
    .join(',');
  for (const line of text.split('\n')) {
    const match = /^([a-zA-Z_:][\w:]*)(?:\{(.*)\})? (\S+)$/.exec(line);
    if (!match || match[1] !== name) continue;
    const found = (match[2] ?? '')
      .split(/,(?=\w+=")/)
      .filter(Boolean)
      .sort()
      .join(',');
    if (found === wanted) return Number(match[3]);
  }
  return 0;
}

/** Marks the replays, so a later account leaves them out. */
const REPLAY_HEADER = 'x-usage-replay';

export interface SimulatorUsage {
  model: string;
  promptTokens: number;
  completionTokens: number;
}

/**
 * The usage the simulator reports for each request it completed, got by sending the same bodies to it again as
 * plain JSON requests (it is deterministic): an account of the tokens independent of the server under test.
 */
export async function simulatorUsage(simulator: Simulator): Promise<SimulatorUsage[]> {
  const completed = simulator.requests.filter(
    (request) => request.status === 'completed' && !request.headers[REPLAY_HEADER],
  );
  return Promise.all(
    completed.map(async ({ body }) => {
      const { stream: _stream, stream_options: _options, ...json } = body;
      const response = await fetch(`${simulator.url}/chat/completions`, {
        method: 'POST',
        headers: { 'content-type': 'application/json', [REPLAY_HEADER]: '1' },
        body: JSON.stringify(json),
      });
      const { usage } = (await response.json()) as {
        usage: { prompt_tokens: number; completion_tokens: number };
      };
      return {
        model: String(body.model),
        promptTokens: usage.prompt_tokens,
        completionTokens: usage.completion_tokens,
      };
    }),
  );
}

/** Sums usage per model and prices it with the published per-million prices of the built-in model table. */
export function expectedTotals(usages: SimulatorUsage[]) {
  const byModel = new Map<string, { promptTokens: number; completionTokens: number; costUsd: number }>();
  for (const usage of usages) {
    const price = BUILTIN_MODELS.find((model) => model.id === usage.model);
    if (!price) throw new Error(`no price for ${usage.model}`);
    const sum = byModel.get(usage.model) ?? { promptTokens: 0, completionTokens: 0, costUsd: 0 };
    sum.promptTokens += usage.promptTokens;
    sum.completionTokens += usage.completionTokens;
    sum.costUsd +=
      (usage.promptTokens * price.inputUsdPerMillion + usage.completionTokens * price.outputUsdPerMillion) /
      1_000_000;
    byModel.set(usage.model, sum);
  }
  return byModel;
}
