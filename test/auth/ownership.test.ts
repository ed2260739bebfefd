import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { CompletionEvents, SendMessage } from '../completions/documents.js';
import {
  AddMessage,
  ConversationMessages,
  CreateConversation,
  DeleteConversation,
} from '../conversations/documents.js';
import { graphql } from '../gql/index.js';
import { wsClient } from '../support/clients.js';
import { startTestServer, type TestServer } from '../support/server.js';

const ALICE = 'sk-alice-0123456789';
const BOB = 'sk-bob-0123456789';

const Viewer = graphql(`
  query Viewer { viewer { name scopes } }
`);

const NodeTitle = graphql(`
  query NodeTitle($id: ID!) { node(id: $id) { id ... on Conversation { title } } }
`);

let server: TestServer;
let aliceConversation: string;
let aliceCompletion: string;

beforeAll(async () => {
  server = await startTestServer({ env: { API_KEYS: `alice:${ALICE}:admin,bob:${BOB}` } });
  const { createConversation } = await server.data(
    CreateConversation,
    { input: { title: 'Alice only' } },
    { apiKey: ALICE },
  );
  aliceConversation = createConversation.id;
  const { sendMessage } = await server.data(
    SendMessage,
    { input: { conversationId: aliceConversation, content: 'secret plans' } },
    { apiKey: ALICE },
  );
  aliceCompletion = sendMessage.id;
});
afterAll(() => server.close());

describe('authentication', () => {
  it('identifies the caller by the bearer key', async () => {
    expect((await server.data(Viewer, {}, { apiKey: BOB })).viewer).toEqual({ name: 'bob', scopes: [] });
  });

  it('refuses a request without a key when keys are configured', async () => {
    const response = await server.request(Viewer, {});
    expect(response.errors?.[0]?.extensions?.code).toBe('UNAUTHENTICATED');
  });

  it('refuses an unknown key', async () => {
    const response = await server.request(Viewer, {}, { apiKey: 'sk-nobody-000000000' });
    expect(response.errors?.[0]?.extensions?.code).toBe('UNAUTHENTICATED');
  });

  it('closes a WebSocket whose connectionParams carry an unknown key', async () => {
    const client = wsClient(server.wsUrl, 'sk-nobody-000000000');
    const subscription = client.subscribe(CompletionEvents, { completionId: aliceCompletion });
    await expect(subscription.completed).rejects.toMatchObject({ code: 4403 });
    await client.close();
  });
});

describe('ownership', () => {
  it('hides the conversation from another principal', async () => {
    const response = await server.request(ConversationMessages, { id: aliceConversation }, { apiKey: BOB });
    expect(response.errors?.[0]?.extensions?.code).toBe('NOT_FOUND');
    const node = await server.request(NodeTitle, { id: aliceConversation }, { apiKey: BOB });
    expect(node.data?.node ?? null).toBeNull();
  });

  it("refuses to add to, send to or delete another principal's conversation, and writes nothing", async () => {
    const add = await server.request(
      AddMessage,
      { input: { conversationId: aliceConversation, role: 'USER', content: 'intrusion' } },
      { apiKey: BOB },
    );
    const send = await server.request(
      SendMessage,
      { input: { conversationId: aliceConversation, content: 'intrusion' } },
      { apiKey: BOB },
    );
    const remove = await server.request(DeleteConversation, { id: aliceConversation }, { apiKey: BOB });
    expect([add, send, remove].map((response) => response.errors?.[0]?.extensions?.code)).toEqual([
      'NOT_FOUND',
      'NOT_FOUND',
      'NOT_FOUND',
    ]);
    const { conversation } = await server.data(
      ConversationMessages,
      { id: aliceConversation },
      { apiKey: ALICE },
    );
    expect(conversation.messages.edges.map((edge) => edge.node.content)).toEqual([
      'secret plans',
      'Simulated reply to: secret plans',
    ]);
  });

  it("refuses to stream another principal's completion", async () => {
    const client = wsClient(server.wsUrl, BOB);
    const subscription = client.subscribe(CompletionEvents, { completionId: aliceCompletion });
    await expect(subscription.completed).rejects.toThrow(/NOT_FOUND|not found/);
    await client.close();
  });
});
