/** How big a soak run is, and the server and simulator settings it runs with. */
export interface SoakSettings {
  name: 'full' | 'short';
  /** Completions to start (each turn starts one). */
  completions: number;
  /** Concurrent virtual users, each running one turn at a time. */
  users: number;
  /** SIGKILLs of instance 1, spread evenly over the run. */
  kills: number;
  /** The traffic phase stops here even if fewer completions were started. */
  trafficDeadlineMs: number;
  /** Completions sent before the memory baseline is taken. */
  warmup: number;
  replyWords: number;
  firstTokenMs: number;
  chunkDelayMs: number;
  /** The upstream limit: `requests` per `windowMs` (RATE_LIMIT_RPM, RATE_LIMIT_WINDOW_MS), RATE_LIMIT_MAX_WAIT. */
  rateLimit: { requests: number; windowMs: number; maxWaitMs: number };
  /** Probability that a turn queues one upstream fault before it starts. */
  faultProbability: number;
  upstreamTimeoutMs: number;
  functionTimeoutMs: number;
  leaseMs: number;
}

const common = {
  warmup: 24,
  replyWords: 30,
  firstTokenMs: 20,
  chunkDelayMs: 8,
  faultProbability: 0.15,
  upstreamTimeoutMs: 3000,
  functionTimeoutMs: 1500,
  leaseMs: 2000,
};

export const SOAK_SETTINGS: Record<SoakSettings['name'], SoakSettings> = {
  full: {
    ...common,
    name: 'full',
    completions: 1200,
    users: 24,
    kills: 5,
    trafficDeadlineMs: 8 * 60_000,
    rateLimit: { requests: 120, windowMs: 10_000, maxWaitMs: 4000 },
  },
  /** For CI: every workload and fault, one kill, well under two minutes on two cores. */
  short: {
    ...common,
    name: 'short',
    completions: 160,
    users: 12,
    kills: 2,
    trafficDeadlineMs: 60_000,
    rateLimit: { requests: 40, windowMs: 5000, maxWaitMs: 4000 },
  },
};
