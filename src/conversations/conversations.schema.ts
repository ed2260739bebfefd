import { resolveCursorConnection } from '@pothos/plugin-relay';
import { AppError, badInput, ErrorCode } from '../errors.js';
import { builder, ownerId } from '../schema/builder.js';
import { decodeId } from '../schema/ids.js';
import { resolveNewestFirst } from '../schema/newest-first.js';
import type { ConversationRow, MessageRow } from '../storage/schema.js';
import { ReasoningEffortEnum } from '../tokens/models.schema.js';

export const RoleEnum = builder.enumType('Role', {
  values: {
    SYSTEM: { value: 'system' },
    USER: { value: 'user' },
    ASSISTANT: { value: 'assistant' },
    TOOL: { value: 'tool' },
  } as const,
});

export const MessageStatusEnum = builder.enumType('MessageStatus', {
  values: {
    COMPLETE: { value: 'complete' },
    PARTIAL: {
      value: 'partial',
      description: 'A reply cut short (cancelled or failed mid-stream): what arrived.',
    },
    FAILED: { value: 'failed' },
  } as const,
});

export const ContextStrategyEnum = builder.enumType('ContextStrategy', {
  description: 'How a context too long for the budget is trimmed.',
  values: {
    DROP_OLDEST: {
      value: 'drop_oldest',
      description: 'Marks the oldest messages out of context (tool calls with their results).',
    },
    SUMMARIZE: {
      value: 'summarize',
      description: 'Replaces the oldest messages with one SYSTEM summary written by the model.',
    },
  } as const,
});

export const ToolCallRef = builder.objectRef<{ id: string; functionName: string; arguments: string }>(
  'ToolCall',
);
ToolCallRef.implement({
  fields: (t) => ({
    id: t.exposeString('id'),
    functionName: t.exposeString('functionName'),
    arguments: t.exposeString('arguments', {
      description: 'The arguments exactly as the model wrote them (JSON text).',
    }),
  }),
});

export const MessageRef = builder.node(builder.objectRef<MessageRow>('Message'), {
  id: { resolve: (message) => message.id },
  loadOne: async (id, context) => {
    const message = await context.loaders.messageById.load(id);
    if (!message) return null;
    return (await context.loaders.conversationById.load(message.conversationId)) ? message : null;
  },
  fields: (t) => ({
    seq: t.exposeInt('seq', { description: 'Position in the conversation, starting at 1.' }),
    role: t.expose('role', { type: RoleEnum }),
    content: t.exposeString('content', { nullable: true }),
    name: t.exposeString('name', { nullable: true }),
    toolCalls: t.field({ type: [ToolCallRef], nullable: true, resolve: (message) => message.toolCalls }),
    toolCallId: t.exposeString('toolCallId', { nullable: true }),
    tokenCount: t.exposeInt('tokenCount', {
      description: 'Tokens this message adds to a request, counted once when written.',
    }),
    status: t.expose('status', { type: MessageStatusEnum }),
    inContext: t.exposeBoolean('inContext', {
      description: 'False once trimmed: still stored, no longer sent upstream.',
    }),
    summaryOfSeq: t.exposeInt('summaryOfSeq', {
      nullable: true,
      description:
        'Set on a summary written by SUMMARIZE: the seq of the first message it replaces. In the context the ' +
        'summary sits there, before the messages that were kept; in `messages` it is listed by its own seq.',
    }),
    createdAt: t.expose('createdAt', { type: 'DateTime' }),
  }),
});

const ConversationSettingsRef = builder.objectRef<ConversationRow>('ConversationSettings').implement({
  fields: (t) => ({
    model: t.exposeString('model'),
    temperature: t.exposeFloat('temperature'),
    maxTokens: t.exposeInt('maxTokens'),
    topP: t.exposeFloat('topP'),
    frequencyPenalty: t.exposeFloat('frequencyPenalty'),
    presencePenalty: t.exposeFloat('presencePenalty'),
    reasoningEffort: t.expose('reasoningEffort', {
      type: ReasoningEffortEnum,
      nullable: true,
      description: "Reasoning models: the effort sent; null leaves it to the model's default.",
    }),
  }),
});

