import { decodeGlobalID } from '@pothos/plugin-relay';
import { eq } from 'drizzle-orm';
import type { NewMessage } from '../../src/conversations/store.js';
import { conversations as conversationsTable, type MessageRow } from '../../src/storage/schema.js';
import { graphql } from '../gql/index.js';
import type { TestServer } from '../support/server.js';

export const CreateContextConversation = graphql(`
  mutation CreateContextConversation($input: CreateConversationInput!) {
    createConversation(input: $input) { id model contextStrategy tokenCount }
  }
`);

export const TrimContext = graphql(`
  mutation TrimContext($input: TrimContextInput!) {
    trimContext(input: $input) {
      conversation { id tokenCount }
      removedCount
      removedMessages { id seq role inContext }
      summary { id seq role content inContext summaryOfSeq tokenCount }
      tokenCount
    }
  }
`);

export const ClearMessagesBefore = graphql(`
  mutation ClearMessagesBefore($input: ClearMessagesBeforeInput!) {
    clearMessagesBefore(input: $input) { conversation { id } deletedCount }
  }
`);

export const ContextMessages = graphql(`
  query ContextMessages($id: ID!) {
    conversation(id: $id) {
      id
      tokenCount
      contextStrategy
      messages(first: 200) {
        edges { node { id seq role content name toolCallId inContext summaryOfSeq tokenCount createdAt } }
      }
    }
  }
`);

export const ContextSendMessage = graphql(`
  mutation ContextSendMessage($input: SendMessageInput!) {
    sendMessage(input: $input) { id status usage { promptTokens } message { id content } }
  }
`);

/** Appends messages through the real store (tool calls and results cannot be added over GraphQL). */
export async function appendMessages(
  server: TestServer,
  conversationId: string,
  messages: NewMessage[],
): Promise<MessageRow[]> {
  const { database } = server.app.services;
  const conversations = server.app.services.conversations.store;
  const [conversation] = await database.db
    .select()
    .from(conversationsTable)
    .where(eq(conversationsTable.id, decodeGlobalID(conversationId).id));
  if (!conversation) throw new Error(`no conversation ${conversationId}`);
  const rows: MessageRow[] = [];
  for (const message of messages) rows.push(await conversations.append(conversation, message));
  return rows;
}

/** An assistant message calling `count` functions, followed by one result per call. */
export function toolCallPair(id: string, count: number, result = 'ok'): NewMessage[] {
  const calls = Array.from({ length: count }, (_, index) => ({
    id: `call_${id}_${index}`,
    functionName: `lookup_${index}`,
    arguments: JSON.stringify({ query: `item ${id}-${index}` }),
  }));
  return [
    { role: 'assistant', content: null, toolCalls: calls },
    ...calls.map(
      (call): NewMessage => ({
        role: 'tool',
        content: JSON.stringify({ result, for: call.id }),
        name: call.functionName,
        toolCallId: call.id,
      }),
    ),
  ];
}

/**
 * OpenAI's pairing rule, as the simulator enforces it: each tool message answers a call of the assistant
 * message right before its run of tool messages, and every call is answered.
 */
export function pairingProblems(context: readonly Pick<MessageRow, 'role' | 'toolCalls' | 'toolCallId'>[]) {
  const problems: string[] = [];
  let pending: Set<string> | null = null;
  for (const [index, message] of context.entries()) {
    if (message.role === 'tool') {
      if (!pending?.delete(message.toolCallId ?? '')) problems.push(`orphan tool message at ${index}`);
      continue;
    }
    if (pending?.size) problems.push(`unanswered tool calls before ${index}`);
    pending = message.toolCalls?.length ? new Set(message.toolCalls.map((call) => call.id)) : null;
  }
  if (pending?.size) problems.push('unanswered tool calls at the end');
  return problems;
}
