import { graphql } from './gql/index.js';

// Typed documents: `npm run codegen` turns each `graphql(...)` below into a typed document in ./gql.

export const CreateConversation = graphql(`
  mutation CreateConversation($input: CreateConversationInput!) {
    createConversation(input: $input) {
      id
    }
  }
`);

export const StartCompletion = graphql(`
  mutation StartCompletion($input: SendMessageInput!) {
    startCompletion(input: $input) {
      id
      status
    }
  }
`);

export const CompletionEvents = graphql(`
  subscription CompletionEvents($completionId: ID!, $afterSeq: Int) {
    completionEvents(completionId: $completionId, afterSeq: $afterSeq) {
      seq
      __typename
      ... on ContentDelta {
        text
      }
      ... on FunctionExecuted {
        execution {
          functionName
          status
          result
          error
        }
      }
      ... on CompletionDone {
        finishReason
        usage {
          totalTokens
          costUsd
        }
      }
      ... on CompletionFailed {
        error {
          code
          message
        }
      }
    }
  }
`);
