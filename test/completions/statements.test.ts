import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { CreateConversation } from '../conversations/documents.js';
import { graphql } from '../gql/index.js';
import { wsClient } from '../support/clients.js';
import { startTestServer, type TestServer } from '../support/server.js';
import { createTestDatabase, postgresAvailable } from '../support/services.js';
import { SendMessage } from './documents.js';

/** What a streaming client asks for: the deltas and how the completion ended (as the benchmark's chat does). */
const ChatDeltas = graphql(`
  subscription ChatDeltas($input: SendMessageInput!) {
    chat(input: $input) {
      __typename
      ... on ContentDelta { text }
      ... on CompletionDone { finishReason }
      ... on CompletionFailed { error { code } }
    }
  }
`);

/**
 * Every SQL statement the server sends through Drizzle while one operation runs, from the request to the
 * response (or the end of the stream). Requests carry no API key (the development principal: no key lookup), the
 * caller's budgets were read by an earlier completion (an instance keeps them BUDGET_CACHE_MS), and the lease is
 * long enough that no renewal or sweep falls inside a count.
 */
function statementCounter(server: () => TestServer) {
  let statements: string[] | null = null;
  return {
    onQuery: (sql: string) => statements?.push(sql),
    async during(operation: () => Promise<unknown>): Promise<string[]> {
      statements = [];
      await operation();
      const counted = statements;
      statements = null;
      expect(server()).toBeDefined();
      return counted;
    },
  };
}

const backends = [
  { name: 'PGlite', database: async () => ({ url: 'memory://', drop: async () => {} }) },
  { name: 'PostgreSQL', database: createTestDatabase, skip: !(await postgresAvailable()) },
];

for (const backend of backends) {
  describe.skipIf(backend.skip ?? false)(`statements of a completion on ${backend.name}`, () => {
    let server: TestServer;
    let database: { url: string; drop(): Promise<void> };
    const counter = statementCounter(() => server);
    const newConversation = async () =>
      (await server.data(CreateConversation, { input: { systemPrompt: 'You are terse.' } }))
        .createConversation.id;

    beforeAll(async () => {
      database = await backend.database();
      server = await startTestServer({
        env: { DATABASE_URL: database.url, COMPLETION_LEASE_MS: '600000', BUDGET_CACHE_MS: '300000' },
        onQuery: counter.onQuery,
      });
      // The first completion of the caller reads its budgets; the counted ones find them kept.
      await server.data(SendMessage, { input: { conversationId: await newConversation(), content: 'warm' } });
    });
    afterAll(async () => {
      await server.close();
      await database.drop();
    });

    it('runs a plain sendMessage in two statements, its reply included in the response', async () => {
      const conversationId = await newConversation();
      let reply = '';
      const statements = await counter.during(async () => {
        const { sendMessage } = await server.data(SendMessage, {
          input: { conversationId, content: 'hello' },
        });
        reply = sendMessage.message?.content ?? '';
      });
      expect(reply).toContain('hello');
      expect(statements, statements.join('\n---\n')).toHaveLength(2);
    });

    it('runs a chat stream in two statements, whatever the number of chunks', async () => {
      const conversationId = await newConversation();
      const client = wsClient(server.wsUrl);
      let events: { chat: { __typename?: string } }[] = [];
      const statements = await counter.during(async () => {
        events = await client
          .subscribe(ChatDeltas, { input: { conversationId, content: 'stream me a reply' } })
          .all();
      });
      await client.close();
      expect(events.filter((event) => event.chat.__typename === 'ContentDelta').length).toBeGreaterThan(1);
      expect(events.at(-1)?.chat.__typename).toBe('CompletionDone');
      expect(statements, statements.join('\n---\n')).toHaveLength(2);
    });
  });
}
