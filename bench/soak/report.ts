import type { SoakResult } from './run.js';

const seconds = (ms: number) => `${Math.round(ms / 1000)} s`;
const tally = (counts: Record<string, number>) =>
  Object.entries(counts)
    .sort(([a], [b]) => a.localeCompare(b))
    .map(([name, n]) => `${name} ${n}`)
    .join(', ') || 'none';

/** The invariant table with the run's figures, as Markdown (printed, and written to BENCHMARKS.md). */
export function renderSoak(result: SoakResult): string {
  const { settings } = result;
  const lines = [
    `Run: \`npm run soak -- ${settings.name === 'short' ? '--short ' : ''}--seed ${result.seed}\`, ` +
      `${new Date().toISOString().slice(0, 10)}, ${seconds(result.durationMs)} in all. ` +
      `${result.completions} completions from ${settings.users} concurrent clients on two instances ` +
      `(PostgreSQL + Redis), ${result.kills} SIGKILLs of one instance (each restarted), ` +
      `${result.webhookCalls} webhook calls.`,
    '',
    `Faults queued at the simulator: ${tally(result.faultsQueued)}. ` +
      `Upstream requests that met one: ${tally(result.faultsMet)}.`,
    '',
    '| invariant | held | figures |',
    '| --- | --- | --- |',
    ...result.invariants.map(
      (invariant) =>
        `| ${invariant.name} | ${invariant.held ? 'yes' : '**NO**'} | ${invariant.figures.replaceAll('|', '\\|')} |`,
    ),
  ];
  return lines.join('\n');
}
