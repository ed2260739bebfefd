import { describe, expect, it } from 'vitest';
import { periodAt } from '../../src/budgets/periods.js';

const at = (iso: string) => new Date(iso);

describe('budget periods', () => {
  it('runs a day from midnight to midnight UTC', () => {
    expect(periodAt('day', at('2026-11-26T23:59:59.999Z'))).toEqual({
      id: 'day:2026-11-26',
      startsAt: at('2026-11-26T00:00:00.000Z'),
      endsAt: at('2026-11-27T00:00:00.000Z'),
    });
  });

  it('runs a month from its first to the next month’s first, across a year and a leap day', () => {
    expect(periodAt('month', at('2026-12-31T12:00:00Z'))).toEqual({
      id: 'month:2026-12',
      startsAt: at('2026-12-01T00:00:00.000Z'),
      endsAt: at('2027-01-01T00:00:00.000Z'),
    });
    expect(periodAt('day', at('2028-02-29T05:00:00Z')).endsAt).toEqual(at('2028-03-01T00:00:00.000Z'));
    expect(periodAt('month', at('2028-02-29T05:00:00Z')).endsAt).toEqual(at('2028-03-01T00:00:00.000Z'));
  });
});
