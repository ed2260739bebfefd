import type { Principal } from '../auth/index.js';
import { UsageRef } from '../completions/usage.schema.js';
import { ConversationRef } from '../conversations/conversations.schema.js';
import { builder } from '../schema/builder.js';
import type { UsageTotals } from '../storage/usage.js';
import type { FunctionUsage, UsageReport } from './usage.js';

const ModelUsageRef = builder.objectRef<UsageTotals & { model: string }>('ModelUsage').implement({
  fields: (t) => ({
    model: t.exposeString('model'),
    completions: t.exposeInt('completions'),
    usage: t.field({ type: UsageRef, resolve: (row) => row }),
  }),
});

const FunctionUsageRef = builder.objectRef<FunctionUsage>('FunctionUsage').implement({
  fields: (t) => ({
    functionName: t.exposeString('functionName'),
    calls: t.exposeInt('calls'),
    successes: t.exposeInt('successes'),
    failures: t.exposeInt('failures'),
    avgDurationMs: t.exposeFloat('avgDurationMs'),
  }),
});

const UsageReportRef = builder.objectRef<UsageReport>('UsageReport').implement({
  description: 'Completions (by creation time) and function executions in [since, until).',
  fields: (t) => ({
    since: t.expose('since', { type: 'DateTime', nullable: true }),
    until: t.expose('until', { type: 'DateTime', nullable: true }),
    principalId: t.exposeID('principalId', {
      nullable: true,
      description: 'Whose usage; null when an admin reads every principal.',
    }),
    completions: t.int({ resolve: (report) => report.total.completions }),
    total: t.field({ type: UsageRef, resolve: (report) => report.total }),
    byModel: t.field({ type: [ModelUsageRef], resolve: (report) => report.byModel }),
    byFunction: t.field({ type: [FunctionUsageRef], resolve: (report) => report.byFunction }),
  }),
});

builder.objectField(ConversationRef, 'usage', (t) =>
  t.field({
    type: UsageRef,
    description: 'Tokens and cost summed over every completion of the conversation.',
    resolve: (conversation, _args, context) => context.loaders.conversationUsage.load(conversation.id),
  }),
);

builder.queryFields((t) => ({
  usage: t.field({
    type: UsageReportRef,
    description:
      'Tokens, cost and function executions from `since` (inclusive) to `until` (exclusive), both optional. ' +
      'Admins see every principal, or one with `principalId`; others see their own.',
    args: {
      since: t.arg({ type: 'DateTime' }),
      until: t.arg({ type: 'DateTime' }),
      principalId: t.arg.id(),
    },
    resolve: (_root, args, context) =>
      context.services.usage.report(context.principal as Principal, {
        since: args.since,
        until: args.until,
        principalId: args.principalId == null ? null : String(args.principalId),
      }),
  }),
}));
