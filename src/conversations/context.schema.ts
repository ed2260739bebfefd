import { z } from 'zod';
import { builder, ownerId } from '../schema/builder.js';
import { decodeId } from '../schema/ids.js';
import type { ConversationRow, MessageRow } from '../storage/schema.js';
import { parseInput } from '../validation.js';
import type { TrimResult } from './context.js';
import { ContextStrategyEnum, ConversationRef, MessageRef } from './conversations.schema.js';

/** trimContext's maxTokens when the client gives none. */
const DEFAULT_TRIM_MAX_TOKENS = 4000;

const TrimContextPayload = builder.objectRef<TrimResult>('TrimContextPayload').implement({
  fields: (t) => ({
    conversation: t.field({ type: ConversationRef, resolve: (result) => result.conversation }),
    removedCount: t.int({ resolve: (result) => result.removedIds.length }),
    removedMessages: t.field({
      type: [MessageRef],
      description: 'The messages marked out of context, oldest first; still readable, no longer sent.',
      resolve: async (result, _args, context) =>
        (await context.loaders.messageById.loadMany(result.removedIds)).filter(
          (message): message is MessageRow => message !== null && !(message instanceof Error),
        ),
    }),
    summary: t.field({
      type: MessageRef,
      nullable: true,
      description: 'SUMMARIZE: the SYSTEM note that now stands for the removed messages.',
      resolve: (result) => result.summary,
    }),
    tokenCount: t.exposeInt('tokenCount', { description: 'Conversation.tokenCount after the trim.' }),
  }),
});

const ClearMessagesBeforePayload = builder
  .objectRef<{ conversation: ConversationRow; deletedCount: number }>('ClearMessagesBeforePayload')
  .implement({
    fields: (t) => ({
      conversation: t.field({ type: ConversationRef, resolve: (result) => result.conversation }),
      deletedCount: t.exposeInt('deletedCount'),
    }),
  });

const maxTokensSchema = z.number().int().min(1, 'must be at least 1');

builder.mutationFields((t) => ({
  trimContext: t.fieldWithInput({
    type: TrimContextPayload,
    description:
      'Fits the context into maxTokens, by dropping the oldest messages or summarising them. Trimmed messages are marked out of ' +
      'context, never deleted; system messages and the newest user message always stay. CONTEXT_TOO_LONG when ' +
      'those alone exceed maxTokens.',
    input: {
      conversationId: t.input.id({ required: true }),
      maxTokens: t.input.int({ description: `Defaults to ${DEFAULT_TRIM_MAX_TOKENS}.` }),
      strategy: t.input.field({
        type: ContextStrategyEnum,
        description: "Defaults to the conversation's contextStrategy.",
      }),
    },
    resolve: (_root, { input }, context) =>
      context.services.context.trimContext(
        ownerId(context),
        decodeId(input.conversationId, 'Conversation', 'input.conversationId'),
        parseInput(maxTokensSchema, input.maxTokens ?? DEFAULT_TRIM_MAX_TOKENS, 'input.maxTokens'),
        input.strategy ?? null,
        {
          signal: context.signal,
          logger: context.logger,
          trace: context.services.tracing.operationContext(context),
        },
      ),
  }),
  clearMessagesBefore: t.fieldWithInput({
    type: ClearMessagesBeforePayload,
    description:
      'Deletes the messages written before `before` for good (trimContext only hides them), except system ' +
      'messages; a tool call and its results are deleted together or not at all.',
    input: {
      conversationId: t.input.id({ required: true }),
      before: t.input.field({ type: 'DateTime', required: true }),
    },
    resolve: async (_root, { input }, context) => {
      const conversationId = decodeId(input.conversationId, 'Conversation', 'input.conversationId');
      const deletedCount = await context.services.context.clearMessagesBefore(
        ownerId(context),
        conversationId,
        input.before,
      );
      return {
        conversation: await context.services.conversations.get(ownerId(context), conversationId),
        deletedCount,
      };
    },
  }),
}));
