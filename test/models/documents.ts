import { graphql } from '../gql/index.js';

export const CreateModelConversation = graphql(`
  mutation CreateModelConversation($input: CreateConversationInput!) {
    createConversation(input: $input) {
      id
      model
      settings { model temperature reasoningEffort }
    }
  }
`);

export const SendModelMessage = graphql(`
  mutation SendModelMessage($input: SendMessageInput!) {
    sendMessage(input: $input) {
      id
      status
      model
      message { content }
      usage { promptTokens completionTokens reasoningTokens costUsd }
    }
  }
`);

export const ConversationReasoningUsage = graphql(`
  query ConversationReasoningUsage($id: ID!) {
    conversation(id: $id) { usage { completionTokens reasoningTokens } }
  }
`);

export const Models = graphql(`
  query Models {
    models { id reasoning reasoningEfforts inputUsdPerMillion cachedInputUsdPerMillion outputUsdPerMillion }
  }
`);
