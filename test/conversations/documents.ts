import { graphql } from '../gql/index.js';

export const CreateConversation = graphql(`
  mutation CreateConversation($input: CreateConversationInput!) {
    createConversation(input: $input) {
      id
      title
      model
      systemPrompt
      settings { model temperature maxTokens topP frequencyPenalty presencePenalty reasoningEffort }
      tokenCount
      createdAt
      updatedAt
      messages { edges { node { role content tokenCount } } }
    }
  }
`);

export const AddMessage = graphql(`
  mutation AddMessage($input: AddMessageInput!) {
    addMessage(input: $input) { id seq role content name tokenCount status }
  }
`);

export const DeleteConversation = graphql(`
  mutation DeleteConversation($id: ID!) {
    deleteConversation(id: $id)
  }
`);

export const ConversationMessages = graphql(`
  query ConversationMessages($id: ID!, $first: Int, $after: String, $last: Int, $before: String) {
    conversation(id: $id) {
      id
      title
      updatedAt
      tokenCount
      messages(first: $first, after: $after, last: $last, before: $before) {
        edges { cursor node { seq role content name } }
        pageInfo { hasNextPage hasPreviousPage endCursor startCursor }
      }
    }
  }
`);

export const ListConversations = graphql(`
  query ListConversations($first: Int, $after: String) {
    conversations(first: $first, after: $after) {
      edges { cursor node { id title } }
      pageInfo { hasNextPage endCursor }
    }
  }
`);
