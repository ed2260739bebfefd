import { describe, expect, it } from 'vitest';
import { Cluster } from '../../bench/soak/cluster.js';
import { renderSoak } from '../../bench/soak/report.js';
import { runSoak } from '../../bench/soak/run.js';
import { SOAK_SETTINGS } from '../../bench/soak/settings.js';

// The short soak (`npm run soak -- --short`): two instances on PostgreSQL and Redis, upstream faults and a
// SIGKILL, then every invariant checked. It skips without PostgreSQL and Redis, except under CI=true.
const available = await Cluster.servicesAvailable();

describe.skipIf(!available)('the short soak run', () => {
  it('keeps every invariant through upstream faults and a killed instance', {
    timeout: 180_000,
  }, async () => {
    const seed = Math.floor(Math.random() * 2 ** 31);
    const result = await runSoak(SOAK_SETTINGS.short, seed, () => {});
    const table = renderSoak(result);
    console.log(table);
    expect(result.completions).toBeGreaterThanOrEqual(SOAK_SETTINGS.short.completions * 0.9);
    expect(result.kills).toBe(SOAK_SETTINGS.short.kills);
    expect(result.invariants.filter((invariant) => !invariant.held)).toEqual([]);
  });
});
