import { execFileSync } from 'node:child_process';
import { existsSync, readFileSync, writeFileSync } from 'node:fs';
import { cpus, loadavg, totalmem } from 'node:os';
import type { ContextBenchResult } from './context.js';
import type { IdleResult } from './idle.js';
import type { ProfileSummary } from './profile.js';
import type { RelayResult } from './relay.js';
import type { Comparison, Summary } from './stats.js';

/** The packages on the measured path, whose versions go into every report. */
const PACKAGES = [
  'graphql',
  'graphql-yoga',
  'graphql-ws',
  'ws',
  '@pothos/core',
  'openai',
  'drizzle-orm',
  '@electric-sql/pglite',
  'tiktoken',
  'pino',
  'tsx',
];

export interface Environment {
  date: string;
  command: string;
  machine: { cpuModel: string; cores: number; memoryGiB: number; loadAverageAtStart: number[] };
  versions: Record<string, string>;
  commit: string;
}

export interface Results {
  environment: Environment;
  settings: Record<string, unknown>;
  nonStreamed?: {
    sequential: Record<string, Comparison>;
    concurrent: Record<string, Comparison>;
    /** The peer (Portkey's gateway) asked the same request, against the same baseline. */
    peerSequential?: Record<string, Comparison>;
    peerConcurrent?: Record<string, Comparison>;
  };
  streaming?: Record<string, Record<string, Comparison>>;
  relay?: RelayResult;
  idle?: IdleResult;
  context?: ContextBenchResult;
  profile?: ProfileSummary;
}

function packageVersion(name: string): string {
  const file = `node_modules/${name}/package.json`;
  return existsSync(file)
    ? (JSON.parse(readFileSync(file, 'utf8')) as { version: string }).version
    : 'missing';
}

function gitCommit(): string {
  try {
    const commit = execFileSync('git', ['rev-parse', '--short', 'HEAD']).toString().trim();
    const dirty = execFileSync('git', ['status', '--porcelain']).toString().trim() !== '';
    return dirty ? `${commit} with uncommitted changes` : commit;
  } catch {
    return 'unknown';
  }
}

export function environment(args: string[]): Environment {
  return {
    date: new Date().toISOString(),
    command: ['npm run bench', ...(args.length ? ['--', ...args] : [])].join(' '),
    machine: {
      cpuModel: cpus()[0]?.model ?? 'unknown',
      cores: cpus().length,
      memoryGiB: Math.round((totalmem() / 2 ** 30) * 10) / 10,
      loadAverageAtStart: loadavg().map((load) => Math.round(load * 100) / 100),
    },
    versions: {
      node: process.version,
      ...Object.fromEntries(PACKAGES.map((name) => [name, packageVersion(name)])),
    },
    commit: gitCommit(),
  };
}

const ms = (value: number) => `${value.toFixed(2)} ms`;
const count = (value: number) => Math.round(value).toLocaleString('en-US');
const kilobytes = (value: number) => `${(value / 1024).toFixed(1)} KB`;
/** p50 / p90 / p99 of a summary in one cell. */
const spread = (summary: Summary, format: (value: number) => string) =>
  [summary.p50, summary.p90, summary.p99].map(format).join(' / ');
const signedMs = (value: number) => `${value >= 0 ? '+' : ''}${value.toFixed(2)} ms`;

interface Target {
  name: string;
  goal: string;
  measured?: string;
  met?: boolean;
}

/** A target row; `value` is undefined when its scenario did not run. */
function target(
  name: string,
  goal: string,
  value: number | undefined,
  format: (value: number) => string,
  met: (value: number) => boolean,
): Target {
  return value === undefined ? { name, goal } : { name, goal, measured: format(value), met: met(value) };
}

