import { CompletionRef } from '../completions/completions.schema.js';
import { apiKeyIdOf, builder, type Context, ownerId } from '../schema/builder.js';
import { resolveNewestFirst } from '../schema/newest-first.js';
import type { SpendingRuleRow, TransactionRow } from '../storage/shopping.js';
import type { RiskSignal } from './risk.js';
import type { RiskAnalysis } from './service.js';

const TransactionStatusEnum = builder.enumType('TransactionStatus', {
  values: {
    APPROVED: { value: 'approved' },
    DECLINED: { value: 'declined' },
    PENDING_APPROVAL: {
      value: 'pending_approval',
      description:
        "Above an APPROVAL_ABOVE rule: the model's validate_transaction call waits for approveToolCall / " +
        'denyToolCall on its completion; the transaction is then decided (or DECLINED when denied or expired).',
    },
  } as const,
});

const SpendingRuleKindEnum = builder.enumType('SpendingRuleKind', {
  values: {
    PER_TRANSACTION_LIMIT: {
      value: 'per_transaction_limit',
      description: 'amount, currency, optional category',
    },
    DAILY_BUDGET: { value: 'daily_budget', description: 'amount per UTC day, currency, optional category' },
    MONTHLY_BUDGET: {
      value: 'monthly_budget',
      description: 'amount per UTC month, currency, optional category',
    },
    BLOCKED_MERCHANT: { value: 'blocked_merchant', description: 'merchant (case-insensitive)' },
    BLOCKED_CATEGORY: { value: 'blocked_category', description: 'category' },
    VELOCITY: {
      value: 'velocity',
      description: 'at most maxTransactions approved transactions in windowMinutes',
    },
    APPROVAL_ABOVE: {
      value: 'approval_above',
      description:
        'amount, currency, optional category: processTransaction above amount waits for a human (PENDING_APPROVAL)',
    },
  } as const,
});

const RiskLevelEnum = builder.enumType('RiskLevel', {
  values: { LOW: { value: 'low' }, MEDIUM: { value: 'medium' }, HIGH: { value: 'high' } } as const,
});

const RiskSignalKindEnum = builder.enumType('RiskSignalKind', {
  values: {
    UNUSUAL_AMOUNT: { value: 'unusual_amount' },
    HIGH_RISK_MERCHANT: { value: 'high_risk_merchant' },
    VELOCITY: { value: 'velocity' },
  } as const,
});

const TransactionRef = builder.node(builder.objectRef<TransactionRow>('Transaction'), {
  id: { resolve: (transaction) => transaction.id },
  loadMany: (ids, context) => byIds(ids, context.services.shopping.transactionsById(ownerId(context), ids)),
  fields: (t) => ({
    amount: t.exposeFloat('amount'),
    currency: t.exposeString('currency'),
    merchant: t.exposeString('merchant'),
    category: t.exposeString('category'),
    status: t.expose('status', { type: TransactionStatusEnum }),
    approved: t.boolean({ resolve: (transaction) => transaction.status === 'approved' }),
    violations: t.exposeStringList('violations', { description: 'Each broken rule, in words.' }),
    remainingBudget: t.exposeFloat('remainingBudget', {
      nullable: true,
      description: 'What is left of the tightest budget that applies (after this purchase if approved).',
    }),
    completion: t.field({
      type: CompletionRef,
      nullable: true,
      description: 'The completion in which the model called validate_transaction.',
      resolve: (transaction, _args, context) =>
        transaction.completionId ? context.loaders.completionById.load(transaction.completionId) : null,
    }),
    createdAt: t.expose('createdAt', { type: 'DateTime' }),
  }),
});

const SpendingRuleRef = builder.node(builder.objectRef<SpendingRuleRow>('SpendingRule'), {
  id: { resolve: (rule) => rule.id },
  loadMany: (ids, context) => byIds(ids, context.services.shopping.rules(ownerId(context), ids)),
  fields: (t) => ({
    kind: t.expose('kind', { type: SpendingRuleKindEnum }),
    category: t.exposeString('category', { nullable: true }),
    merchant: t.exposeString('merchant', { nullable: true }),
    amount: t.exposeFloat('amount', { nullable: true }),
    currency: t.exposeString('currency', { nullable: true }),
    maxTransactions: t.exposeInt('maxTransactions', { nullable: true }),
    windowMinutes: t.exposeInt('windowMinutes', { nullable: true }),
    enabled: t.exposeBoolean('enabled'),
    createdAt: t.expose('createdAt', { type: 'DateTime' }),
    updatedAt: t.expose('updatedAt', { type: 'DateTime' }),
  }),
});

