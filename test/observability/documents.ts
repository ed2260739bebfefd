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

export const TracedChat = graphql(`
  subscription TracedChat($input: SendMessageInput!) {
    chat(input: $input) {
      __typename
      completionId
      ... on FunctionExecuted { execution { functionName status toolCallId } }
      ... on CompletionDone { finishReason }
    }
  }
`);

export const TracedRegisterFunction = graphql(`
  mutation TracedRegisterFunction($input: RegisterFunctionInput!) {
    registerFunction(input: $input) { name }
  }
`);

export const TracedExecuteFunction = graphql(`
  mutation TracedExecuteFunction($input: ExecuteFunctionInput!) {
    executeFunction(input: $input) { status }
  }
`);

export const TracedConversation = graphql(`
  mutation TracedConversation($input: CreateConversationInput!) {
    createConversation(input: $input) { id }
  }
`);

export const TracedAddMessage = graphql(`
  mutation TracedAddMessage($input: AddMessageInput!) {
    addMessage(input: $input) { id }
  }
`);

export const TracedTrim = graphql(`
  mutation TracedTrim($input: TrimContextInput!) {
    trimContext(input: $input) { removedCount tokenCount }
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
