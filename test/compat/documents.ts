import { graphql } from '../gql/index.js';

export const CompatSend = graphql(`
  mutation CompatSend($input: SendMessageInput!) {
    sendMessage(input: $input) {
      id
      status
      message { content status }
      usage { promptTokens completionTokens costUsd estimated }
      functionExecutions { functionName arguments status }
    }
  }
`);

export const CompatCompletion = graphql(`
  query CompatCompletion($id: ID!) {
    completion(id: $id) {
      status
      message { content status }
      usage { promptTokens completionTokens costUsd estimated }
      error { code }
    }
  }
`);
