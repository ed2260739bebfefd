import { readFile } from 'node:fs/promises';
import type { DestinationStream } from 'pino';
import { afterAll, beforeAll, inject } from 'vitest';
import { type App, createApp } from '../../src/app.js';
import { type Env, loadConfig } from '../../src/config.js';
import { createLogger } from '../../src/observability/logger.js';
import { createSimulator, type Simulator } from '../../src/simulator/index.js';
import type { TypedDocumentString } from '../gql/graphql.js';

/** fetch-based GraphQL calls against one endpoint. */
export interface GraphQLHttp {
  url: string;
  wsUrl: string;
  /** Runs an operation over HTTP with fetch and returns the parsed GraphQL response. */
  request<R, V>(
    document: TypedDocumentString<R, V>,
    variables?: V,
    options?: RequestOptions,
  ): Promise<GraphQLResponse<R>>;
  /** Like request, but fails the test on any GraphQL error and returns `data`. */
  data<R, V>(document: TypedDocumentString<R, V>, variables?: V, options?: RequestOptions): Promise<R>;
}

export interface TestServer extends GraphQLHttp {
  app: App;
  simulator: Simulator;
  close(): Promise<void>;
}

export interface RequestOptions {
  apiKey?: string;
  headers?: Record<string, string>;
}

export interface GraphQLResponse<R> {
  status: number;
  data?: R | null;
  errors?: { message: string; path?: string[]; extensions?: { code?: string; [key: string]: unknown } }[];
}

export function graphqlHttp(url: string): GraphQLHttp {
  const request = async <R, V>(
    document: TypedDocumentString<R, V>,
    variables?: V,
    opts: RequestOptions = {},
  ) => {
    const response = await fetch(url, {
      method: 'POST',
      headers: {
        'content-type': 'application/json',
        ...(opts.apiKey ? { authorization: `Bearer ${opts.apiKey}` } : {}),
        ...opts.headers,
      },
      body: JSON.stringify({ query: document.toString(), variables }),
    });
    const body = (await response.json()) as GraphQLResponse<R>;
    return { ...body, status: response.status };
  };
  return {
    url,
    wsUrl: url.replace('http', 'ws'),
    request,
    data: async (document, variables, opts) => {
      const response = await request(document, variables, opts);
      if (response.errors?.length) throw new Error(`GraphQL errors: ${JSON.stringify(response.errors)}`);
      if (!response.data) throw new Error('GraphQL response without data');
      return response.data;
    },
  };
}

/** Test defaults: the limits stay out of the way of tests about other things (test/limits sets its own). */
export const TEST_ENV = {
  HOST: '127.0.0.1',
  PORT: '0',
  DATABASE_URL: 'memory://',
  OPENAI_API_KEY: 'sk-test-upstream',
  LOG_LEVEL: 'silent',
  // No queueing, fast backoff, and an upstream asking for more than 5 s is answered at once, not waited for.
  RATE_LIMIT_RPM: '100000',
  RATE_LIMIT_TPM: '100000000',
  RATE_LIMIT_MAX_WAIT: '5000',
  CLIENT_RPM: '100000',
  OPENAI_RETRY_BASE_DELAY_MS: '1',
} satisfies Partial<Record<keyof Env, string>>;

export interface TestServerOptions {
  env?: Partial<Record<keyof Env, string>>;
  /** A simulator to share between servers; otherwise one is started and closed with the server. */
  simulator?: Simulator;
  onQuery?: (sql: string) => void;
  /** Where the app's log lines go (tests that read the logs capture them here); default stdout. */
  logDestination?: DestinationStream;
}

let pgliteSnapshot: Promise<Blob> | undefined;

/** The migrated empty database made once per run by the global setup (test/support/pglite-snapshot.ts). */
function loadPgliteSnapshot(): Promise<Blob> {
  pgliteSnapshot ??= readFile(inject('pgliteSnapshotPath')).then((bytes) => new Blob([bytes]));
  return pgliteSnapshot;
}

/** The real server on an ephemeral port, on an in-memory database, answering from a real simulator over HTTP. */
export async function startTestServer(options: TestServerOptions = {}): Promise<TestServer> {
  const simulator = options.simulator ?? (await createSimulator());
  const config = loadConfig({ ...TEST_ENV, OPENAI_BASE_URL: simulator.url, ...options.env });
  const app = await createApp(config, {
    onQuery: options.onQuery,
    // PostgreSQL ignores it; every PGlite database, in memory or in a new directory, starts from it.
    pgliteSnapshot: await loadPgliteSnapshot(),
    logger: createLogger(config.LOG_LEVEL, options.logDestination),
  });
  const address = await app.listen();
  return {
    ...graphqlHttp(`http://127.0.0.1:${address.port}/graphql`),
    app,
    simulator,
    close: async () => {
      await app.close();
      if (!options.simulator) await simulator.close();
    },
  };
}

/**
 * The cheap way to test against a server: one per file (or per describe), started before its first test and
 * closed after its last; `const server = useTestServer({ env })` at the top of the file. Its tests share it and
 * keep apart by their own conversations, API keys or principals, and undo the simulator latency or faults they
 * set (afterEach). Start another server only for other settings or a restart: each costs a PGlite database and a
 * simulator. Test files share one process (`isolate: false` in vitest.config.ts), so the modules, tiktoken and
 * the PGlite snapshot load once per run: keep what a test changes out of module scope.
 */
export function useTestServer(options: TestServerOptions = {}): TestServer {
  const server = {} as TestServer;
  beforeAll(async () => {
    Object.assign(server, await startTestServer(options));
  });
  afterAll(() => server.close?.());
  return server;
}
