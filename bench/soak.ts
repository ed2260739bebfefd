import { parseArgs } from 'node:util';
import { writeMarkdown } from './report.js';
import { Cluster } from './soak/cluster.js';
import { renderSoak } from './soak/report.js';
import { runSoak } from './soak/run.js';
import { SOAK_SETTINGS } from './soak/settings.js';

// `npm run soak` (full: figures into BENCHMARKS.md) or `npm run soak -- --short` (CI-sized, writes nothing).
// Exits non-zero when an invariant does not hold.
const { values: flags } = parseArgs({
  options: {
    short: { type: 'boolean', default: false },
    seed: { type: 'string' },
  },
});
const settings = flags.short ? SOAK_SETTINGS.short : SOAK_SETTINGS.full;
const seed = flags.seed === undefined ? Math.floor(Math.random() * 2 ** 31) : Number(flags.seed);
const log = (message: string) => console.log(`[soak ${new Date().toISOString().slice(11, 19)}] ${message}`);

if (!(await Cluster.servicesAvailable())) {
  console.log('Soak skipped: it needs PostgreSQL (127.0.0.1:5432) and Redis (127.0.0.1:6379).');
  process.exit(0);
}
log(`${settings.name} run, seed ${seed}`);
const result = await runSoak(settings, seed, log);
const table = renderSoak(result);
console.log(`\n${table}\n`);
if (settings.name === 'full') {
  writeMarkdown('BENCHMARKS.md', table, 'soak');
  log('figures written to BENCHMARKS.md');
}
process.exit(result.invariants.every((invariant) => invariant.held) ? 0 : 1);
