import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { createSimulator } from '../../src/simulator/index.js';
import { Chat } from '../completions/documents.js';
import { AddMessage, ConversationMessages, CreateConversation } from '../conversations/documents.js';
import { graphql } from '../gql/index.js';
import { wsClient } from '../support/clients.js';
import { spawnServer } from '../support/process.js';
import { startTestServer } from '../support/server.js';

const dirs: string[] = [];
const tempDir = () => {
  const dir = mkdtempSync(join(tmpdir(), 'agent-platform-'));
  dirs.push(dir);
  return dir;
};
afterAll(() => {
  for (const dir of dirs) rmSync(dir, { recursive: true, force: true });
});

const ConversationsWithMessages = graphql(`
  query ConversationsWithMessages {
    conversations(first: 20) {
      edges { node { id title messages(last: 10) { edges { node { content } } } } }
    }
  }
`);

describe('storage', () => {
  it('keeps conversations and messages across a restart on a PGlite directory', async () => {
    const dataDir = tempDir();
    const first = await startTestServer({ env: { DATABASE_URL: dataDir } });
    const { createConversation } = await first.data(CreateConversation, { input: { title: 'durable' } });
    await first.data(AddMessage, {
      input: { conversationId: createConversation.id, role: 'USER', content: 'remember me' },
    });
    await first.close();

    const second = await startTestServer({ env: { DATABASE_URL: dataDir } });
    const { conversation } = await second.data(ConversationMessages, { id: createConversation.id });
    await second.close();
    expect(conversation.title).toBe('durable');
    expect(conversation.messages.edges.map((edge) => edge.node.content)).toEqual(['remember me']);
  });

  it('loads 20 conversations with their last 10 messages in a bounded number of statements', async () => {
    const statements: string[] = [];
    let counting = false;
    const server = await startTestServer({ onQuery: (sql) => counting && statements.push(sql) });
    for (let index = 0; index < 20; index++) {
      const { createConversation } = await server.data(CreateConversation, { input: { title: `c${index}` } });
      for (let message = 0; message < 12; message++) {
        await server.data(AddMessage, {
          input: { conversationId: createConversation.id, role: 'USER', content: `c${index} m${message}` },
        });
      }
    }
    counting = true;
    const { conversations } = await server.data(ConversationsWithMessages, {});
    counting = false;
    await server.close();
    expect(conversations.edges).toHaveLength(20);
    for (const edge of conversations.edges) {
      expect(edge.node.messages.edges.map((m) => m.node.content)).toEqual(
        Array.from({ length: 10 }, (_, index) => `${edge.node.title} m${index + 2}`),
      );
    }
    expect(statements.length).toBeLessThanOrEqual(3);
  });
});

describe('process', () => {
  it('lets a running stream finish on SIGTERM, then exits 0', async () => {
    const simulator = await createSimulator({ chunkDelayMs: 30 });
    const server = await spawnServer({ OPENAI_BASE_URL: simulator.url, SHUTDOWN_GRACE_MS: '10000' });
    try {
      const { createConversation } = await server.data(CreateConversation, { input: { title: 'sigterm' } });
      const client = wsClient(server.wsUrl);
      const stream = client.subscribe(Chat, {
        input: { conversationId: createConversation.id, content: 'finish this reply before you go' },
      });
      await stream.next();
      server.child.kill('SIGTERM');
      const events = (await stream.all()).map((event) => event.chat);
      expect(events.at(-1)?.__typename).toBe('CompletionDone');
      expect(await server.exited).toBe(0);
      await client.close();
    } finally {
      server.child.kill('SIGKILL');
      await simulator.close();
    }
  });
});