export const ConversationRef = builder.node(builder.objectRef<ConversationRow>('Conversation'), {
  id: { resolve: (conversation) => conversation.id },
  loadOne: (id, context) => context.loaders.conversationById.load(id),
  fields: (t) => ({
    title: t.exposeString('title', { nullable: true }),
    model: t.exposeString('model'),
    settings: t.field({ type: ConversationSettingsRef, resolve: (conversation) => conversation }),
    systemPrompt: t.exposeString('systemPrompt', { nullable: true }),
    contextStrategy: t.expose('contextStrategy', {
      type: ContextStrategyEnum,
      description: 'How the context is fitted to the model window before each completion.',
    }),
    messages: t.connection({
      type: MessageRef,
      description: 'Every stored message in order, trimmed ones included (see Message.inContext).',
      resolve: (conversation, args, context) =>
        resolveCursorConnection<Promise<MessageRow[]>>(
          { args, toCursor: (message) => String(message.seq), defaultSize: 50, maxSize: 200 },
          ({ before, after, limit, inverted }) =>
            context.loaders.messagePage.load({
              conversationId: conversation.id,
              afterSeq: after === undefined ? null : parseSeqCursor(after, 'after'),
              beforeSeq: before === undefined ? null : parseSeqCursor(before, 'before'),
              limit,
              inverted,
            }),
        ),
    }),
    tokenCount: t.int({
      description: 'Tokens of the context as it would be sent now (in-context messages plus reply priming).',
      resolve: (conversation, _args, context) => context.services.conversations.tokenCount(conversation.id),
    }),
    createdAt: t.expose('createdAt', { type: 'DateTime' }),
    updatedAt: t.expose('updatedAt', { type: 'DateTime' }),
  }),
});

function parseSeqCursor(cursor: string, field: string): number {
  if (!/^\d{1,9}$/.test(cursor)) throw badInput(field, `not a message cursor: ${JSON.stringify(cursor)}`);
  return Number(cursor);
}

const ConversationSettingsInput = builder.inputType('ConversationSettingsInput', {
  fields: (t) => ({
    temperature: t.float(),
    maxTokens: t.int(),
    topP: t.float(),
    frequencyPenalty: t.float(),
    presencePenalty: t.float(),
    reasoningEffort: t.field({ type: ReasoningEffortEnum }),
  }),
});

builder.queryFields((t) => ({
  conversation: t.field({
    type: ConversationRef,
    args: { id: t.arg.id({ required: true }) },
    resolve: async (_root, args, context) => {
      const id = decodeId(args.id, 'Conversation');
      const row = await context.loaders.conversationById.load(id);
      if (!row) throw new AppError(ErrorCode.NOT_FOUND, `Conversation ${args.id} not found`);
      return row;
    },
  }),
  conversations: t.connection({
    type: ConversationRef,
    description: 'Your conversations, newest first.',
    resolve: (_root, args, context) =>
      resolveNewestFirst(args, (after, limit) =>
        context.services.conversations.list(ownerId(context), after, limit),
      ),
  }),
}));

builder.mutationFields((t) => ({
  createConversation: t.fieldWithInput({
    type: ConversationRef,
    input: {
      title: t.input.string(),
      model: t.input.string({
        description:
          'Defaults to OPENAI_MODEL. A model of the table (or a dated snapshot of one) or one the upstream offers.',
      }),
      systemPrompt: t.input.string({ description: 'Stored as the first message (role SYSTEM).' }),
      settings: t.input.field({ type: ConversationSettingsInput }),
      contextStrategy: t.input.field({
        type: ContextStrategyEnum,
        description: 'Defaults to DROP_OLDEST.',
      }),
    },
    resolve: (_root, { input }, context) =>
      context.services.conversations.create(ownerId(context), {
        title: input.title,
        systemPrompt: input.systemPrompt,
        settings: { ...input.settings, model: input.model },
        contextStrategy: input.contextStrategy,
      }),
  }),
  deleteConversation: t.field({
    type: 'ID',
    description: 'Deletes the conversation with its messages and completions; returns its ID.',
    args: { id: t.arg.id({ required: true }) },
    resolve: async (_root, args, context) => {
      await context.services.conversations.delete(ownerId(context), decodeId(args.id, 'Conversation'));
      return args.id;
    },
  }),
  addMessage: t.fieldWithInput({
    type: MessageRef,
    description:
      'Appends a message to the conversation without asking the model for a reply (sendMessage does both).',
    input: {
      conversationId: t.input.id({ required: true }),
      role: t.input.field({ type: RoleEnum, required: true }),
      content: t.input.string({ required: true }),
      name: t.input.string(),
    },
    resolve: (_root, { input }, context) =>
      context.services.conversations.addMessage(ownerId(context), {
        ...input,
        conversationId: decodeId(input.conversationId, 'Conversation', 'input.conversationId'),
      }),
  }),
}));
