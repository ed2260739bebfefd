import { randomBytes } from 'node:crypto';
import { writeFileSync } from 'node:fs';
import { encodeGlobalID } from '@pothos/plugin-relay';
import { post, stream } from './client.js';
import { Cluster } from './cluster.js';
import { SoakCompletionEvents, SoakRegisterFunction, SoakUsage } from './documents.js';
import { type Evidence, type Memory, type Replay, readDatabase, runningCount } from './evidence.js';
import { checkInvariants, type Invariant } from './invariants.js';
import type { SoakSettings } from './settings.js';
import { faultName, Traffic } from './traffic.js';

export interface SoakResult {
  settings: SoakSettings;
  seed: number;
  invariants: Invariant[];
  completions: number;
  faultsQueued: Record<string, number>;
  /** Upstream requests by the fault they met (from the simulator's log). */
  faultsMet: Record<string, number>;
  kills: number;
  webhookCalls: number;
  durationMs: number;
}

const REPLAY_CONCURRENCY = 16;
const REPLAY_IDLE_MS = 5000;
/** How long the lease sweep may take to end the runs of a killed instance once the traffic stopped. */
const SETTLE_TIMEOUT_MS = 30_000;

/** A small seeded generator (mulberry32), so a run's choices can be repeated with `--seed`. */
export function seeded(seed: number): () => number {
  let state = seed >>> 0;
  return () => {
    state = (state + 0x6d2b79f5) >>> 0;
    let t = state;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

/** Starts the cluster, drives it with faults and kills, then gathers the evidence and checks the invariants. */
export async function runSoak(
  settings: SoakSettings,
  seed: number,
  log: (message: string) => void,
): Promise<SoakResult> {
  const started = Date.now();
  const random = seeded(seed);
  const cluster = await Cluster.start(settings, random);
  try {
    log(`cluster up: simulator ${cluster.simulator.url}, webhooks ${cluster.webhooks.origin}`);
    const admin = cluster.pick(() => 0);
    for (const input of cluster.webhooks.registrations()) {
      const answer = await post(admin, SoakRegisterFunction, { input });
      if (!answer.data) throw new Error(`registerFunction failed: ${JSON.stringify(answer.errors)}`);
    }
    const traffic = new Traffic(cluster, random, randomBytes(4).toString('hex'), log);
    await traffic.warmup(settings.warmup);
    const baseline = await measureMemory(cluster);
    log(`warm-up done; survivor heap ${(baseline.heapUsedBytes / 1048576).toFixed(1)} MB`);

    await traffic.drive(settings.completions, Date.now() + settings.trafficDeadlineMs);
    log(`traffic done: ${traffic.turns.length} turns, ${cluster.kills} kills`);
    await cluster.sim.clearFaults();
    await settle(cluster.database.url);

    const database = await readDatabase(cluster.database.url);
    const replays = await replayAll(
      cluster,
      database.completions.map((row) => row.id),
    );
    const usage = (await post(admin, SoakUsage, {})).data?.usage;
    if (!usage) throw new Error('the usage query failed');
    await cluster.scrape(0);
    await cluster.scrape(1);
    const requests = await cluster.sim.requests();
    const end = await measureMemory(cluster);
    const durationMs = Date.now() - started;
    const evidence: Evidence = {
      settings,
      turns: traffic.turns,
      requests,
      ...database,
      replays,
      scrapes: cluster.scrapes,
      usageReport: {
        completions: usage.completions,
        promptTokens: usage.total.promptTokens,
        completionTokens: usage.total.completionTokens,
        costUsd: usage.total.costUsd,
      },
      memory: { baseline, end },
      kills: cluster.kills,
      durationMs,
    };
    // Everything the invariants were checked over, for digging into a failure.
    if (process.env.SOAK_DUMP)
      writeFileSync(process.env.SOAK_DUMP, JSON.stringify({ ...evidence, replays: [...replays] }));
    const faultsMet: Record<string, number> = {};
    for (const request of requests) {
      const name = request.fault ? faultName(request.fault) : undefined;
      if (name) faultsMet[name] = (faultsMet[name] ?? 0) + 1;
    }
    return {
      settings,
      seed,
      invariants: checkInvariants(evidence),
      completions: database.completions.length,
      faultsQueued: traffic.faultsQueued,
      faultsMet,
      kills: cluster.kills,
      webhookCalls: cluster.webhooks.calls,
      durationMs,
    };
  } finally {
    await cluster.close();
  }
}

/** Waits until no completion is RUNNING: the killed instance's runs are ended by the other's lease sweep. */
async function settle(databaseUrl: string): Promise<void> {
  const deadline = Date.now() + SETTLE_TIMEOUT_MS;
  while ((await runningCount(databaseUrl)) > 0 && Date.now() < deadline) await sleep(250);
}

/** Every completion's events from the start, as a client that subscribes after the run sees them. */
async function replayAll(cluster: Cluster, ids: string[]): Promise<Map<string, Replay>> {
  const replays = new Map<string, Replay>();
  const queue = [...ids];
  const url = cluster.pick(() => 0);
  await Promise.all(
    Array.from({ length: REPLAY_CONCURRENCY }, async () => {
      for (let id = queue.pop(); id !== undefined; id = queue.pop()) {
        const replay: Replay = { seqs: [], kinds: [], end: '' };
        const end = await stream(
          url,
          SoakCompletionEvents,
          { completionId: encodeGlobalID('Completion', id), afterSeq: 0 },
          ({ completionEvents }) => {
            replay.seqs.push(completionEvents.seq);
            replay.kinds.push(completionEvents.__typename);
            return true;
          },
          REPLAY_IDLE_MS,
        );
        replay.end =
          end.end === 'complete' ? 'complete' : end.end === 'errors' ? `error ${end.code}` : 'stuck';
        replays.set(id, replay);
      }
    }),
  );
  return replays;
}

/** The survivor's V8 heap after a full GC, and its RSS, once it has gone quiet. */
async function measureMemory(cluster: Cluster): Promise<Memory> {
  const survivor = cluster.survivor();
  await Promise.race([survivor.quiet(), sleep(10_000)]);
  const { heapUsedBytes } = await survivor.collectGarbage();
  return { heapUsedBytes, rssBytes: survivor.rssBytes() };
}
