import { existsSync, mkdirSync } from 'node:fs';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { PGlite } from '@electric-sql/pglite';
import type { Logger } from 'drizzle-orm';
import { drizzle as drizzleNodePg } from 'drizzle-orm/node-postgres';
import { migrate as migrateNodePg } from 'drizzle-orm/node-postgres/migrator';
import type { PgDatabase, PgQueryResultHKT } from 'drizzle-orm/pg-core';
import { drizzle as drizzlePglite } from 'drizzle-orm/pglite';
import { migrate as migratePglite } from 'drizzle-orm/pglite/migrator';
import pg from 'pg';
import * as schema from './schema.js';

export type Db = PgDatabase<PgQueryResultHKT, typeof schema>;

export interface Database {
  db: Db;
  kind: 'pglite' | 'postgres';
  /** A cheap round trip, used by /readyz. */
  ping(): Promise<void>;
  close(): Promise<void>;
}

export interface DatabaseOptions {
  /** Called with every SQL statement; tests count statements with it. */
  onQuery?: (sql: string) => void;
  /**
   * A dumped PGlite data directory (`PGlite.dumpDataDir`) that an in-memory database, or a directory without a
   * database yet, starts from instead of running initdb, which costs seconds; the test suite makes one migrated
   * snapshot per run.
   */
  pgliteSnapshot?: Blob;
  /**
   * For `memory://`, an open PGlite to use instead of a new one, left open at close: opening PGlite is most of
   * a test server's start, so the test suite empties and reuses its databases.
   */
  pglite?: PGlite;
  /** An idle pooled PostgreSQL connection failed (a server restart or failover); the pool replaces it. */
  onIdleConnectionError?: (error: Error) => void;
}

const migrationsFolder = resolve(dirname(fileURLToPath(import.meta.url)), '../../drizzle');
/** Arbitrary constant: every instance takes the same advisory lock so concurrent starts migrate once. */
const MIGRATION_LOCK_ID = 7_340_211;

/**
 * `postgres://` or `postgresql://` selects PostgreSQL, `memory://` an in-memory PGlite, and anything else is
 * a directory for an embedded PGlite database.
 */
export async function openDatabase(url: string, options: DatabaseOptions = {}): Promise<Database> {
  const logger: Logger | undefined = options.onQuery
    ? { logQuery: (query) => options.onQuery?.(query) }
    : undefined;

  if (/^postgres(ql)?:\/\//.test(url)) {
    const pool = new pg.Pool({ connectionString: url, max: 10 });
    // Without a listener, node-postgres's 'error' event for an idle client would end the process.
    pool.on('error', (error) => options.onIdleConnectionError?.(error));
    const client = await pool.connect();
    try {
      await client.query('select pg_advisory_lock($1)', [MIGRATION_LOCK_ID]);
      await migrateNodePg(drizzleNodePg(client), { migrationsFolder });
    } finally {
      await client.query('select pg_advisory_unlock($1)', [MIGRATION_LOCK_ID]).catch(() => {});
      client.release();
    }
    const db = drizzleNodePg(pool, { schema, logger }) as unknown as Db;
    return {
      db,
      kind: 'postgres',
      ping: async () => {
        await pool.query('select 1');
      },
      close: () => pool.end(),
    };
  }

  let client: PGlite;
  if (url === 'memory://') {
    client = options.pglite ?? new PGlite({ loadDataDir: options.pgliteSnapshot });
  } else {
    mkdirSync(url, { recursive: true });
    const fresh = !existsSync(join(url, 'PG_VERSION'));
    client = new PGlite(url, { loadDataDir: fresh ? options.pgliteSnapshot : undefined });
  }
  const migrator = drizzlePglite(client);
  await migratePglite(migrator, { migrationsFolder });
  const db = drizzlePglite(client, { schema, logger }) as unknown as Db;
  return {
    db,
    kind: 'pglite',
    ping: async () => {
      await client.query('select 1');
    },
    close: async () => {
      if (client !== options.pglite) await client.close();
    },
  };
}
