import { graphql } from '../../test/gql/index.js';

export const SoakRegisterFunction = graphql(`
  mutation SoakRegisterFunction($input: RegisterFunctionInput!) {
    registerFunction(input: $input) {
      name
    }
  }
`);

export const SoakChat = graphql(`
  subscription SoakChat($input: SendMessageInput!) {
    chat(input: $input) {
      __typename
      seq
      completionId
    }
  }
`);

export const SoakCompletionEvents = graphql(`
  subscription SoakCompletionEvents($completionId: ID!, $afterSeq: Int) {
    completionEvents(completionId: $completionId, afterSeq: $afterSeq) {
      __typename
      seq
      completionId
    }
  }
`);

export const SoakUsage = graphql(`
  query SoakUsage {
    usage {
      completions
      total {
        promptTokens
        completionTokens
        costUsd
      }
    }
  }
`);
