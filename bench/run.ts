import { mkdirSync, mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { parseArgs } from 'node:util';
import OpenAI from 'openai';
import { SimulatorClient } from '../src/simulator/index.js';
import { GraphQLHttp } from './clients.js';
import { runContextBench } from './context.js';
import { idleSubscriptions } from './idle.js';
import { nonStreamedOverhead, streamingOverhead } from './overhead.js';
import {
  type ChildService,
  type ServerOptions,
  startPortkey,
  startServer,
  startSimulator,
} from './processes.js';
import { summarizeProfile } from './profile.js';
import { relayThroughput } from './relay.js';
import { environment, type Results, renderMarkdown, writeMarkdown } from './report.js';

const REPLY_WORDS = 50;
/** Pace of the streaming scenario's simulator: 50 chunks 20 ms apart, a typical model's 50 tokens per second. */
const STREAM_CHUNK_DELAY_MS = 20;

const SETTINGS = {
  full: {
    sequential: { clients: 1, iterations: 100, rounds: 6 },
    concurrent: { clients: 50, iterations: 4, rounds: 6 },
    streams: [
      { clients: 1, iterations: 5, rounds: 6 },
      { clients: 50, iterations: 2, rounds: 6 },
      { clients: 200, iterations: 2, rounds: 6 },
    ],
    relay: {
      completions: 8,
      subscribersPerCompletion: 125,
      connections: 10,
      rounds: 5,
      replyWords: REPLY_WORDS,
    },
    idle: { subscriptions: 10_000, connections: 10 },
  },
  /** A smoke run (under a minute on a quiet machine): every scenario, fewer samples, 2,000 idle subscriptions. */
  quick: {
    sequential: { clients: 1, iterations: 40, rounds: 3 },
    concurrent: { clients: 50, iterations: 2, rounds: 2 },
    streams: [
      { clients: 1, iterations: 2, rounds: 1 },
      { clients: 50, iterations: 1, rounds: 1 },
      { clients: 200, iterations: 1, rounds: 1 },
    ],
    relay: {
      completions: 4,
      subscribersPerCompletion: 100,
      connections: 4,
      rounds: 2,
      replyWords: REPLY_WORDS,
    },
    idle: { subscriptions: 2_000, connections: 4 },
  },
};

const { values: flags } = parseArgs({
  options: {
    quick: { type: 'boolean', default: false },
    profile: { type: 'boolean', default: false },
    only: { type: 'string' },
    database: { type: 'string' },
    out: { type: 'string' },
  },
});
const settings = flags.quick ? SETTINGS.quick : SETTINGS.full;
const scenarios = new Set((flags.only ?? '1,2,3,4,5').split(',').map((s) => s.trim()));

const log = (message: string) => console.log(`[bench ${new Date().toISOString().slice(11, 19)}] ${message}`);

async function main() {
  const results: Results = {
    environment: environment(process.argv.slice(2)),
    settings: {
      ...settings,
      replyWords: REPLY_WORDS,
      streamChunkDelayMs: STREAM_CHUNK_DELAY_MS,
      database: flags.database ?? 'embedded PGlite in a fresh temporary directory',
    },
  };
  log(`${flags.quick ? 'quick' : 'full'} run; scenarios ${[...scenarios].join(', ')}`);
  const simulator = await startSimulator(REPLY_WORDS);
  const control = new SimulatorClient(simulator.url);
  const openai = new OpenAI({ baseURL: simulator.url, apiKey: 'bench', maxRetries: 0 });
  const profileDir = flags.profile ? mkdtempSync(join(tmpdir(), 'agent-platform-profile-')) : undefined;
  const servers: ChildService[] = [];
  const startFreshServer = async (options: ServerOptions = {}) => {
    const server = await startServer(simulator.url, { databaseUrl: flags.database, ...options });
    servers.push(server);
    log(`server pid ${server.pid} at ${server.url}`);
    return { server, http: new GraphQLHttp(server.url) };
  };

  try {
    if (['1', '2', '3'].some((s) => scenarios.has(s))) {
      const { server, http } = await startFreshServer({ cpuProfileDir: profileDir });
      const deps = { server, http, simulator: control, openai };
      if (scenarios.has('1')) {
        log("1. non-streamed overhead (and the peer, Portkey's gateway, on the same simulator)");
        const portkey = await startPortkey();
        servers.push(portkey);
        log(`Portkey gateway pid ${portkey.pid} at ${portkey.url}`);
        const peer = {
          process: portkey,
          openai: new OpenAI({
            baseURL: portkey.url,
            apiKey: 'bench',
            maxRetries: 0,
            defaultHeaders: { 'x-portkey-provider': 'openai', 'x-portkey-custom-host': simulator.url },
          }),
        };
        const sequential = await nonStreamedOverhead(deps, settings.sequential, peer);
        const concurrent = await nonStreamedOverhead(deps, settings.concurrent, peer);
        await portkey.stop();
        results.nonStreamed = {
          sequential: sequential.ours,
          concurrent: concurrent.ours,
          peerSequential: sequential.peer,
          peerConcurrent: concurrent.peer,
        };
      }
      if (scenarios.has('2')) {
        await control.setLatency({ firstTokenMs: 0, chunkDelayMs: STREAM_CHUNK_DELAY_MS });
        results.streaming = {};
        for (const shape of settings.streams) {
          log(`2. streaming overhead at ${shape.clients} concurrent streams`);
          results.streaming[String(shape.clients)] = await streamingOverhead(
            deps,
            shape,
            REPLY_WORDS * STREAM_CHUNK_DELAY_MS,
          );
        }
        await control.setLatency({ firstTokenMs: 0, chunkDelayMs: 0 });
      }
      if (scenarios.has('3')) {
        log('3. relay throughput');
        results.relay = await relayThroughput({ server, http, simulator: control }, settings.relay);
      }
      await server.stop();
      if (profileDir) results.profile = summarizeProfile(profileDir);
    }
    if (scenarios.has('4')) {
      // A fresh server, so the memory baseline is not padded by what earlier scenarios left behind.
      log(`4. idle subscriptions (${settings.idle.subscriptions})`);
      const { server, http } = await startFreshServer({ inspect: true });
      results.idle = await idleSubscriptions({ server, http, simulator: control }, settings.idle);
      await server.stop();
    }
    if (scenarios.has('5')) {
      log('5. context operations');
      results.context = await runContextBench();
    }
  } catch (error) {
    for (const child of [simulator, ...servers]) {
      console.error(`--- last output of ${child.name} (pid ${child.pid}) ---\n${child.recentOutput()}`);
    }
    throw error;
  } finally {
    await Promise.all(servers.map((server) => server.stop()));
    await simulator.stop();
    if (profileDir) log(`CPU profile kept in ${profileDir}`);
  }

  const markdown = renderMarkdown(results);
  const out = outputPaths();
  writeFileSync(out.json, `${JSON.stringify(results, null, 2)}\n`);
  writeMarkdown(out.markdown, markdown);
  console.log(`\n${markdown}\n`);
  log(`wrote ${out.json} and ${out.markdown}`);
}

/**
 * Only a full run of every scenario replaces the published figures (BENCHMARKS.md, bench/results.json); a quick
 * or partial run writes to `--out <dir>`, by default a fresh temporary directory.
 */
function outputPaths(): { json: string; markdown: string } {
  const published = !flags.quick && !flags.only && !flags.out;
  if (published) return { json: 'bench/results.json', markdown: 'BENCHMARKS.md' };
  const dir = flags.out ?? mkdtempSync(join(tmpdir(), 'agent-platform-bench-'));
  mkdirSync(dir, { recursive: true });
  return { json: join(dir, 'results.json'), markdown: join(dir, 'BENCHMARKS.md') };
}

await main();