function targets(results: Results): Target[] {
  const sequential = results.nonStreamed?.sequential.latencyMs;
  const streaming = results.streaming?.['200']?.timeToFirstTokenMs;
  const largest = results.context?.sizes.at(-1);
  return [
    target('sendMessage sequential, added p50', '< 2 ms', sequential?.addedP50, signedMs, (v) => v < 2),
    target('sendMessage sequential, added p99', '< 5 ms', sequential?.addedP99, signedMs, (v) => v < 5),
    target(
      'chat at 200 streams, added time to first token p50',
      '< 3 ms',
      streaming?.addedP50,
      signedMs,
      (v) => v < 3,
    ),
    target(
      'chat at 200 streams, added time to first token p99',
      '< 15 ms',
      streaming?.addedP99,
      signedMs,
      (v) => v < 15,
    ),
    target(
      'relay, chunk events per second on one core (p50 of rounds)',
      '≥ 30,000',
      results.relay?.eventsPerCpuSecond.p50,
      count,
      (v) => v >= 30_000,
    ),
    target(
      'idle completionEvents subscription, memory each',
      '< 20 KB',
      results.idle?.bytesPerSubscription,
      kilobytes,
      (v) => v < 20 * 1024,
    ),
    target(
      `context operations on ${largest ? count(largest.messages) : '10,000'} messages, slowest of tokenCount / trim / fit`,
      '< 5 ms each',
      largest && Math.max(largest.tokenCountMs, largest.trimMs, largest.fitNoopMs, largest.fitMs),
      ms,
      (v) => v < 5,
    ),
  ];
}

function comparisonRows(label: string, comparisons: Record<string, Comparison>): string[] {
  return Object.entries(comparisons).map(([metric, c]) => {
    const inMs = metric.includes('Ms');
    const value = inMs ? ms : count;
    const added = inMs ? signedMs : (v: number) => `${v >= 0 ? '+' : ''}${v.toFixed(0)}`;
    return (
      `| ${label} | ${metric} | ${c.platform.count} | ${spread(c.baseline, value)} | ${spread(c.platform, value)} | ` +
      `${added(c.addedP50)} / ${added(c.addedP99)} | ${Number.isFinite(c.ratioP50) ? `×${c.ratioP50.toFixed(2)}` : '–'} |`
    );
  });
}

