import { readFile } from 'node:fs/promises';
import { PGlite } from '@electric-sql/pglite';
import type { DestinationStream } from 'pino';
import { afterAll, beforeAll, inject } from 'vitest';
import { type App, createApp } from '../../src/app.js';
import { type Env, loadConfig } from '../../src/config.js';
import { createLogger } from '../../src/observability/logger.js';
import { createSimulator, type Simulator } from '../../src/simulator/index.js';
import { openDatabase } from '../../src/storage/db.js';
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

/**
 * In-memory databases of closed test servers, emptied for the next server of this worker: opening PGlite costs
 * most of a test server's start (about 0.8 s of CPU), emptying one a few milliseconds.
 */
const idleDatabases: PGlite[] = [];
/** The schema a database must still have to be reused: some tests change it (a constraint, a renamed table). */
let migratedSchema: string | undefined;

/** Every relation, column, constraint, trigger and function outside the system catalogs, as one text. */
async function schemaOf(client: PGlite): Promise<string> {
  const { rows } = await client.query<{ schema: string }>(`
    select string_agg(item, E'\n' order by item) as schema from (
      select format('%s %s', oid::regclass, relkind) from pg_class
        where relnamespace not in ('pg_catalog'::regnamespace, 'information_schema'::regnamespace, 'pg_toast'::regnamespace)
      union all select format('%s.%s %s', attrelid::regclass, attname, format_type(atttypid, atttypmod))
        from pg_attribute join pg_class on pg_class.oid = attrelid
        where relnamespace = 'public'::regnamespace and attnum > 0 and not attisdropped
      union all select format('%s %s', conname, pg_get_constraintdef(oid)) from pg_constraint
        where connamespace = 'public'::regnamespace
      union all select tgname from pg_trigger where not tgisinternal
      union all select proname from pg_proc where pronamespace = 'public'::regnamespace
    ) items(item)`);
  return rows[0]?.schema ?? '';
}

async function takeDatabase(): Promise<PGlite> {
  const idle = idleDatabases.pop();
  if (idle) return idle;
  const client = await PGlite.create({ loadDataDir: await loadPgliteSnapshot() });
  migratedSchema ??= await schemaOf(client);
  return client;
}

/**
 * Back to the migrated empty database a new one starts as (no rows, sequences from 1, no session state) for
 * the next server; one whose schema a test changed is closed instead.
 */
async function returnDatabase(client: PGlite): Promise<void> {
  if ((await schemaOf(client)) !== migratedSchema) return client.close();
  const { rows } = await client.query<{ tables: string }>(
    `select string_agg(format('%I.%I', schemaname, tablename), ', ') as tables from pg_tables
     where schemaname = 'public'`,
  );
  await client.exec(`truncate ${rows[0]?.tables} restart identity cascade`);
  // Alone: it cannot run in the implicit transaction of several statements.
  await client.exec('discard all');
  idleDatabases.push(client);
}

/** Makes `directory` a PGlite database holding the migrated empty schema, for a server in its own process. */
export async function migratedPgliteDirectory(directory: string): Promise<void> {
  const database = await openDatabase(directory, { pgliteSnapshot: await loadPgliteSnapshot() });
  await database.close();
}

/** The real server on an ephemeral port, on an in-memory database, answering from a real simulator over HTTP. */
export async function startTestServer(options: TestServerOptions = {}): Promise<TestServer> {
  const simulator = options.simulator ?? (await createSimulator());
  const config = loadConfig({ ...TEST_ENV, OPENAI_BASE_URL: simulator.url, ...options.env });
  const pglite = config.DATABASE_URL === 'memory://' ? await takeDatabase() : undefined;
  const app = await createApp(config, {
    onQuery: options.onQuery,
    pglite,
    // PostgreSQL ignores it; every other PGlite database, in a new directory, starts from it.
    pgliteSnapshot: await loadPgliteSnapshot(),
    logger: createLogger(config.LOG_LEVEL, options.logDestination),
  }).catch(async (error: unknown) => {
    if (pglite) await returnDatabase(pglite);
    throw error;
  });
  const address = await app.listen();
  return {
    ...graphqlHttp(`http://127.0.0.1:${address.port}/graphql`),
    app,
    simulator,
    close: async () => {
      await app.close();
      if (pglite) await returnDatabase(pglite);
      if (!options.simulator) await simulator.close();
    },
  };
}

/**
 * The cheap way to test against a server: one per file (or per describe), started before its first test and
 * closed after its last; `const server = useTestServer({ env })` at the top of the file. Its tests share it and
 * keep apart by their own conversations, API keys or principals, and undo the simulator latency or faults they
 * set (afterEach). Start another server only for other settings or a restart: each costs an app and a simulator
 * (its in-memory database is reused). Test files share one process (`isolate: false` in vitest.config.ts), so
 * the modules, tiktoken and the PGlite snapshot load once per run: keep what a test changes out of module scope.
 */
export function useTestServer(options: TestServerOptions = {}): TestServer {
  const server = {} as TestServer;
  beforeAll(async () => {
    Object.assign(server, await startTestServer(options));
  });
  afterAll(() => server.close?.());
  return server;
}
