import { graphql } from '../gql/index.js';

export const CachedSendMessage = graphql(`
  mutation CachedSendMessage($input: SendMessageInput!) {
    sendMessage(input: $input) {
      id
      cached
      message { content }
      usage { promptTokens completionTokens }
    }
  }
`);

export const CachedChat = graphql(`
  subscription CachedChat($input: SendMessageInput!) {
    chat(input: $input) {
      __typename
      ... on ContentDelta { text }
      ... on CompletionDone { completion { cached message { content } } }
      ... on CompletionFailed { error { code } }
    }
  }
`);

export const UserMessages = graphql(`
  query UserMessages($id: ID!) {
    conversation(id: $id) {
      messages(first: 500) { edges { node { role content } } }
    }
  }
`);

export const AnyConversation = graphql(`
  query AnyConversation {
    conversations(first: 1) { edges { node { id } } }
  }
`);
