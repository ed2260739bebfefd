import type { GraphiQLOptions } from 'graphql-yoga';

/** What GraphiQL opens on: a walkthrough whose operations run in order, as they stand. */
const OPERATIONS = `# 1. Create a conversation; put its id in the Variables tab below.
mutation CreateConversation {
  createConversation(input: { title: "Walkthrough", systemPrompt: "You are a careful shopping assistant." }) {
    id
    settings { model temperature maxTokens }
  }
}

# 2. Send a message: the whole reply, with its usage and cost.
mutation SendMessage($conversationId: ID!) {
  sendMessage(input: { conversationId: $conversationId, content: "What is a good budget for groceries?" }) {
    status
    message { content }
    usage { promptTokens completionTokens costUsd }
    latencyMs
  }
}

# 3. Stream a reply as it is written: one event per chunk.
subscription Chat($conversationId: ID!) {
  chat(input: { conversationId: $conversationId, content: "Tell me more" }) {
    seq
    ... on ContentDelta { text }
    ... on CompletionDone { finishReason usage { totalTokens } }
    ... on CompletionFailed { error { code message } }
  }
}

# 4. A tool call: the model checks this purchase with validate_transaction.
mutation ProcessTransaction {
  processTransaction(input: { amount: 100, merchant: "Amazon", category: "shopping" }) {
    status
    violations
    completion { message { content } functionExecutions { functionName arguments result status } }
  }
}
`;

const INTRO = `# agent-platform: run these in turn with ▶ (it asks which one).
`;

const KEY_HELP = `# This server needs an API key: open the Headers tab below and enter
#   { "Authorization": "Bearer <your key>" }
`;

export function walkthrough(keyRequired: boolean): string {
  return `${INTRO}${keyRequired ? KEY_HELP : ''}\n${OPERATIONS}`;
}

/**
 * GraphiQL opens on the walkthrough, with the Variables tab ready for the conversation id (Yoga's GraphiQL passes
 * `variables` on as the initial variables; its options type does not list it). With API keys, subscriptions go
 * over SSE: the key typed in the Headers tab travels with HTTP requests, while GraphiQL's WebSocket would connect
 * without it.
 */
export function graphiqlOptions(keyRequired: boolean): GraphiQLOptions {
  const options: GraphiQLOptions & { variables: string } = {
    title: 'agent-platform',
    subscriptionsProtocol: keyRequired ? 'SSE' : 'WS',
    defaultQuery: walkthrough(keyRequired),
    variables: '{ "conversationId": "paste the id from CreateConversation here" }',
    // GraphiQL opens SSE streams with GET; the header tells the CSRF check it is no plain cross-site link.
    additionalHeaders: { 'x-graphql-yoga-csrf': 'graphiql' },
  };
  return options;
}
