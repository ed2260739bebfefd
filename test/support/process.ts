import { type ChildProcess, spawn } from 'node:child_process';
import { createInterface } from 'node:readline';
import type { Env } from '../../src/config.js';
import { type GraphQLHttp, graphqlHttp, TEST_ENV } from './server.js';

export interface ServerProcess extends GraphQLHttp {
  child: ChildProcess;
  /** Resolves with the exit code once the process has exited. */
  exited: Promise<number | null>;
}

/**
 * `src/main.ts` in its own process, as operators run it: for tests about several instances, signals and crashes.
 * Resolves once it logs that it listens.
 */
export async function spawnServer(env: Partial<Record<keyof Env, string>>): Promise<ServerProcess> {
  const child = spawn(process.execPath, ['--import', 'tsx', 'src/main.ts'], {
    // Info level at least: the listening line is how the test learns the port.
    env: { ...process.env, ...TEST_ENV, ...env, LOG_LEVEL: 'info' },
    stdio: ['ignore', 'pipe', 'inherit'],
  });
  const exited = new Promise<number | null>((resolve) => child.once('exit', resolve));
  const url = await listeningUrl(child);
  return { ...graphqlHttp(url), child, exited };
}

/** main.ts logs `{"url": …, "msg": "agent-platform listening"}` once it accepts connections. */
async function listeningUrl(child: ChildProcess): Promise<string> {
  if (!child.stdout) throw new Error('no stdout');
  const lines = createInterface({ input: child.stdout });
  for await (const line of lines) {
    const entry = JSON.parse(line) as { msg?: string; url?: string };
    if (entry.msg === 'agent-platform listening' && entry.url) {
      // Keep draining stdout so a chatty server never blocks on a full pipe.
      lines.on('line', () => {});
      return entry.url;
    }
  }
  throw new Error('server exited before listening');
}
