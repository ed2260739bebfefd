import type { Clock } from './clock.js';

/** An amount of spending: USD and tokens (prompt + completion). */
export interface Spend {
  usd: number;
  tokens: number;
}

/** One spending counter (e.g. one principal's spending in one day), and when its period ends. */
export interface Counter {
  key: string;
  /** Milliseconds since the epoch; the counter is forgotten then (the next period has a counter of its own). */
  endsAt: number;
}

/** A counter with its limits (null: no limit of that kind). */
export interface Allowance extends Counter {
  usd: number | null;
  tokens: number | null;
}

export interface Refusal {
  /** The allowance the charge would exceed (the first one, in the order given). */
  index: number;
  limit: 'usd' | 'tokens';
}

/**
 * Where spending counters live: in this process, or in Redis so that every instance counts against the same
 * budgets. Reservations work as the token buckets' do: a request reserves its estimate, then adds the difference
 * its real usage made (which may take a counter past its limit: the next requests are then refused).
 */
export interface SpendingStore {
  /** Adds `charge` to every counter if each stays within its limits, all or none; null when taken. */
  reserve(allowances: Allowance[], charge: Spend): Promise<Refusal | null>;
  /** Adds `amount` (negative to give back) to every counter, whatever their limits. */
  add(counters: Counter[], amount: Spend): Promise<void>;
  /** What each counter holds now (spent and reserved). */
  spent(counters: Counter[]): Promise<Spend[]>;
}

/** How often expired counters are swept from memory. */
const SWEEP_MS = 60_000;

export class MemorySpendingStore implements SpendingStore {
  private readonly counters = new Map<string, Spend & { endsAt: number }>();
  private sweptAt = 0;

  constructor(private readonly clock: Clock) {}

  // Each method runs without an await between reading and writing, so concurrent reservations cannot interleave.
  async reserve(allowances: Allowance[], charge: Spend): Promise<Refusal | null> {
    const now = this.clock.now();
    for (const [index, allowance] of allowances.entries()) {
      const { usd, tokens } = this.live(allowance.key, now) ?? { usd: 0, tokens: 0 };
      if (allowance.usd !== null && usd + charge.usd > allowance.usd) return { index, limit: 'usd' };
      if (allowance.tokens !== null && tokens + charge.tokens > allowance.tokens)
        return { index, limit: 'tokens' };
    }
    this.addNow(allowances, charge, now);
    return null;
  }

  async add(counters: Counter[], amount: Spend): Promise<void> {
    this.addNow(counters, amount, this.clock.now());
  }

  async spent(counters: Counter[]): Promise<Spend[]> {
    const now = this.clock.now();
    return counters.map(({ key }) => {
      const { usd, tokens } = this.live(key, now) ?? { usd: 0, tokens: 0 };
      return { usd, tokens };
    });
  }

  private addNow(counters: Counter[], amount: Spend, now: number): void {
    this.sweep(now);
    for (const { key, endsAt } of counters) {
      if (endsAt <= now) continue;
      const current = this.live(key, now) ?? { usd: 0, tokens: 0 };
      this.counters.set(key, {
        usd: current.usd + amount.usd,
        tokens: current.tokens + amount.tokens,
        endsAt,
      });
    }
  }

  private live(key: string, now: number) {
    const counter = this.counters.get(key);
    return counter && counter.endsAt > now ? counter : undefined;
  }

  private sweep(now: number): void {
    if (now - this.sweptAt < SWEEP_MS) return;
    this.sweptAt = now;
    for (const [key, counter] of this.counters) if (counter.endsAt <= now) this.counters.delete(key);
  }
}
