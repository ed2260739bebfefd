export interface Summary {
  count: number;
  p50: number;
  p90: number;
  p99: number;
}

/** What the platform adds over the baseline at each percentile: a difference and a ratio. */
export interface Comparison {
  baseline: Summary;
  platform: Summary;
  addedP50: number;
  addedP90: number;
  addedP99: number;
  ratioP50: number;
  ratioP99: number;
}

/** Samples by metric name (for example `ttft` and `ttlt` of one stream). */
export type Samples = Record<string, number[]>;

/** Nearest-rank percentile of sorted values. */
function percentile(sorted: number[], p: number): number {
  if (sorted.length === 0) return Number.NaN;
  const rank = Math.ceil((p / 100) * sorted.length);
  return sorted[Math.min(sorted.length, Math.max(1, rank)) - 1] as number;
}

export function summarize(samples: number[]): Summary {
  const sorted = [...samples].sort((a, b) => a - b);
  return {
    count: sorted.length,
    p50: percentile(sorted, 50),
    p90: percentile(sorted, 90),
    p99: percentile(sorted, 99),
  };
}

export function compare(baselineSamples: number[], platformSamples: number[]): Comparison {
  const baseline = summarize(baselineSamples);
  const platform = summarize(platformSamples);
  return {
    baseline,
    platform,
    addedP50: platform.p50 - baseline.p50,
    addedP90: platform.p90 - baseline.p90,
    addedP99: platform.p99 - baseline.p99,
    ratioP50: platform.p50 / baseline.p50,
    ratioP99: platform.p99 / baseline.p99,
  };
}

function merge(into: Samples, from: Samples): void {
  for (const [metric, values] of Object.entries(from)) into[metric] = [...(into[metric] ?? []), ...values];
}

/** One measured operation of one client (a request, a stream). */
export type Operation = (client: number) => Promise<Samples>;

/**
 * Runs baseline and platform rounds alternately (A B A B ...) after one unmeasured warm-up operation of each, so
 * slow drifts of a shared machine touch both sides alike, and compares every metric across all rounds.
 */
export async function alternate(
  rounds: number,
  round: (operation: Operation) => Promise<Samples>,
  baseline: Operation,
  platform: Operation,
): Promise<Record<string, Comparison>> {
  await baseline(0);
  await platform(0);
  const sides = { baseline: {} as Samples, platform: {} as Samples };
  for (let i = 0; i < rounds; i++) {
    merge(sides.baseline, await round(baseline));
    merge(sides.platform, await round(platform));
  }
  return Object.fromEntries(
    Object.keys(sides.platform).map((metric) => [
      metric,
      compare(sides.baseline[metric] ?? [], sides.platform[metric] ?? []),
    ]),
  );
}

/**
 * `clients` concurrent clients, each running `iterations` operations back to back (a closed loop); client `i`
 * starts `i * staggerMs` late so that steady-state starts are spread out rather than arriving all at once.
 */
export async function closedLoop(
  clients: number,
  iterations: number,
  staggerMs: number,
  operation: Operation,
): Promise<Samples> {
  const samples: Samples = {};
  await Promise.all(
    Array.from({ length: clients }, async (_, client) => {
      if (staggerMs > 0) await new Promise((resolve) => setTimeout(resolve, client * staggerMs));
      for (let i = 0; i < iterations; i++) merge(samples, await operation(client));
    }),
  );
  return samples;
}
