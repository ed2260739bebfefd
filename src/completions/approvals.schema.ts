import { ToolCallRef } from '../conversations/conversations.schema.js';
import { builder, ownerId } from '../schema/builder.js';
import { decodeId } from '../schema/ids.js';
import type { ToolApprovalRow } from '../storage/tool-approvals.js';
import { CompletionEventRef, CompletionRef, type EventOf } from './completions.schema.js';

const ToolApprovalStatusEnum = builder.enumType('ToolApprovalStatus', {
  values: {
    PENDING: { value: 'pending', description: 'Waiting for approveToolCall or denyToolCall.' },
    APPROVED: { value: 'approved', description: 'Approved: the call ran (or runs now).' },
    DENIED: { value: 'denied', description: 'Denied: the model was told so, and why.' },
    EXPIRED: { value: 'expired', description: 'Nobody decided within TOOL_APPROVAL_TIMEOUT_MS: denied.' },
  } as const,
});

const ToolApprovalRef = builder.objectRef<ToolApprovalRow>('ToolApproval').implement({
  description: 'A tool call that waits, or waited, for a human decision before running.',
  fields: (t) => ({
    toolCallId: t.exposeString('toolCallId'),
    functionName: t.exposeString('functionName'),
    arguments: t.expose('arguments', {
      type: 'JSON',
      description: 'As the function would receive them: validated, defaults added.',
    }),
    status: t.expose('status', { type: ToolApprovalStatusEnum }),
    reason: t.exposeString('reason', { nullable: true, description: 'Why it was denied or expired.' }),
    expiresAt: t.expose('expiresAt', { type: 'DateTime' }),
    decidedAt: t.expose('decidedAt', { type: 'DateTime', nullable: true }),
  }),
});

builder.objectRef<EventOf<'approvalRequested'>>('ToolApprovalRequested').implement({
  interfaces: [CompletionEventRef],
  description:
    'A tool call waits for approveToolCall or denyToolCall; the completion is AWAITING_APPROVAL until every ' +
    'call is decided.',
  isTypeOf: (event) => (event as EventOf<'approvalRequested'>).kind === 'approvalRequested',
  fields: (t) => ({
    toolCall: t.field({ type: ToolCallRef, resolve: (event) => event.toolCall }),
    arguments: t.expose('arguments', {
      type: 'JSON',
      description: 'As the function would receive them: validated, defaults added.',
    }),
    expiresAt: t.field({ type: 'DateTime', resolve: (event) => new Date(event.expiresAt) }),
  }),
});

builder.objectField(CompletionRef, 'toolApprovals', (t) =>
  t.loadableGroup({
    type: ToolApprovalRef,
    description: 'The tool calls that waited or wait for approval, in the order they were asked for.',
    load: (completionIds: string[], context) => context.services.approvals.forCompletions(completionIds),
    group: (approval) => approval.completionId,
    resolve: (completion) => completion.id,
  }),
);

const decision = (input: { completionId: string | number; toolCallId: string; reason?: string | null }) => ({
  ...input,
  completionId: decodeId(input.completionId, 'Completion', 'input.completionId'),
});

builder.mutationFields((t) => ({
  approveToolCall: t.fieldWithInput({
    type: CompletionRef,
    description:
      'Approves a waiting tool call: once every call of the completion is decided, the run goes on (on this ' +
      'instance) and the call runs, once. TOOL_CALL_NOT_PENDING when it was already decided or expired.',
    input: {
      completionId: t.input.id({ required: true }),
      toolCallId: t.input.string({ required: true }),
    },
    resolve: (_root, { input }, context) =>
      context.services.approvals.approve(ownerId(context), decision(input), context.logger),
  }),
  denyToolCall: t.fieldWithInput({
    type: CompletionRef,
    description:
      'Denies a waiting tool call: it does not run, and the model gets a result saying it was denied and why. ' +
      'TOOL_CALL_NOT_PENDING when it was already decided or expired.',
    input: {
      completionId: t.input.id({ required: true }),
      toolCallId: t.input.string({ required: true }),
      reason: t.input.string({ description: 'Told to the model (at most 1000 characters).' }),
    },
    resolve: (_root, { input }, context) =>
      context.services.approvals.deny(ownerId(context), decision(input), context.logger),
  }),
}));
