import { decodeGlobalID } from '@pothos/plugin-relay';
import { eq } from 'drizzle-orm';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { messages } from '../../src/storage/schema.js';
import type { ListConversationsQuery } from '../gql/graphql.js';
import { startTestServer, type TestServer } from '../support/server.js';
import { createTestDatabase, postgresAvailable } from '../support/services.js';
import {
  AddMessage,
  ConversationMessages,
  CreateConversation,
  DeleteConversation,
  ListConversations,
} from './documents.js';

interface Backend {
  name: string;
  /** DATABASE_URL for the server, and how to remove it afterwards. */
  open(): Promise<{ url: string; drop(): Promise<void> }>;
  available(): Promise<boolean>;
}

const backends: Backend[] = [
  {
    name: 'PGlite',
    open: async () => ({ url: 'memory://', drop: async () => {} }),
    available: async () => true,
  },
  { name: 'PostgreSQL', open: createTestDatabase, available: postgresAvailable },
];

for (const backend of backends) {
  const available = await backend.available();
  describe.skipIf(!available)(`conversations on ${backend.name}`, () => {
    let server: TestServer;
    let database: { url: string; drop(): Promise<void> };
    beforeAll(async () => {
      database = await backend.open();
      server = await startTestServer({ env: { DATABASE_URL: database.url } });
    });
    afterAll(async () => {
      await server?.close();
      await database?.drop();
    });

    const create = async (title: string, systemPrompt?: string) =>
      (await server.data(CreateConversation, { input: { title, systemPrompt } })).createConversation;

    it('creates a conversation with the seed defaults and the system prompt as its first message', async () => {
      const conversation = await create('Shopping', 'You are a careful shopping assistant.');
      expect(conversation.settings).toEqual({
        model: 'gpt-4.1-mini',
        temperature: 0.7,
        maxTokens: 2000,
        topP: 1,
        frequencyPenalty: 0,
        presencePenalty: 0,
        reasoningEffort: null,
      });
      expect(conversation.messages.edges.map((edge) => edge.node.role)).toEqual(['SYSTEM']);
      const [system] = conversation.messages.edges;
      expect(conversation.tokenCount).toBe((system?.node.tokenCount ?? 0) + 3);
    });

    it('takes settings and a model from the input', async () => {
      const { createConversation } = await server.data(CreateConversation, {
        input: { title: 'Tuned', model: 'gpt-4o', settings: { temperature: 0, maxTokens: 50, topP: 0.5 } },
      });
      expect(createConversation.settings).toMatchObject({
        model: 'gpt-4o',
        temperature: 0,
        maxTokens: 50,
        topP: 0.5,
      });
    });

    it('appends messages in order, counts their tokens and moves updatedAt', async () => {
      const conversation = await create('Order');
      const first = await server.data(AddMessage, {
        input: { conversationId: conversation.id, role: 'USER', content: 'Hello', name: 'alice' },
      });
      const second = await server.data(AddMessage, {
        input: { conversationId: conversation.id, role: 'ASSISTANT', content: 'Hi Alice, how can I help?' },
      });
      expect([first.addMessage.seq, second.addMessage.seq]).toEqual([1, 2]);
      expect(first.addMessage.tokenCount).toBeGreaterThan(3);
      const { conversation: read } = await server.data(ConversationMessages, { id: conversation.id });
      expect(read.messages.edges.map((edge) => [edge.node.role, edge.node.content, edge.node.name])).toEqual([
        ['USER', 'Hello', 'alice'],
        ['ASSISTANT', 'Hi Alice, how can I help?', null],
      ]);
      expect(read.tokenCount).toBe(first.addMessage.tokenCount + second.addMessage.tokenCount + 3);
      expect(Date.parse(read.updatedAt)).toBeGreaterThan(Date.parse(conversation.updatedAt));
    });

    it('pages messages forward and backward with cursors', async () => {
      const conversation = await create('Paging');
      for (let index = 1; index <= 7; index++) {
        await server.data(AddMessage, {
          input: { conversationId: conversation.id, role: 'USER', content: `m${index}` },
        });
      }
      const page1 = (await server.data(ConversationMessages, { id: conversation.id, first: 3 })).conversation
        .messages;
      expect(page1.edges.map((edge) => edge.node.content)).toEqual(['m1', 'm2', 'm3']);
      expect(page1.pageInfo.hasNextPage).toBe(true);
      const page2 = (
        await server.data(ConversationMessages, {
          id: conversation.id,
          first: 3,
          after: page1.pageInfo.endCursor,
        })
      ).conversation.messages;
      expect(page2.edges.map((edge) => edge.node.content)).toEqual(['m4', 'm5', 'm6']);
      const last = (await server.data(ConversationMessages, { id: conversation.id, last: 2 })).conversation
        .messages;
      expect(last.edges.map((edge) => edge.node.content)).toEqual(['m6', 'm7']);
      expect(last.pageInfo.hasPreviousPage).toBe(true);
    });

    it('lists conversations newest first, page by page', async () => {
      const titles = ['list-a', 'list-b', 'list-c'];
      for (const title of titles) await create(title);
      const seen: string[] = [];
      let after: string | null = null;
      for (;;) {
        const { conversations }: ListConversationsQuery = await server.data(ListConversations, {
          first: 2,
          after,
        });
        seen.push(...conversations.edges.map((edge) => edge.node.title ?? ''));
        if (!conversations.pageInfo.hasNextPage) break;
        after = conversations.pageInfo.endCursor ?? null;
      }
      expect(seen.filter((title) => title.startsWith('list-'))).toEqual(['list-c', 'list-b', 'list-a']);
      expect(new Set(seen).size).toBe(seen.length);
    });

    it('deletes a conversation with its messages', async () => {
      const conversation = await create('Doomed', 'bye');
      await server.data(AddMessage, {
        input: { conversationId: conversation.id, role: 'USER', content: 'hi' },
      });
      const storedMessages = () =>
        server.app.services.database.db
          .select()
          .from(messages)
          .where(eq(messages.conversationId, decodeGlobalID(conversation.id).id));
      expect(await storedMessages()).toHaveLength(2);
      const { deleteConversation } = await server.data(DeleteConversation, { id: conversation.id });
      expect(deleteConversation).toBe(conversation.id);
      const after = await server.request(ConversationMessages, { id: conversation.id });
      expect(after.errors?.[0]?.extensions?.code).toBe('NOT_FOUND');
      expect(await storedMessages()).toEqual([]);
    });
  });
}
