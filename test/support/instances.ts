import { afterAll, beforeAll } from 'vitest';
import type { Env } from '../../src/config.js';
import { createSimulator, type Simulator } from '../../src/simulator/index.js';
import { type ServerProcess, spawnServer } from './process.js';
import { TEST_REDIS_URL, testRedisPrefix } from './redis.js';
import { createTestDatabase } from './services.js';

type EnvOverrides = Partial<Record<keyof Env, string>>;

export interface Instances {
  /** The simulator every instance asks (started before the file's first test). */
  readonly simulator: Simulator;
  /** The file's PostgreSQL database. */
  readonly databaseUrl: string;
  /** A server process on the file's database, Redis key prefix and simulator, with `env` on top. */
  spawn(env?: EnvOverrides): Promise<ServerProcess>;
  /** Another Redis key prefix of the file's own, dropped with the rest. */
  redisPrefix(): string;
}

/**
 * Instances of a deployment in their own processes for one file (or describe): one new PostgreSQL database, one
 * Redis key prefix and one simulator, with `env` for every instance. After the last test every process is
 * killed and the database, the prefixes and the simulator go.
 */
export function useInstances(env: EnvOverrides = {}): Instances {
  const processes: ServerProcess[] = [];
  const prefixes = [testRedisPrefix()];
  let simulator: Simulator | undefined;
  let database: { url: string; drop(): Promise<void> } | undefined;
  const started = () => {
    if (!simulator || !database) throw new Error('the instances start before the first test');
    return { simulator, database };
  };
  beforeAll(async () => {
    simulator = await createSimulator();
    database = await createTestDatabase();
  });
  afterAll(async () => {
    for (const server of processes) server.child.kill('SIGKILL');
    await Promise.all(processes.map((server) => server.exited));
    await simulator?.close();
    await database?.drop();
    for (const prefix of prefixes) await prefix.drop();
  });
  return {
    get simulator() {
      return started().simulator;
    },
    get databaseUrl() {
      return started().database.url;
    },
    async spawn(overrides = {}) {
      const server = await spawnServer({
        DATABASE_URL: started().database.url,
        REDIS_URL: TEST_REDIS_URL,
        REDIS_KEY_PREFIX: prefixes[0]?.prefix,
        OPENAI_BASE_URL: started().simulator.url,
        ...env,
        ...overrides,
      });
      processes.push(server);
      return server;
    },
    redisPrefix() {
      const prefix = testRedisPrefix();
      prefixes.push(prefix);
      return prefix.prefix;
    },
  };
}
