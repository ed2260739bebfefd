import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { graphql } from '../gql/index.js';
import { startTestServer, type TestServer } from '../support/server.js';

const CreateConversation = graphql(`
  mutation CreateConversation($input: CreateConversationInput!) {
    createConversation(input: $input) {
      id
      title
      systemPrompt
      settings { model temperature maxTokens topP frequencyPenalty presencePenalty }
      tokenCount
      messages { edges { node { role content tokenCount } } }
    }
  }
`);

const AddMessage = graphql(`
  mutation AddMessage($input: AddMessageInput!) {
    addMessage(input: $input) { id seq role content name tokenCount status }
  }
`);

const ConversationMessages = graphql(`
  query ConversationMessages($id: ID!, $first: Int, $after: String, $last: Int, $before: String) {
    conversation(id: $id) {
      id
      updatedAt
      tokenCount
      messages(first: $first, after: $after, last: $last, before: $before) {
        edges { cursor node { seq role content } }
        pageInfo { hasNextPage hasPreviousPage endCursor startCursor }
      }
    }
  }
`);

let server: TestServer;
beforeAll(async () => {
  server = await startTestServer();
});
afterAll(() => server.close());

describe('conversations', () => {
  it('creates a conversation with the seed defaults and the system prompt as its first message', async () => {
    const { createConversation } = await server.data(CreateConversation, {
      input: { title: 'Shopping', systemPrompt: 'You are a careful shopping assistant.' },
    });
    expect(createConversation.settings).toEqual({
      model: 'gpt-4',
      temperature: 0.7,
      maxTokens: 2000,
      topP: 1,
      frequencyPenalty: 0,
      presencePenalty: 0,
    });
    expect(createConversation.messages.edges.map((edge) => edge.node.role)).toEqual(['SYSTEM']);
    const [system] = createConversation.messages.edges;
    expect(createConversation.tokenCount).toBe((system?.node.tokenCount ?? 0) + 3);
  });
});
