import { type ChildProcess, execFileSync, spawn } from 'node:child_process';
import { once } from 'node:events';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { createRequire } from 'node:module';
import { type AddressInfo, createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createInterface } from 'node:readline';
import WebSocket from 'ws';

/** The key the benchmark server is configured with; requests authenticate as in production, not dev mode. */
export const BENCH_API_KEY = 'bench-key-0123456789';

const CLOCK_TICKS_PER_SECOND = Number(execFileSync('getconf', ['CLK_TCK']).toString().trim()) || 100;
const START_TIMEOUT_MS = 60_000;

/** Lines of a child's output kept for the error report when something fails. */
const KEPT_OUTPUT_LINES = 30;

/** A child process started by the harness, with its CPU time and memory read from /proc. */
export class ChildService {
  private readonly exited: Promise<void>;
  private readonly output: string[] = [];
  private listeningUrl: string | undefined;
  /** The DevTools endpoint, when the child runs with `--inspect`. */
  private inspectorUrl: string | undefined;
  /** Resolves once the child has printed the URL it listens on. */
  readonly listening: Promise<void>;

  constructor(
    readonly name: string,
    private readonly child: ChildProcess,
    parseUrl: (line: string) => string | undefined,
    private readonly cleanup: () => void = () => {},
  ) {
    this.exited = new Promise((resolve) => child.once('exit', () => resolve()));
    this.listening = new Promise((resolve, reject) => {
      const timer = setTimeout(
        () => reject(new Error(`${name} did not start within ${START_TIMEOUT_MS} ms`)),
        START_TIMEOUT_MS,
      );
      // Every line is read for the whole run so a chatty child never blocks on a full pipe.
      for (const stream of [child.stdout, child.stderr]) {
        createInterface({ input: stream as NodeJS.ReadableStream }).on('line', (line) => {
          this.output.push(line);
          this.inspectorUrl ??= /Debugger listening on (ws:\/\/\S+)/.exec(line)?.[1];
          if (this.output.length > KEPT_OUTPUT_LINES) this.output.shift();
          const url = parseUrl(line);
          if (url && !this.listeningUrl) {
            this.listeningUrl = url;
            clearTimeout(timer);
            resolve();
          }
        });
      }
      child.once('exit', (code) => {
        clearTimeout(timer);
        reject(new Error(`${name} exited with ${code} before listening:\n${this.recentOutput()}`));
      });
    });
  }

  get url(): string {
    if (!this.listeningUrl) throw new Error(`${this.name} is not listening yet`);
    return this.listeningUrl;
  }

  get pid(): number {
    if (this.child.pid === undefined) throw new Error('child process has no pid');
    return this.child.pid;
  }

  /** The child's last lines of output (its error logs when a request failed). */
  recentOutput(): string {
    return this.output.join('\n');
  }

  /** User + system CPU time the process has used so far, in milliseconds (clock-tick resolution). */
  cpuMs(): number {
    const stat = readFileSync(`/proc/${this.pid}/stat`, 'utf8');
    // Fields after the command name, which is in parentheses and may itself contain spaces.
    const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
    const ticks = Number(fields[11]) + Number(fields[12]);
    return (ticks * 1000) / CLOCK_TICKS_PER_SECOND;
  }

  /** Resident set size in bytes. */
  rssBytes(): number {
    const status = readFileSync(`/proc/${this.pid}/status`, 'utf8');
    const match = /^VmRSS:\s+(\d+)\s+kB$/m.exec(status);
    if (!match?.[1]) throw new Error(`no VmRSS for pid ${this.pid}`);
    return Number(match[1]) * 1024;
  }

  /**
   * Resolves once the process has used at most one clock tick of CPU over `windowMs`: whatever it was asked to do
   * has been done. Measurements that must exclude set-up work start from here.
   */
  async quiet(windowMs = 200): Promise<void> {
    const tickMs = 1000 / CLOCK_TICKS_PER_SECOND;
    for (let before = this.cpuMs(); ; ) {
      await new Promise((resolve) => setTimeout(resolve, windowMs));
      const now = this.cpuMs();
      if (now - before <= tickMs) return;
      before = now;
    }
  }

  /**
   * Runs a full garbage collection in the child through the inspector (it must run with `--inspect`) and returns
   * the V8 heap in use afterwards, so memory readings are not inflated by garbage awaiting collection.
   */
  async collectGarbage(): Promise<{ heapUsedBytes: number }> {
    if (!this.inspectorUrl) throw new Error(`${this.name} runs without --inspect`);
    const socket = new WebSocket(this.inspectorUrl);
    await once(socket, 'open');
    const pending = new Map<number, (result: unknown) => void>();
    socket.on('message', (data: Buffer) => {
      const message = JSON.parse(data.toString()) as { id?: number; result?: unknown };
      if (message.id !== undefined) pending.get(message.id)?.(message.result);
    });
    const call = <R>(method: string) =>
      new Promise<R>((resolve) => {
        const id = pending.size + 1;
        pending.set(id, resolve as (result: unknown) => void);
        socket.send(JSON.stringify({ id, method }));
      });
    try {
      await call('HeapProfiler.collectGarbage');
      const usage = await call<{ usedSize: number }>('Runtime.getHeapUsage');
      return { heapUsedBytes: usage.usedSize };
    } finally {
      socket.close();
    }
  }