const RiskSignalRef = builder.objectRef<RiskSignal>('RiskSignal').implement({
  fields: (t) => ({
    kind: t.expose('kind', { type: RiskSignalKindEnum }),
    triggered: t.exposeBoolean('triggered'),
    weight: t.exposeInt('weight', { description: 'Points added to the score when triggered.' }),
    detail: t.exposeString('detail'),
  }),
});

const RiskAnalysisRef = builder.objectRef<RiskAnalysis>('RiskAnalysis').implement({
  fields: (t) => ({
    score: t.exposeInt('score', { description: '0 to 100: the weights of the triggered signals.' }),
    level: t.expose('level', { type: RiskLevelEnum }),
    signals: t.field({ type: [RiskSignalRef], resolve: (analysis) => analysis.signals }),
    analysis: t.exposeString('analysis', { description: "The model's analysis of the signals." }),
    completion: t.field({ type: CompletionRef, resolve: (analysis) => analysis.completion }),
  }),
});

const transactionInput = (name: string) =>
  builder.inputType(name, {
    fields: (t) => ({
      amount: t.float({ required: true }),
      merchant: t.string({ required: true }),
      category: t.string({ description: 'Defaults to "general"; compared lowercased.' }),
      currency: t.string({ description: 'ISO 4217 code; defaults to USD.' }),
    }),
  });
const ProcessTransactionInput = transactionInput('ProcessTransactionInput');
const AnalyzeRiskInput = transactionInput('AnalyzeRiskInput');

builder.queryFields((t) => ({
  transactions: t.connection({
    type: TransactionRef,
    description: 'Your transactions, newest first.',
    resolve: (_root, args, context) =>
      resolveNewestFirst(args, (after, limit) =>
        context.services.shopping.transactions(ownerId(context), after, limit),
      ),
  }),
  spendingRules: t.field({
    type: [SpendingRuleRef],
    description: 'Your spending rules, by kind.',
    resolve: (_root, _args, context) => context.services.shopping.rules(ownerId(context)),
  }),
}));

builder.mutationFields((t) => ({
  upsertSpendingRule: t.fieldWithInput({
    type: SpendingRuleRef,
    description:
      'Creates or replaces the rule of this kind for the same category / merchant / currency. Each kind takes ' +
      'only its own fields (see SpendingRuleKind).',
    input: {
      kind: t.input.field({ type: SpendingRuleKindEnum, required: true }),
      amount: t.input.float(),
      currency: t.input.string({ description: 'Defaults to USD for amount rules.' }),
      category: t.input.string(),
      merchant: t.input.string(),
      maxTransactions: t.input.int(),
      windowMinutes: t.input.int(),
      enabled: t.input.boolean({
        description: 'Defaults to true; false keeps the rule but stops applying it.',
      }),
    },
    resolve: (_root, { input }, context) => context.services.shopping.upsertRule(ownerId(context), input),
  }),
  processTransaction: t.field({
    type: TransactionRef,
    description:
      'Asks the model to call validate_transaction on the purchase, runs the call, and stores the transaction ' +
      'with its decision (APPROVED or DECLINED with the violations).',
    args: { input: t.arg({ type: ProcessTransactionInput, required: true }) },
    resolve: (_root, args, context) =>
      context.services.shopping.processTransaction(ownerId(context), args.input, callerOf(context)),
  }),
  analyzeRisk: t.field({
    type: RiskAnalysisRef,
    description: 'Risk signals and score computed from your history, with the model analysis of them.',
    args: { input: t.arg({ type: AnalyzeRiskInput, required: true }) },
    resolve: (_root, args, context) =>
      context.services.shopping.analyzeRisk(ownerId(context), args.input, callerOf(context)),
  }),
}));

/** The request's API key (its budgets count too) and the operation's trace context. */
function callerOf(context: Context) {
  return { apiKeyId: apiKeyIdOf(context), trace: context.services.tracing.operationContext(context) };
}

/** Rows in the order of `ids`, null for the missing (another owner's rows are missing). */
async function byIds<T extends { id: string }>(ids: readonly string[], rows: Promise<T[]>) {
  const byId = new Map((await rows).map((row) => [row.id, row]));
  return ids.map((id) => byId.get(id) ?? null);
}
