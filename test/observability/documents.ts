import { graphql } from '../gql/index.js';

export const UsageReport = graphql(`
  query UsageReport($since: DateTime, $until: DateTime, $principalId: ID) {
    usage(since: $since, until: $until, principalId: $principalId) {
      principalId
      completions
      total { promptTokens completionTokens totalTokens costUsd }
      byModel { model completions usage { promptTokens completionTokens totalTokens costUsd } }
      byFunction { functionName calls successes failures avgDurationMs }
    }
  }
`);

export const ConversationUsage = graphql(`
  query ConversationUsage($id: ID!) {
    conversation(id: $id) {
      usage { promptTokens completionTokens totalTokens costUsd }
    }
  }
`);

export const Viewer = graphql(`
  query ObservabilityViewer {
    viewer { id }
  }
`);

export const MeteredSend = graphql(`
  mutation MeteredSend($input: SendMessageInput!) {
    sendMessage(input: $input) { id status message { content } usage { promptTokens completionTokens totalTokens costUsd estimated } }
  }
`);

export const MeteredChat = graphql(`
  subscription MeteredChat($input: SendMessageInput!) {
    chat(input: $input) {
      __typename
      completionId
      ... on ContentDelta { text }
      ... on CompletionDone { usage { estimated } completion { id status usage { promptTokens completionTokens totalTokens costUsd estimated } } }
      ... on CompletionFailed { error { code } completion { id status message { content status } usage { promptTokens completionTokens totalTokens costUsd estimated } } }
    }
  }
`);

export const MeteredCompletion = graphql(`
  query MeteredCompletion($id: ID!) {
    completion(id: $id) { id status message { content status } usage { promptTokens completionTokens totalTokens costUsd estimated } }
  }
`);

export const MeteredTotals = graphql(`
  query MeteredTotals($id: ID!) {
    conversation(id: $id) { usage { promptTokens completionTokens totalTokens costUsd estimated } }
    usage { completions total { promptTokens completionTokens totalTokens costUsd estimated } }
  }
`);

export const TracedToolChat = graphql(`
  subscription TracedToolChat($input: SendMessageInput!) {
    chat(input: $input) {
      __typename
      ... on ToolCallDelta { toolCallId }
      ... on CompletionDone { completion { id } usage { promptTokens completionTokens } }
    }
  }
`);