  /** SIGKILL, as a crash would: no shutdown, no drain; resolves once the process is gone. */
  async kill(): Promise<void> {
    if (this.child.exitCode === null && this.child.signalCode === null) this.child.kill('SIGKILL');
    await this.exited;
    this.cleanup();
  }

  /** SIGTERM, then waits for the exit (a --cpu-prof profile is written on the way out). */
  async stop(): Promise<void> {
    if (this.child.exitCode === null && this.child.signalCode === null) this.child.kill('SIGTERM');
    await this.exited;
    this.cleanup();
  }
}

interface SpawnOptions {
  entry: string;
  /** Arguments after the entry point. */
  args?: string[];
  env: Record<string, string>;
  nodeArgs?: string[];
  /** Finds the URL in one line of the child's output. */
  parseUrl(line: string): string | undefined;
  cleanup?: () => void;
}

/** Runs an entry point with `node --import tsx` and resolves once it has printed its URL. */
async function startChild(options: SpawnOptions): Promise<ChildService> {
  const nodeArgs = [...(options.nodeArgs ?? []), '--import', 'tsx', options.entry, ...(options.args ?? [])];
  const child = spawn(process.execPath, nodeArgs, {
    env: { PATH: process.env.PATH ?? '', HOME: process.env.HOME ?? '', ...options.env },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  const service = new ChildService(options.entry, child, options.parseUrl, options.cleanup);
  await service.listening;
  return service;
}

/** The built-in simulator in its own process (`npm run simulator`), on a free port. */
export function startSimulator(replyWords: number): Promise<ChildService> {
  return startChild({
    entry: 'src/simulator/main.ts',
    env: { SIMULATOR_PORT: '0', SIMULATOR_REPLY_WORDS: String(replyWords) },
    parseUrl: (line) => /listening on (\S+)/.exec(line)?.[1],
  });
}

/**
 * The peer: Portkey's open-source gateway (`@portkey-ai/gateway`, a Hono app on Node) as its `start:node` script
 * runs it, headless (no console UI), on a free port. Requests name the upstream with `x-portkey-custom-host`.
 */
export async function startPortkey(
  options: Pick<ServerOptions, 'cpuProfileDir'> = {},
): Promise<ChildService> {
  const port = await freePort();
  return startChild({
    entry: createRequire(import.meta.url).resolve('@portkey-ai/gateway/build/start-server.js'),
    args: [`--port=${port}`, '--headless'],
    nodeArgs: options.cpuProfileDir ? ['--cpu-prof', '--cpu-prof-dir', options.cpuProfileDir] : [],
    env: { NODE_ENV: 'production' },
    parseUrl: (line) => (line.includes('Ready for connections') ? `http://127.0.0.1:${port}/v1` : undefined),
  });
}

/** A port nothing listens on right now (the gateway cannot be told to pick one and say which). */
async function freePort(): Promise<number> {
  const server = createServer();
  server.listen(0, '127.0.0.1');
  await once(server, 'listening');
  const { port } = server.address() as AddressInfo;
  server.close();
  await once(server, 'close');
  return port;
}

export interface ServerOptions {
  /** Writes a `node --cpu-prof` profile into this directory when the server stops. */
  cpuProfileDir?: string;
  /** Opens the inspector on a free port, for `collectGarbage()`. */
  inspect?: boolean;
  /** Defaults to a fresh embedded PGlite directory, removed when the server stops. */
  databaseUrl?: string;
  /** Settings added to (or replacing) the benchmark's own. */
  env?: Record<string, string>;
}

/** The server as `npm start` runs it, on a free port, persisting to `databaseUrl`. */
export function startServer(upstreamURL: string, options: ServerOptions = {}): Promise<ChildService> {
  const dataDir = mkdtempSync(join(tmpdir(), 'agent-platform-bench-'));
  return startChild({
    entry: 'src/main.ts',
    nodeArgs: [
      ...(options.cpuProfileDir ? ['--cpu-prof', '--cpu-prof-dir', options.cpuProfileDir] : []),
      ...(options.inspect ? ['--inspect=127.0.0.1:0'] : []),
    ],
    env: {
      HOST: '127.0.0.1',
      PORT: '0',
      DATABASE_URL: options.databaseUrl ?? join(dataDir, 'db'),
      OPENAI_BASE_URL: upstreamURL,
      OPENAI_API_KEY: 'bench',
      API_KEYS: `bench:${BENCH_API_KEY}:admin`,
      // The idle-subscription scenario holds one upstream stream open for the whole run.
      OPENAI_TIMEOUT_MS: String(30 * 60_000),
      // Limits are enforced (their cost is part of what is measured) but set high enough never to refuse: the
      // load here is the benchmark's, and the idle scenario holds 10,000 subscriptions on one key.
      RATE_LIMIT_RPM: '100000000',
      RATE_LIMIT_TPM: '100000000000',
      CLIENT_RPM: '100000000',
      CLIENT_MAX_STREAMS: '1000000',
      LOG_LEVEL: 'info',
      ...options.env,
    },
    parseUrl: (line) => {
      if (!line.startsWith('{')) return undefined;
      const entry = JSON.parse(line) as { msg?: string; url?: string };
      return entry.msg === 'agent-platform listening' ? entry.url : undefined;
    },
    cleanup: () => rmSync(dataDir, { recursive: true, force: true }),
  });
}
