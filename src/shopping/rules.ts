import { z } from 'zod';
import type { SpendingRuleRow } from '../storage/shopping.js';
import type { NewSpendingRule } from './store.js';

const money = z.number().positive('must be positive').max(1e11).multipleOf(0.01, 'at most 2 decimals');
const currency = z
  .string()
  .regex(/^[A-Za-z]{3}$/, 'an ISO 4217 code such as USD')
  .transform((code) => code.toUpperCase())
  .default('USD');
/** Categories are identifiers: compared and stored lowercased. */
const category = z
  .string()
  .trim()
  .min(1, 'must not be empty')
  .max(64)
  .transform((name) => name.toLowerCase());
const merchant = z.string().trim().min(1, 'must not be empty').max(200);

export const transactionInputSchema = z.object({
  amount: money,
  merchant,
  category: category.default('general'),
  currency,
});
export type TransactionInput = z.output<typeof transactionInputSchema>;

const enabled = z.boolean().default(true);
const amountRule = <K extends string>(kind: K) =>
  z.strictObject({
    kind: z.literal(kind),
    amount: money,
    currency,
    category: category.optional(),
    enabled,
  });

/** One shape per rule kind; a field another kind uses is refused, so a rule never carries ignored settings. */
export const spendingRuleInputSchema = z.discriminatedUnion('kind', [
  amountRule('per_transaction_limit'),
  amountRule('daily_budget'),
  amountRule('monthly_budget'),
  amountRule('approval_above'),
  z.strictObject({ kind: z.literal('blocked_merchant'), merchant, enabled }),
  z.strictObject({ kind: z.literal('blocked_category'), category, enabled }),
  z.strictObject({
    kind: z.literal('velocity'),
    maxTransactions: z.number().int().min(1).max(10_000),
    windowMinutes: z
      .number()
      .int()
      .min(1)
      .max(31 * 24 * 60),
    enabled,
  }),
]);
export type SpendingRuleInput = z.output<typeof spendingRuleInputSchema>;

/** The stored row of a rule input; `scope` names what the rule is about, so upserting it again replaces it. */
export function toRuleRow(input: SpendingRuleInput): NewSpendingRule {
  const row: NewSpendingRule = {
    kind: input.kind,
    scope: '*',
    category: null,
    merchant: null,
    amount: null,
    currency: null,
    maxTransactions: null,
    windowMinutes: null,
    enabled: input.enabled,
  };
  switch (input.kind) {
    case 'blocked_merchant':
      return { ...row, merchant: input.merchant, scope: input.merchant.toLowerCase() };
    case 'blocked_category':
      return { ...row, category: input.category, scope: input.category };
    case 'velocity':
      return { ...row, maxTransactions: input.maxTransactions, windowMinutes: input.windowMinutes };
    default:
      return {
        ...row,
        amount: input.amount,
        currency: input.currency,
        category: input.category ?? null,
        scope: `${input.currency}:${input.category ?? '*'}`,
      };
  }
}

export interface Decision {
  approved: boolean;
  violations: string[];
  /** What is left of the tightest budget that applies, after this transaction if approved; null without one. */
  remainingBudget: number | null;
}

/** The figures a decision needs from history, read by the caller for the rules that apply. */
export interface History {
  /** Approved spending per budget rule id in its period. */
  spent: Map<string, number>;
  /** Approved transactions per velocity rule id in its window. */
  recent: Map<string, number>;
}

/** Applies the owner's enabled rules to a transaction; every broken rule is one violation, in words. */
export function decide(rules: SpendingRuleRow[], transaction: TransactionInput, history: History): Decision {
  const violations: string[] = [];
  const budgets: { limit: number; spent: number }[] = [];
  const price = formatMoney(transaction.amount, transaction.currency);
  for (const rule of rules) {
    const limit = rule.amount ?? 0;
    const where = rule.category ? ` for ${rule.category}` : '';
    switch (rule.kind) {
      case 'per_transaction_limit':
        if (appliesTo(rule, transaction) && transaction.amount > limit)
          violations.push(
            `${price} exceeds the per-transaction limit${where} of ${formatMoney(limit, rule.currency)}`,
          );
        break;
      case 'daily_budget':
      case 'monthly_budget': {
        if (!appliesTo(rule, transaction)) break;
        const spent = history.spent.get(rule.id) ?? 0;
        budgets.push({ limit, spent });
        if (spent + transaction.amount > limit) {
          const period = rule.kind === 'daily_budget' ? 'daily' : 'monthly';
          violations.push(
            `${price} would exceed the ${period} budget${where} of ${formatMoney(limit, rule.currency)} ` +
              `(${formatMoney(spent, rule.currency)} spent)`,
          );
        }
        break;
      }
      case 'blocked_merchant':
        if (rule.merchant?.toLowerCase() === transaction.merchant.toLowerCase())
          violations.push(`merchant ${rule.merchant} is blocked`);
        break;
      case 'blocked_category':
        if (rule.category === transaction.category) violations.push(`category ${rule.category} is blocked`);
        break;
      case 'velocity': {
        const recent = history.recent.get(rule.id) ?? 0;
        if (recent >= (rule.maxTransactions ?? 0))
          violations.push(
            `${recent} transactions in the last ${rule.windowMinutes} minutes: at most ${rule.maxTransactions} allowed`,
          );
        break;
      }
    }
  }
  const approved = violations.length === 0;
  const remaining = budgets.map(({ limit, spent }) => limit - spent - (approved ? transaction.amount : 0));
  return {
    approved,
    violations,
    remainingBudget: remaining.length > 0 ? roundCents(Math.min(...remaining)) : null,
  };
}

export function appliesTo(rule: SpendingRuleRow, transaction: TransactionInput): boolean {
  return (
    rule.currency === transaction.currency &&
    (rule.category === null || rule.category === transaction.category)
  );
}

/** Budgets run over UTC calendar days and months. */
export function periodStart(kind: 'daily_budget' | 'monthly_budget', now: Date): Date {
  const start = new Date(Date.UTC(now.getUTCFullYear(), now.getUTCMonth(), now.getUTCDate()));
  if (kind === 'monthly_budget') start.setUTCDate(1);
  return start;
}

export const formatMoney = (amount: number, currency: string | null) =>
  `${amount.toFixed(2)} ${currency ?? ''}`.trim();

const roundCents = (amount: number) => Math.round(amount * 100) / 100;
