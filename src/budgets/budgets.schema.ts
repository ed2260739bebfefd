import { ApiKeyRef, PrincipalRef } from '../auth/auth.schema.js';
import { builder } from '../schema/builder.js';
import type { BudgetStatus } from './service.js';

const BudgetPeriodEnum = builder.enumType('BudgetPeriod', {
  description: 'A budget period, in UTC: it resets at midnight UTC, or on the first of the month.',
  values: { DAY: { value: 'day' }, MONTH: { value: 'month' } } as const,
});

const BudgetRef = builder.objectRef<BudgetStatus>('Budget').implement({
  description:
    "A limit on model spending: a principal's over all its keys, or one API key's. A request that its estimated " +
    'cost (prompt plus maxTokens at the model prices) would take past a limit fails with BUDGET_EXCEEDED.',
  fields: (t) => ({
    id: t.exposeID('id'),
    principal: t.field({
      type: PrincipalRef,
      resolve: async (budget, _args, context) =>
        (await context.services.principals.find({ id: budget.principalId })) ?? {
          id: budget.principalId,
          name: '',
          scopes: [],
        },
    }),
    apiKey: t.field({
      type: ApiKeyRef,
      nullable: true,
      description: 'Set for the budget of one key; null for the principal-wide budget.',
      resolve: async (budget, _args, context) =>
        budget.apiKeyId ? ((await context.services.principals.listKeys(budget.apiKeyId))[0] ?? null) : null,
    }),
    period: t.expose('period', { type: BudgetPeriodEnum }),
    limitUsd: t.exposeFloat('limitUsd', { nullable: true }),
    limitTokens: t.exposeInt('limitTokens', {
      nullable: true,
      description: 'Prompt plus completion tokens.',
    }),
    spentUsd: t.exposeFloat('spentUsd', {
      description: 'This period: what requests cost, plus the reservations of requests still running.',
    }),
    spentTokens: t.exposeFloat('spentTokens', {
      description: 'Like spentUsd, in tokens (a Float: a month of tokens can pass the 32-bit Int).',
    }),
    remainingUsd: t.exposeFloat('remainingUsd', { nullable: true, description: 'Null without a USD limit.' }),
    remainingTokens: t.exposeInt('remainingTokens', {
      nullable: true,
      description: 'Null without a token limit.',
    }),
    resetsAt: t.expose('resetsAt', { type: 'DateTime', description: 'When this period ends.' }),
    updatedAt: t.expose('updatedAt', { type: 'DateTime' }),
  }),
});

builder.queryFields((t) => ({
  budgets: t.field({
    type: [BudgetRef],
    description:
      "Budgets with what is left of them: the caller's own and its keys' (an admin's: everyone's). Naming a " +
      'principal is for admins.',
    args: { principalName: t.arg.string() },
    authScopes: (_root, args) => (args.principalName ? { admin: true } : { authenticated: true }),
    resolve: (_root, args, context) =>
      context.services.budgets.list(
        context.principal as NonNullable<typeof context.principal>,
        args.principalName,
      ),
  }),
}));

builder.mutationFields((t) => ({
  setBudget: t.fieldWithInput({
    type: BudgetRef,
    authScopes: { admin: true },
    description:
      "Sets a principal's (or one of its keys') daily or monthly budget, replacing that budget's limits; what " +
      'the period has spent so far stays counted. Admin only.',
    input: {
      principalName: t.input.string({ required: true }),
      apiKeyId: t.input.id({
        description: "One of the principal's keys (see apiKeys); unset: all its keys.",
      }),
      period: t.input.field({ type: BudgetPeriodEnum, required: true }),
      limitUsd: t.input.float(),
      limitTokens: t.input.int({ description: 'Prompt plus completion tokens.' }),
    },
    resolve: (_root, { input }, context) =>
      context.services.budgets.set({
        ...input,
        apiKeyId: input.apiKeyId == null ? null : String(input.apiKeyId),
      }),
  }),
  removeBudget: t.fieldWithInput({
    type: BudgetRef,
    authScopes: { admin: true },
    description: 'Deletes a budget: its requests are no longer limited by it. Admin only.',
    input: { id: t.input.id({ required: true }) },
    resolve: (_root, { input }, context) => context.services.budgets.remove(String(input.id)),
  }),
}));
