import { SimulatorClient } from '../../src/simulator/index.js';
import { redisAvailable, TEST_REDIS_URL, testRedisPrefix } from '../../test/support/redis.js';
import { createTestDatabase, postgresAvailable } from '../../test/support/services.js';
import { type ChildService, startServer, startSimulator } from '../processes.js';
import type { SoakSettings } from './settings.js';
import { WebhookServer } from './webhooks.js';

/** The metric families the soak reads from each instance before it dies and at the end. */
export interface Scrape {
  instance: string;
  text: string;
}

/**
 * Everything the soak runs against: the simulator, a webhook server, and two instances of the server as child
 * processes on one PostgreSQL database and one Redis key prefix of their own. Instance 0 is never killed (its
 * memory is the one measured); instance 1 is the one SIGKILLed and restarted.
 */
export class Cluster {
  readonly instances: (ChildService | undefined)[] = [undefined, undefined];
  readonly scrapes: Scrape[] = [];
  kills = 0;

  private constructor(
    readonly settings: SoakSettings,
    readonly simulator: ChildService,
    readonly sim: SimulatorClient,
    readonly webhooks: WebhookServer,
    readonly database: { url: string; drop(): Promise<void> },
    private readonly redisPrefix: { prefix: string; drop(): Promise<void> },
  ) {}

  /** Whether PostgreSQL and Redis are there (under CI=true their absence throws instead). */
  static async servicesAvailable(): Promise<boolean> {
    return (await postgresAvailable()) && (await redisAvailable());
  }

  static async start(settings: SoakSettings, random: () => number): Promise<Cluster> {
    const database = await createTestDatabase();
    const redisPrefix = testRedisPrefix();
    const webhooks = new WebhookServer(random);
    await webhooks.listen();
    const simulator = await startSimulator(settings.replyWords);
    const sim = new SimulatorClient(simulator.url);
    await sim.setLatency({ firstTokenMs: settings.firstTokenMs, chunkDelayMs: settings.chunkDelayMs });
    const cluster = new Cluster(settings, simulator, sim, webhooks, database, redisPrefix);
    // One after the other: the first runs the migrations.
    await cluster.startInstance(0);
    await cluster.startInstance(1);
    return cluster;
  }

  /** The settings of both instances: small timeouts and leases so that faults resolve within the run. */
  private env(): Record<string, string> {
    const { rateLimit } = this.settings;
    return {
      DATABASE_URL: this.database.url,
      REDIS_URL: TEST_REDIS_URL,
      REDIS_KEY_PREFIX: this.redisPrefix.prefix,
      RATE_LIMIT_RPM: String(rateLimit.requests),
      RATE_LIMIT_WINDOW_MS: String(rateLimit.windowMs),
      RATE_LIMIT_TPM: '1000000000',
      RATE_LIMIT_MAX_WAIT: String(rateLimit.maxWaitMs),
      OPENAI_TIMEOUT_MS: String(this.settings.upstreamTimeoutMs),
      OPENAI_MAX_RETRIES: '2',
      OPENAI_RETRY_BASE_DELAY_MS: '100',
      OPENAI_RETRY_MAX_DELAY_MS: '1000',
      COMPLETION_LEASE_MS: String(this.settings.leaseMs),
      COMPLETION_EVENT_TTL_MS: String(60 * 60_000),
      FUNCTION_WEBHOOK_ALLOWLIST: this.webhooks.origin,
      FUNCTION_TIMEOUT_MS: String(this.settings.functionTimeoutMs),
      SHUTDOWN_GRACE_MS: '2000',
    };
  }

  private async startInstance(index: 0 | 1): Promise<void> {
    this.instances[index] = await startServer(this.simulator.url, {
      databaseUrl: this.database.url,
      inspect: index === 0,
      env: this.env(),
    });
  }

  /** The GraphQL URL of a live instance, picked at random. */
  pick(random: () => number): string {
    const live = this.instances.filter((instance): instance is ChildService => instance !== undefined);
    const chosen = live[Math.floor(random() * live.length)] ?? live[0];
    if (!chosen) throw new Error('no live instance');
    return graphqlUrl(chosen);
  }

  survivor(): ChildService {
    const survivor = this.instances[0];
    if (!survivor) throw new Error('instance 0 is not running');
    return survivor;
  }

  /** Reads an instance's /metrics (before it is killed, and at the end). */
  async scrape(index: 0 | 1): Promise<void> {
    const instance = this.instances[index];
    if (!instance) return;
    const response = await fetch(new URL('/metrics', instance.url));
    this.scrapes.push({ instance: `${index}#${this.kills}`, text: await response.text() });
  }

  /** SIGKILL of instance 1 (its metrics read just before), then a restart on the same database and Redis. */
  async killAndRestart(): Promise<void> {
    const victim = this.instances[1];
    if (!victim) return;
    await this.scrape(1).catch(() => undefined);
    this.instances[1] = undefined;
    await victim.kill();
    this.kills++;
    await this.startInstance(1);
  }

  async close(): Promise<void> {
    await Promise.all(this.instances.map((instance) => instance?.stop()));
    await this.simulator.stop();
    await this.webhooks.close();
    await this.database.drop();
    await this.redisPrefix.drop();
  }
}

export function graphqlUrl(instance: ChildService): string {
  return new URL('/graphql', instance.url).toString();
}
