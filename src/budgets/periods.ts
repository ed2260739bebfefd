export type BudgetPeriod = 'day' | 'month';

export interface PeriodSpan {
  /** Names the period in counter keys: `day:2026-11-26`, `month:2026-11`. */
  id: string;
  startsAt: Date;
  /** When the next period starts: the budget resets then. */
  endsAt: Date;
}

/** The UTC day or month that `now` falls in. */
export function periodAt(period: BudgetPeriod, now: Date): PeriodSpan {
  const year = now.getUTCFullYear();
  const month = now.getUTCMonth();
  if (period === 'day') {
    const startsAt = new Date(Date.UTC(year, month, now.getUTCDate()));
    const endsAt = new Date(Date.UTC(year, month, now.getUTCDate() + 1));
    return { id: `day:${startsAt.toISOString().slice(0, 10)}`, startsAt, endsAt };
  }
  const startsAt = new Date(Date.UTC(year, month, 1));
  const endsAt = new Date(Date.UTC(year, month + 1, 1));
  return { id: `month:${startsAt.toISOString().slice(0, 7)}`, startsAt, endsAt };
}
