import { encodeGlobalID } from '@pothos/plugin-relay';
import { ConversationRef, MessageRef } from '../conversations/conversations.schema.js';
import type { CompletionWithReply } from '../conversations/turns.js';
import { AppError, ErrorCode } from '../errors.js';
import { FunctionExecutionRef } from '../functions/functions.schema.js';
import { apiKeyIdOf, builder, type Context, ownerId } from '../schema/builder.js';
import { decodeId } from '../schema/ids.js';
import type { CompletionRow } from '../storage/schema.js';
import { CompletionAttemptRef, CompletionErrorRef } from './attempts.schema.js';
import type { CompletionEvent } from './events.js';
import { type SendMessageArgs, SendMessageInput, sendRequest } from './send-input.schema.js';
import type { StartOptions } from './service.js';
import { completionUsage, UsageRef } from './usage.schema.js';

const CompletionStatusEnum = builder.enumType('CompletionStatus', {
  values: {
    RUNNING: { value: 'running' },
    AWAITING_APPROVAL: {
      value: 'awaiting_approval',
      description: 'Paused until its tool calls are approved or denied (see toolApprovals).',
    },
    COMPLETED: { value: 'completed' },
    FAILED: { value: 'failed' },
    CANCELLED: { value: 'cancelled' },
  } as const,
});

export const CompletionRef = builder.node(builder.objectRef<CompletionRow>('Completion'), {
  id: { resolve: (completion) => completion.id },
  loadOne: (id, context) => context.loaders.completionById.load(id),
  fields: (t) => ({
    conversation: t.field({
      type: ConversationRef,
      resolve: async (completion, _args, context) => {
        const conversation = await context.loaders.conversationById.load(completion.conversationId);
        if (!conversation) throw new AppError(ErrorCode.NOT_FOUND, 'Conversation not found');
        return conversation;
      },
    }),
    status: t.expose('status', { type: CompletionStatusEnum }),
    model: t.exposeString('model', {
      description: 'The model that answered; while running, or when every model failed, the last one asked.',
    }),
    attempts: t.expose('attempts', {
      type: [CompletionAttemptRef],
      description:
        'Each model asked, in order, with its error: more than one when a fallback model was asked.',
    }),
    message: t.field({
      type: MessageRef,
      nullable: true,
      description:
        'The stored assistant reply (PARTIAL when cut short); null while running or when nothing arrived.',
      resolve: (completion: CompletionWithReply, _args, context) =>
        completion.reply ??
        (completion.messageId ? context.loaders.messageById.load(completion.messageId) : null),
    }),
    usage: t.field({ type: UsageRef, resolve: completionUsage }),
    finishReason: t.exposeString('finishReason', { nullable: true }),
    parsed: t.field({
      type: 'JSON',
      nullable: true,
      description:
        'With responseFormat JSON_OBJECT or JSON_SCHEMA: the reply parsed and validated (null otherwise, and for ' +
        'a refusal). A reply that does not validate fails the completion with INVALID_STRUCTURED_OUTPUT.',
      resolve: (completion) => completion.parsed ?? null,
    }),
    refusal: t.string({
      nullable: true,
      description:
        "The model's refusal (OpenAI's message.refusal) when it declined to answer, instead of content.",
      resolve: async (completion, _args, context) =>
        completion.messageId
          ? ((await context.loaders.messageById.load(completion.messageId))?.refusal ?? null)
          : null,
    }),
    cached: t.exposeBoolean('cached', {
      description: 'Answered by the response cache without an upstream request (usage is then zero).',
    }),
    latencyMs: t.exposeInt('latencyMs', { nullable: true }),
    timeToFirstTokenMs: t.exposeInt('timeToFirstTokenMs', { nullable: true }),
    error: t.expose('error', { type: CompletionErrorRef, nullable: true }),
    createdAt: t.expose('createdAt', { type: 'DateTime' }),
    finishedAt: t.expose('finishedAt', { type: 'DateTime', nullable: true }),
    functionExecutions: t.loadableGroup({
      type: FunctionExecutionRef,
      description: 'The functions the model called in this completion, in the order they started.',
      load: (completionIds: string[], context) =>
        context.services.functions.executions(ownerId(context), { completionIds }),
      group: (execution) => execution.completionId ?? '',
      resolve: (completion) => completion.id,
    }),
  }),
});

export const CompletionEventRef = builder.interfaceRef<CompletionEvent>('CompletionEvent').implement({
  description: 'One step of a streamed completion; seq starts at 1 and has no gaps.',
  resolveType: (event) => EVENT_TYPENAMES[event.kind],
  fields: (t) => ({
    seq: t.exposeInt('seq'),
    completionId: t.id({ resolve: (event) => encodeGlobalID('Completion', event.completionId) }),
  }),
});

const EVENT_TYPENAMES = {
  content: 'ContentDelta',
  toolCall: 'ToolCallDelta',
  functionExecuted: 'FunctionExecuted',
  approvalRequested: 'ToolApprovalRequested',
  done: 'CompletionDone',
  failed: 'CompletionFailed',
} as const satisfies Record<CompletionEvent['kind'], string>;

export type EventOf<K extends CompletionEvent['kind']> = Extract<CompletionEvent, { kind: K }>;

builder.objectRef<EventOf<'content'>>('ContentDelta').implement({
  interfaces: [CompletionEventRef],
  isTypeOf: (event) => (event as CompletionEvent).kind === 'content',
  fields: (t) => ({ text: t.exposeString('text') }),
});

