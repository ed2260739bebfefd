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

/** Counters that do not exist (a new period, a restart without Redis, a Redis that lost them): seed them. */
export interface Unseeded {
  unseeded: number[];
}

/**
 * Where spending counters live: in this process, or in Redis so that every instance counts against the same
 * budgets. Reservations work as the token buckets' do: a request reserves its estimate, then adds the difference
 * its real usage made (which may take a counter past its limit: the next requests are then refused). A counter
 * starts from what the records say was spent (`seed`), so losing one costs a query, never the count.
 */
export interface SpendingStore {
  /**
   * Adds `charge` to every counter if each stays within its limits, all or none: null when taken. Nothing is
   * added while any counter does not exist: those are named, to be seeded first.
   */
  reserve(allowances: Allowance[], charge: Spend): Promise<Refusal | Unseeded | null>;
  /** Starts each counter that does not exist at `spends[i]`; counters that exist keep their count. */
  seed(counters: Counter[], spends: Spend[]): Promise<void>;
  /** Adds `amount` (negative to give back) to every counter that exists, whatever their limits. */
  add(counters: Counter[], amount: Spend): Promise<void>;
  /** What each counter holds now (spent and reserved); null for one that does not exist. */
  spent(counters: Counter[]): Promise<(Spend | null)[]>;
}

/** How often expired counters are swept from memory. */
const SWEEP_MS = 60_000;

export class MemorySpendingStore implements SpendingStore {
  private readonly counters = new Map<string, Spend & { endsAt: number }>();
  private sweptAt = 0;

  constructor(private readonly clock: Clock) {}

  // Each method runs without an await between reading and writing, so concurrent reservations cannot interleave.
  async reserve(allowances: Allowance[], charge: Spend): Promise<Refusal | Unseeded | null> {
    const now = this.clock.now();
    const counts = allowances.map(({ key }) => this.live(key, now));
    const unseeded = counts.flatMap((count, index) => (count ? [] : [index]));
    if (unseeded.length > 0) return { unseeded };
    for (const [index, allowance] of allowances.entries()) {
      const { usd, tokens } = counts[index] as Spend;
      if (allowance.usd !== null && usd + charge.usd > allowance.usd) return { index, limit: 'usd' };
      if (allowance.tokens !== null && tokens + charge.tokens > allowance.tokens)
        return { index, limit: 'tokens' };
    }
    this.addNow(allowances, charge, now);
    return null;
  }

  async seed(counters: Counter[], spends: Spend[]): Promise<void> {
    const now = this.clock.now();
    this.sweep(now);
    for (const [index, { key, endsAt }] of counters.entries()) {
      const spend = spends[index];
      if (spend && endsAt > now && !this.live(key, now)) this.counters.set(key, { ...spend, endsAt });
    }
  }

  async add(counters: Counter[], amount: Spend): Promise<void> {
    this.addNow(counters, amount, this.clock.now());
  }

  async spent(counters: Counter[]): Promise<(Spend | null)[]> {
    const now = this.clock.now();
    return counters.map(({ key }) => {
      const count = this.live(key, now);
      return count ? { usd: count.usd, tokens: count.tokens } : null;
    });
  }

  private addNow(counters: Counter[], amount: Spend, now: number): void {
    for (const { key } of counters) {
      const count = this.live(key, now);
      if (count) {
        count.usd += amount.usd;
        count.tokens += amount.tokens;
      }
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
