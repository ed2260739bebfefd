import { randomBytes } from 'node:crypto';
import pg from 'pg';

const ADMIN_URL = process.env.TEST_POSTGRES_URL ?? 'postgres://postgres@127.0.0.1:5432/postgres';

/**
 * Whether an external service is reachable. Without it a suite skips with a printed reason, except under
 * CI=true, where a missing service is a failure: CI must run every suite.
 */
export async function serviceAvailable(name: string, probe: () => Promise<void>): Promise<boolean> {
  try {
    await probe();
    return true;
  } catch (error) {
    const reason = `${name} is unreachable (${(error as Error).message})`;
    if (process.env.CI === 'true') throw new Error(`${reason}: CI=true requires it`);
    console.warn(`Skipping ${name} suites: ${reason}`);
    return false;
  }
}

export const postgresAvailable = () =>
  serviceAvailable('PostgreSQL', async () => {
    const client = new pg.Client({ connectionString: ADMIN_URL, connectionTimeoutMillis: 2000 });
    await client.connect();
    await client.end();
  });

/** A fresh database for one suite; `drop()` removes it (and any connection still open to it). */
export async function createTestDatabase(): Promise<{ url: string; drop(): Promise<void> }> {
  const name = `agent_platform_test_${randomBytes(6).toString('hex')}`;
  const admin = new pg.Client({ connectionString: ADMIN_URL });
  await admin.connect();
  await admin.query(`create database ${name}`);
  await admin.end();
  const url = new URL(ADMIN_URL);
  url.pathname = `/${name}`;
  return {
    url: url.toString(),
    drop: async () => {
      const client = new pg.Client({ connectionString: ADMIN_URL });
      await client.connect();
      await client.query(`drop database if exists ${name} with (force)`);
      await client.end();
    },
  };
}
