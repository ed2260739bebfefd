import pg from 'pg';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { CreateConversation, ListConversations } from '../conversations/documents.js';
import { startTestServer, type TestServer } from '../support/server.js';
import { createTestDatabase, postgresAvailable } from '../support/services.js';

const available = await postgresAvailable();

describe.skipIf(!available)('PostgreSQL connections', () => {
  let database: Awaited<ReturnType<typeof createTestDatabase>>;
  let server: TestServer;
  const written: string[] = [];

  beforeAll(async () => {
    database = await createTestDatabase();
    server = await startTestServer({
      env: { DATABASE_URL: database.url, LOG_LEVEL: 'warn' },
      logDestination: { write: (line: string) => void written.push(line) },
    });
  });
  afterAll(async () => {
    await server.close();
    await database.drop();
  });

  it('survives the database ending its idle connections (a restart or failover), and goes on serving', async () => {
    await server.data(CreateConversation, { input: { title: 'before' } });
    const admin = new pg.Client({ connectionString: database.url });
    await admin.connect();
    try {
      // What PostgreSQL does to every session on a restart: the server's idle pooled clients get 57P01.
      const { rowCount } = await admin.query(
        'select pg_terminate_backend(pid) from pg_stat_activity where datname = current_database() and pid <> pg_backend_pid()',
      );
      expect(rowCount).toBeGreaterThan(0);
    } finally {
      await admin.end();
    }
    await expect
      .poll(() => written.some((line) => line.includes('an idle database connection failed')))
      .toBe(true);
    await server.data(CreateConversation, { input: { title: 'after' } });
    const { conversations } = await server.data(ListConversations, { first: 10 });
    expect(conversations.edges.map((edge) => edge.node.title)).toEqual(['after', 'before']);
  });
});
