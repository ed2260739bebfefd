import { graphql } from '../gql/index.js';

export const SendMessage = graphql(`
  mutation SendMessage($input: SendMessageInput!) {
    sendMessage(input: $input) {
      id
      status
      model
      message { id role content status }
      usage { promptTokens completionTokens totalTokens costUsd }
      latencyMs
      timeToFirstTokenMs
    }
  }
`);

export const StartCompletion = graphql(`
  mutation StartCompletion($input: SendMessageInput!) {
    startCompletion(input: $input) { id status }
  }
`);

export const CancelCompletion = graphql(`
  mutation CancelCompletion($id: ID!) {
    cancelCompletion(id: $id) { id status message { content status } error { code } }
  }
`);

export const CompletionById = graphql(`
  query CompletionById($id: ID!) {
    completion(id: $id) {
      id
      status
      message { content status }
      usage { promptTokens completionTokens totalTokens costUsd }
      error { code message retryAfter }
    }
  }
`);

export const Chat = graphql(`
  subscription Chat($input: SendMessageInput!) {
    chat(input: $input) {
      __typename
      seq
      completionId
      ... on ContentDelta { text }
      ... on CompletionDone { finishReason usage { promptTokens completionTokens } completion { id status message { content } } }
      ... on CompletionFailed { error { code message retryAfter } completion { id status message { content status } } }
    }
  }
`);

export const CompletionEvents = graphql(`
  subscription CompletionEvents($completionId: ID!, $afterSeq: Int) {
    completionEvents(completionId: $completionId, afterSeq: $afterSeq) {
      __typename
      seq
      completionId
      ... on ContentDelta { text }
      ... on CompletionDone { finishReason completion { id status message { content } } }
      ... on CompletionFailed { error { code message } completion { id status message { content status } } }
    }
  }
`);

export const Messages = graphql(`
  query Messages($id: ID!) {
    conversation(id: $id) {
      messages(last: 200) { edges { node { role content status } } }
    }
  }
`);

export const SendStructured = graphql(`
  mutation SendStructured($input: SendMessageInput!) {
    sendMessage(input: $input) { id status parsed refusal message { content refusal status } }
  }
`);

export const ChatStructured = graphql(`
  subscription ChatStructured($input: SendMessageInput!) {
    chat(input: $input) {
      __typename
      ... on ContentDelta { text }
      ... on CompletionDone { completion { id status parsed refusal message { content refusal } } }
      ... on CompletionFailed { error { code message } completion { id status parsed message { content status } } }
    }
  }
`);

export const StructuredCompletion = graphql(`
  query StructuredCompletion($id: ID!) {
    completion(id: $id) { id status parsed refusal error { code message } message { content refusal status } }
  }
`);

export const SendForApproval = graphql(`
  mutation SendForApproval($input: SendMessageInput!) {
    sendMessage(input: $input) {
      id
      status
      message { content }
      functionExecutions { id }
      toolApprovals { toolCallId functionName arguments status reason expiresAt decidedAt }
    }
  }
`);

export const ApproveToolCall = graphql(`
  mutation ApproveToolCall($input: ApproveToolCallInput!) {
    approveToolCall(input: $input) { id status }
  }
`);

export const DenyToolCall = graphql(`
  mutation DenyToolCall($input: DenyToolCallInput!) {
    denyToolCall(input: $input) { id status }
  }
`);

export const ApprovalOutcome = graphql(`
  query ApprovalOutcome($id: ID!) {
    completion(id: $id) {
      status
      message { content }
      error { code message }
      functionExecutions { functionName status toolCallId }
      toolApprovals { toolCallId status reason decidedAt }
    }
  }
`);

export const ApprovalEvents = graphql(`
  subscription ApprovalEvents($completionId: ID!, $afterSeq: Int) {
    completionEvents(completionId: $completionId, afterSeq: $afterSeq) {
      __typename
      seq
      ... on ToolApprovalRequested { toolCall { id functionName arguments } arguments expiresAt }
      ... on FunctionExecuted { execution { functionName status toolCallId } }
      ... on ContentDelta { text }
      ... on CompletionDone { completion { status message { content } } }
      ... on CompletionFailed { error { code message } }
    }
  }
`);
