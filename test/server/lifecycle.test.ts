import { once } from 'node:events';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import WebSocket from 'ws';
import { createSimulator } from '../../src/simulator/index.js';
import { Chat, SendMessage } from '../completions/documents.js';
import { appendMessages } from '../conversations/context-support.js';
import { AddMessage, ConversationMessages, CreateConversation } from '../conversations/documents.js';
import { graphql } from '../gql/index.js';
import { wsClient } from '../support/clients.js';
import { spawnServer } from '../support/process.js';
import { migratedPgliteDirectory, startTestServer } from '../support/server.js';

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
      await appendMessages(
        server,
        createConversation.id,
        Array.from({ length: 12 }, (_, message) => ({ role: 'user', content: `c${index} m${message}` })),
      );
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
    const dataDir = tempDir();
    await migratedPgliteDirectory(dataDir);
    const server = await spawnServer({
      DATABASE_URL: dataDir,
      OPENAI_BASE_URL: simulator.url,
      SHUTDOWN_GRACE_MS: '10000',
    });
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

describe('shutdown', () => {
  it('turns /readyz 503, refuses new completions, cancels what outlives the grace and closes sockets with 1001', async () => {
    const server = await startTestServer({ env: { SHUTDOWN_GRACE_MS: '500' } });
    const readyz = () => fetch(server.url.replace('/graphql', '/readyz'));
    expect((await readyz()).status).toBe(200);
    const { createConversation } = await server.data(CreateConversation, { input: { title: 'shutdown' } });
    const conversationId = createConversation.id;

    // A stream that cannot finish within the grace, and an idle graphql-ws connection.
    server.simulator.setLatency({ firstTokenMs: 60_000 });
    const client = wsClient(server.wsUrl);
    const running = client.subscribe(Chat, {
      input: { conversationId, content: 'a reply that never comes' },
    });
    await server.simulator.waitFor((request) => JSON.stringify(request.body).includes('never comes'));
    const idle = new WebSocket(server.wsUrl, 'graphql-transport-ws');
    await once(idle, 'open');
    idle.send(JSON.stringify({ type: 'connection_init' }));
    await once(idle, 'message');
    const closeCode = new Promise<number>((resolve) => idle.once('close', (code) => resolve(code)));

    const closing = server.app.close();
    try {
      const draining = await readyz();
      expect(draining.status).toBe(503);
      expect(await draining.json()).toEqual({ status: 'draining' });
      const refused = await server.request(SendMessage, { input: { conversationId, content: 'one more' } });
      expect(refused.errors?.[0]?.extensions?.code).toBe('UPSTREAM_UNAVAILABLE');

      const events = (await running.all()).map((event) => event.chat);
      expect(events.at(-1)).toMatchObject({
        __typename: 'CompletionFailed',
        error: { code: 'CANCELLED' },
        completion: { status: 'CANCELLED' },
      });
      expect(await closeCode).toBe(1001);
    } finally {
      await closing;
      await client.close();
      await server.simulator.close();
    }
  });
});