/** The generated part of BENCHMARKS.md: environment, targets and every scenario's table. */
export function renderMarkdown(results: Results): string {
  const { environment: env } = results;
  const lines = [
    `Run on ${env.date} with \`${env.command}\` (commit ${env.commit}).`,
    '',
    `- Machine: ${env.machine.cpuModel}, ${env.machine.cores} cores, ${env.machine.memoryGiB} GiB; ` +
      `load average at start ${env.machine.loadAverageAtStart.join(' / ')}`,
    `- Versions: ${Object.entries(env.versions)
      .map(([name, version]) => `${name} ${version}`)
      .join(', ')}`,
    `- Settings: \`${JSON.stringify(results.settings)}\``,
    '',
    '### Targets',
    '',
    '| target | goal | measured | met |',
    '| --- | --- | --- | --- |',
    ...targets(results).map(
      (t) =>
        `| ${t.name} | ${t.goal} | ${t.measured ?? 'not run'} | ${t.met === undefined ? '–' : t.met ? 'yes' : 'no'} |`,
    ),
  ];
  if (results.nonStreamed || results.streaming) {
    lines.push(
      '',
      '### Overhead over the direct SDK call (alternating rounds)',
      '',
      'Each cell is p50 / p90 / p99 over all measured rounds; "added" is platform minus baseline at p50 / p99.',
      '',
      '| scenario | metric | samples per side | baseline (SDK → simulator) | platform | added p50 / p99 | ratio p50 |',
      '| --- | --- | --- | --- | --- | --- | --- |',
    );
    if (results.nonStreamed) {
      lines.push(...comparisonRows('sendMessage, sequential', results.nonStreamed.sequential));
      lines.push(...comparisonRows('sendMessage, 50 concurrent', results.nonStreamed.concurrent));
      const { peerSequential, peerConcurrent } = results.nonStreamed;
      if (peerSequential) lines.push(...comparisonRows('peer: Portkey gateway, sequential', peerSequential));
      if (peerConcurrent)
        lines.push(...comparisonRows('peer: Portkey gateway, 50 concurrent', peerConcurrent));
    }
    for (const [streams, comparisons] of Object.entries(results.streaming ?? {})) {
      lines.push(...comparisonRows(`chat, ${streams} concurrent streams`, comparisons));
    }
  }
  if (results.relay) {
    const r = results.relay;
    lines.push(
      '',
      '### Relay throughput (p50 / p90 / p99 over rounds)',
      '',
      '| measure | value |',
      '| --- | --- |',
      `| chunk events delivered per server CPU second | ${spread(r.eventsPerCpuSecond, count)} |`,
      `| server CPU per 1,000 delivered chunk events | ${spread(r.cpuMsPerThousandEvents, ms)} |`,
      `| server CPU per 1,000 upstream chunks (fanned out) | ${spread(r.cpuMsPerThousandUpstreamChunks, ms)} |`,
      `| chunk events received per wall-clock second by the harness | ${spread(r.eventsPerWallSecond, count)} |`,
      `| rounds discarded (set-up overlapped the stream) | ${r.discardedRounds} |`,
    );
  }
  if (results.idle) {
    const i = results.idle;
    lines.push(
      '',
      '### Idle subscriptions',
      '',
      `${i.subscriptions.toLocaleString('en-US')} open \`completionEvents\` subscriptions over ${i.connections} graphql-ws ` +
        `connections: server RSS ${(i.rssBeforeBytes / 2 ** 20).toFixed(1)} MiB → ${(i.rssAfterBytes / 2 ** 20).toFixed(1)} MiB, ` +
        `**${kilobytes(i.bytesPerSubscription)} per subscription** (V8 heap: ${kilobytes(i.heapBytesPerSubscription)}; ` +
        `both read after a full GC); opening one took ${ms(i.cpuMsPerSubscribe)} of server CPU.`,
    );
  }
  if (results.context) {
    const c = results.context;
    lines.push(
      '',
      `### Context operations (bench/context.ts; model ${c.model}, median of ${c.runs} runs)`,
      '',
      '| messages | context tokens | tokenCount | trim (oldest 1%) | automatic fit, no-op | automatic fit, trimming |',
      '| --- | --- | --- | --- | --- | --- |',
      ...c.sizes.map(
        (size) =>
          `| ${size.messages.toLocaleString('en-US')} | ${size.contextTokens.toLocaleString('en-US')} | ${ms(size.tokenCountMs)} | ` +
          `${ms(size.trimMs)} (${size.trimRemoved} removed) | ${ms(size.fitNoopMs)} | ${ms(size.fitMs)} |`,
      ),
      '',
      `Trimming all ${c.seedTrim.messages.toLocaleString('en-US')} messages to ${c.seedTrim.maxTokens} tokens at once ` +
        `(${c.seedTrim.removed} removed): ${ms(c.seedTrim.ms)}. Counting ${(c.countText.bytes / 1e6).toFixed(0)} MB of text: ` +
        `${ms(c.countText.counterMs)} with TokenCounter, ${ms(c.countText.tiktokenMs)} with tiktoken directly (×${c.countText.ratio.toFixed(2)}).`,
    );
  }
  if (results.profile) {
    const p = results.profile;
    const rows = (entries: ProfileSummary['byModule']) =>
      entries.map((e) => `| \`${e.name}\` | ${e.selfMs} ms | ${(e.share * 100).toFixed(1)}% |`);
    lines.push(
      '',
      `### CPU profile of the server during scenarios 1-3 (${p.busyMs} ms busy)`,
      '',
      '| module | self time | share of busy |',
      '| --- | --- | --- |',
      ...rows(p.byModule),
      '',
      '| function | self time | share of busy |',
      '| --- | --- | --- |',
      ...rows(p.byFunction),
    );
  }
  return lines.join('\n');
}

/**
 * Replaces a generated block of BENCHMARKS.md (between `<!-- bench:<section>:start -->` and its end marker); the
 * hand-written notes around it stay.
 */
export function writeMarkdown(path: string, generated: string, section = 'results'): void {
  const startMarker = `<!-- bench:${section}:start -->`;
  const endMarker = `<!-- bench:${section}:end -->`;
  const block = `${startMarker}\n${generated}\n${endMarker}`;
  const current = existsSync(path)
    ? readFileSync(path, 'utf8')
    : `# Benchmarks\n\n${startMarker}\n${endMarker}\n`;
  const start = current.indexOf(startMarker);
  const end = current.indexOf(endMarker);
  if (start < 0 || end < start) throw new Error(`${path} lacks the ${startMarker} … ${endMarker} markers`);
  writeFileSync(path, current.slice(0, start) + block + current.slice(end + endMarker.length));
}
