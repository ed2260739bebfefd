import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startTestServer, type TestServer } from '../support/server.js';
import { ExecuteFunction, FunctionStatsQuery, ListFunctions } from './documents.js';

let server: TestServer;
beforeAll(async () => {
  server = await startTestServer();
});
afterAll(() => server.close());

/** PostgreSQL's percentile_cont: linear interpolation between the two nearest ranks. */
function percentile(values: number[], fraction: number): number {
  const sorted = [...values].sort((a, b) => a - b);
  const rank = fraction * (sorted.length - 1);
  const low = Math.floor(rank);
  const lower = sorted[low] ?? 0;
  const upper = sorted[Math.ceil(rank)] ?? lower;
  return lower + (upper - lower) * (rank - low);
}

describe('function stats', () => {
  it('are exact after a known mix of successes and failures', async () => {
    const calls = [
      { amount: 10, merchant: 'Amazon' },
      { amount: 20, merchant: 'Amazon' },
      { amount: 'twenty', merchant: 'Amazon' },
      { amount: 30, merchant: 'Amazon' },
      { merchant: 'Amazon' },
    ];
    const durations: number[] = [];
    for (const args of calls) {
      const { executeFunction } = await server.data(ExecuteFunction, {
        input: { name: 'validate_transaction', arguments: args },
      });
      durations.push(executeFunction.durationMs);
    }
    const { function: fn } = await server.data(FunctionStatsQuery, { name: 'validate_transaction' });
    expect(fn.stats).toMatchObject({ calls: 5, successes: 3, failures: 2, successRate: 0.6 });
    expect(fn.stats.avgDurationMs).toBeCloseTo(durations.reduce((a, b) => a + b, 0) / durations.length, 9);
    expect(fn.stats.p95DurationMs).toBeCloseTo(percentile(durations, 0.95), 9);
  });

  it('are empty, with null rates, for a function never called', async () => {
    const { function: fn } = await server.data(FunctionStatsQuery, { name: 'assess_transaction_risk' });
    expect(fn.stats).toEqual({
      calls: 0,
      successes: 0,
      failures: 0,
      successRate: null,
      avgDurationMs: null,
      p95DurationMs: null,
    });
  });

  it('list the built-in functions registered at start', async () => {
    const { functions } = await server.data(ListFunctions);
    expect(functions.map((fn) => [fn.name, fn.kind, fn.enabled])).toEqual([
      ['assess_transaction_risk', 'BUILTIN', true],
      ['validate_transaction', 'BUILTIN', true],
    ]);
  });
});
