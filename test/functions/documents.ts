import { graphql } from '../gql/index.js';

export const CreateToolConversation = graphql(`
  mutation CreateToolConversation($input: CreateConversationInput!) {
    createConversation(input: $input) { id }
  }
`);

export const SendWithFunctions = graphql(`
  mutation SendWithFunctions($input: SendMessageInput!) {
    sendMessage(input: $input) {
      id
      status
      message { role content }
      functionExecutions { id functionName arguments result error status durationMs toolCallId }
      conversation {
        messages { edges { node { role content name toolCallId toolCalls { id functionName execution { status } } } } }
      }
    }
  }
`);

export const CompletionWithExecutions = graphql(`
  query CompletionWithExecutions($id: ID!) {
    completion(id: $id) {
      status
      error { code message }
      functionExecutions { functionName status error }
      conversation { messages { edges { node { role toolCallId toolCalls { id } } } } }
    }
  }
`);

export const ChatWithFunctions = graphql(`
  subscription ChatWithFunctions($input: SendMessageInput!) {
    chat(input: $input) {
      __typename
      seq
      ... on ToolCallDelta { index toolCallId functionName argumentsDelta }
      ... on FunctionExecuted { execution { functionName status result toolCallId } }
      ... on ContentDelta { text }
      ... on CompletionDone { finishReason }
    }
  }
`);

export const ExecuteFunction = graphql(`
  mutation ExecuteFunction($input: ExecuteFunctionInput!) {
    executeFunction(input: $input) { id functionName arguments result error status durationMs toolCallId }
  }
`);

export const RegisterFunction = graphql(`
  mutation RegisterFunction($input: RegisterFunctionInput!) {
    registerFunction(input: $input) { name description parameters enabled kind }
  }
`);

/** JSON written inline in the document, as people type it in GraphiQL, rather than passed as a variable. */
export const RegisterFunctionInline = graphql(`
  mutation RegisterFunctionInline($name: String!, $webhookUrl: String!) {
    registerFunction(input: {
      name: $name
      description: "Place an order for an item"
      parameters: { type: "object", properties: { item: { type: "string" }, quantity: { type: "integer", default: 1 } }, required: ["item"] }
      webhookUrl: $webhookUrl
    }) { name parameters }
  }
`);

export const ExecuteFunctionInline = graphql(`
  mutation ExecuteFunctionInline($name: String!) {
    executeFunction(input: { name: $name, arguments: { item: "book", tags: ["a", { nested: null }] } }) {
      status arguments result
    }
  }
`);

export const SetFunctionEnabled = graphql(`
  mutation SetFunctionEnabled($name: String!, $enabled: Boolean!) {
    setFunctionEnabled(name: $name, enabled: $enabled) { name enabled }
  }
`);

export const FunctionStatsQuery = graphql(`
  query FunctionStatsQuery($name: String!) {
    function(name: $name) {
      name
      stats { calls successes failures successRate avgDurationMs p95DurationMs }
    }
  }
`);

export const ListFunctions = graphql(`
  query ListFunctions {
    functions { name kind enabled stats { calls } }
  }
`);

export const RegisterApprovalFunction = graphql(`
  mutation RegisterApprovalFunction($input: RegisterFunctionInput!) {
    registerFunction(input: $input) { name requiresApproval }
  }
`);

export const SendToApprove = graphql(`
  mutation SendToApprove($input: SendMessageInput!) {
    sendMessage(input: $input) { id status functionExecutions { id } toolApprovals { functionName arguments } }
  }
`);