builder.objectRef<EventOf<'toolCall'>>('ToolCallDelta').implement({
  interfaces: [CompletionEventRef],
  isTypeOf: (event) => (event as CompletionEvent).kind === 'toolCall',
  fields: (t) => ({
    index: t.exposeInt('index'),
    toolCallId: t.exposeString('toolCallId', { nullable: true }),
    functionName: t.exposeString('functionName', { nullable: true }),
    argumentsDelta: t.exposeString('argumentsDelta'),
  }),
});

builder.objectRef<EventOf<'functionExecuted'>>('FunctionExecuted').implement({
  interfaces: [CompletionEventRef],
  isTypeOf: (event) => (event as CompletionEvent).kind === 'functionExecuted',
  fields: (t) => ({ execution: t.expose('execution', { type: FunctionExecutionRef }) }),
});

builder.objectRef<EventOf<'done'>>('CompletionDone').implement({
  interfaces: [CompletionEventRef],
  isTypeOf: (event) => (event as CompletionEvent).kind === 'done',
  fields: (t) => ({
    finishReason: t.exposeString('finishReason'),
    completion: t.field({
      type: CompletionRef,
      resolve: (event, _args, context) => loadCompletion(context, event.completionId),
    }),
    usage: t.field({
      type: UsageRef,
      resolve: async (event, _args, context) =>
        completionUsage(await loadCompletion(context, event.completionId)),
    }),
  }),
});

builder.objectRef<EventOf<'failed'>>('CompletionFailed').implement({
  interfaces: [CompletionEventRef],
  isTypeOf: (event) => (event as CompletionEvent).kind === 'failed',
  fields: (t) => ({
    error: t.expose('error', { type: CompletionErrorRef }),
    completion: t.field({
      type: CompletionRef,
      resolve: (event, _args, context) => loadCompletion(context, event.completionId),
    }),
  }),
});

async function loadCompletion(context: Context, id: string): Promise<CompletionRow> {
  const completion = await context.loaders.completionById.load(id);
  if (!completion) throw new AppError(ErrorCode.NOT_FOUND, `Completion ${id} not found`);
  return completion;
}

function startCompletion(context: Context, args: SendMessageArgs, options: Omit<StartOptions, keyof Caller>) {
  return context.services.completions.start(ownerId(context), sendRequest(args), {
    ...options,
    ...callerOf(context),
  });
}

type Caller = Pick<StartOptions, 'logger' | 'apiKeyId' | 'trace'>;

/**
 * Who a completion runs for, besides its owner: the request's logger, the API key it came with, and the
 * operation's trace context, which the run carries on.
 */
function callerOf(context: Context): Caller {
  return {
    logger: context.logger,
    apiKeyId: apiKeyIdOf(context),
    trace: context.services.tracing.operationContext(context),
  };
}

builder.queryFields((t) => ({
  completion: t.field({
    type: CompletionRef,
    args: { id: t.arg.id({ required: true }) },
    resolve: (_root, args, context) =>
      context.services.completions.owned(ownerId(context), decodeId(args.id, 'Completion')),
  }),
}));

builder.mutationFields((t) => ({
  sendMessage: t.field({
    type: CompletionRef,
    description:
      'Stores the user message, runs the completion to its end (or until a tool call waits for approval: status ' +
      'AWAITING_APPROVAL) and returns it. A failed run is an error with the upstream code; the completion and the ' +
      'user message stay stored.',
    args: { input: t.arg({ type: SendMessageInput, required: true }) },
    resolve: (_root, args, context) =>
      context.services.completions.complete(ownerId(context), sendRequest(args), callerOf(context)),
  }),
  startCompletion: t.field({
    type: CompletionRef,
    description: 'Like sendMessage but returns at once (status RUNNING); follow it with completionEvents.',
    args: { input: t.arg({ type: SendMessageInput, required: true }) },
    resolve: (_root, args, context) =>
      startCompletion(context, args, { stream: true, cancelWhenUnwatched: false }),
  }),
  cancelCompletion: t.field({
    type: CompletionRef,
    description: 'Aborts the upstream request; what arrived is kept as a PARTIAL message. Status CANCELLED.',
    args: { id: t.arg.id({ required: true }) },
    resolve: (_root, args, context) =>
      context.services.completions.cancel(ownerId(context), decodeId(args.id, 'Completion')),
  }),
}));

builder.subscriptionFields((t) => ({
  chat: t.field({
    type: CompletionEventRef,
    description: 'Starts a completion and streams it. Leaving before the end cancels it.',
    args: { input: t.arg({ type: SendMessageInput, required: true }) },
    subscribe: async function* (_root, args, context) {
      const completion = await startCompletion(context, args, { stream: true, cancelWhenUnwatched: true });
      yield* context.services.completions.watch(completion, 0, context.signal);
    },
    resolve: (event: CompletionEvent) => event,
  }),
  completionEvents: t.field({
    type: CompletionEventRef,
    description:
      'Replays the events after afterSeq, then follows live: a late or reconnecting client misses nothing.',
    args: { completionId: t.arg.id({ required: true }), afterSeq: t.arg.int({ defaultValue: 0 }) },
    subscribe: (_root, args, context) =>
      context.services.completions.events(
        ownerId(context),
        decodeId(args.completionId, 'Completion', 'completionId'),
        args.afterSeq ?? 0,
        context.signal,
      ),
    resolve: (event: CompletionEvent) => event,
  }),
}));
