import { sql } from 'drizzle-orm';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { AddMessage, CreateConversation } from '../conversations/documents.js';
import { startTestServer, type TestServer } from '../support/server.js';

const SECRET = 'TOP-SECRET-7f1e';

describe('no message content below debug, at any level, even from failed SQL', () => {
  let server: TestServer;
  const written: string[] = [];
  const lines = () => written.map((line) => JSON.parse(line) as { level: number; msg?: string });

  beforeAll(async () => {
    server = await startTestServer({
      env: { LOG_LEVEL: 'info' },
      logDestination: { write: (line: string) => void written.push(line) },
    });
    // Inserts carrying the secret now fail in the database, with the secret among the statement's parameters.
    const { db } = server.app.services.database;
    await db.execute(
      sql.raw(
        `alter table conversations add constraint no_secret check (system_prompt not like '%${SECRET}%')`,
      ),
    );
    await db.execute(
      sql.raw(`alter table messages add constraint no_secret check (content not like '%${SECRET}%')`),
    );
  });
  afterAll(() => server.close());

  it('logs a failed insert of a system prompt or a message at error level, without its content', async () => {
    const refused = await server.request(CreateConversation, {
      input: { title: 'x', systemPrompt: `You keep the ${SECRET} plan.` },
    });
    expect(refused.errors?.[0]?.extensions?.code).toBe('INTERNAL_SERVER_ERROR');
    const { createConversation } = await server.data(CreateConversation, { input: { title: 'x' } });
    const failed = await server.request(AddMessage, {
      input: { conversationId: createConversation.id, role: 'USER', content: `Here is the ${SECRET} plan.` },
    });
    expect(failed.errors?.[0]?.extensions?.code).toBe('INTERNAL_SERVER_ERROR');

    const errors = lines().filter((line) => line.level >= 50);
    expect(errors.length).toBeGreaterThanOrEqual(2);
    expect(JSON.stringify(errors)).toMatch(/Failed query: .*insert into/);
    expect(JSON.stringify(errors)).toMatch(/params: \[redacted\]/);
    expect(written.join('')).not.toContain(SECRET);
  });
});
