import type { CompletionService, SendMessageInput } from '../completions/service.js';
import type { ConversationService } from '../conversations/service.js';
import { AppError, ErrorCode } from '../errors.js';
import type { FunctionService } from '../functions/index.js';
import type { Logger } from '../observability/logger.js';
import type { TraceContext } from '../observability/tracing.js';
import type { NewestFirstCursor } from '../storage/newest-first.js';
import type { CompletionRow } from '../storage/schema.js';
import type { SpendingRuleRow, TransactionRow } from '../storage/shopping.js';
import { parseInput, withoutNullish } from '../validation.js';
import { assessRisk, type RiskAssessment } from './risk.js';
import {
  appliesTo,
  type Decision,
  decide,
  formatMoney,
  type History,
  periodStart,
  spendingRuleInputSchema,
  type TransactionInput,
  toRuleRow,
  transactionInputSchema,
} from './rules.js';
import type { ShoppingStore } from './store.js';

export const VALIDATE_TRANSACTION = 'validate_transaction';
export const ASSESS_TRANSACTION_RISK = 'assess_transaction_risk';

const SHOPPING_ASSISTANT_PROMPT =
  "You are a shopping assistant. Validate every purchase with validate_transaction against the user's " +
  'spending rules before answering, and explain the decision briefly.';
const RISK_ANALYST_PROMPT =
  'You are a financial risk analyst. Review the transaction and the risk signals computed from the ' +
  "customer's history, explain the risk in two or three sentences, and end with a recommendation: approve, " +
  'review or decline.';

export interface RiskAnalysis extends RiskAssessment {
  /** The model's reading of the signals. */
  analysis: string;
  completion: CompletionRow;
}

/** Who asks, besides the owner: the request's API key and the operation's trace context. */
type Caller = { apiKeyId: string | null; trace: TraceContext };

/**
 * The worked example: spending rules and transactions per owner, the validate_transaction check, and
 * the two flows that ask the model (processTransaction, analyzeRisk).
 */
export class ShoppingService {
  constructor(
    private readonly deps: {
      store: ShoppingStore;
      conversations: ConversationService;
      completions: CompletionService;
      functions: FunctionService;
      highRiskMerchants: readonly string[];
      riskVelocity: { maxTransactions: number; windowMinutes: number };
      logger: Logger;
    },
  ) {}

  upsertRule(ownerId: string, input: Record<string, unknown>): Promise<SpendingRuleRow> {
    const rule = parseInput(spendingRuleInputSchema, withoutNullish(input));
    return this.deps.store.upsertRule(ownerId, toRuleRow(rule));
  }

  rules(ownerId: string, ids?: readonly string[]): Promise<SpendingRuleRow[]> {
    return this.deps.store.rules(ownerId, { ids });
  }

  transactions(ownerId: string, after: NewestFirstCursor | null, limit: number): Promise<TransactionRow[]> {
    return this.deps.store.transactionPage(ownerId, after, limit);
  }

  transactionsById(ownerId: string, ids: readonly string[]): Promise<TransactionRow[]> {
    return this.deps.store.transactionsById(ownerId, ids);
  }

  /**
   * validate_transaction: the owner's enabled rules applied to a transaction and their history. Called in a
   * processTransaction completion whose purchase waited for approval (now given), it also settles that purchase.
   */
  async validate(ownerId: string, args: unknown, completionId: string | null = null): Promise<Decision> {
    const transaction = parseInput(transactionInputSchema, args, 'arguments');
    if (!completionId) return this.check(this.deps.store, ownerId, transaction);
    return this.deps.store.locked(ownerId, async (store) => {
      const decision = await this.check(store, ownerId, transaction);
      const pending = await store.pendingTransaction(ownerId, completionId);
      if (pending) {
        await store.settleTransaction(
          pending.id,
          sameTransaction(args, pending)
            ? { ...decision, status: decision.approved ? 'approved' : 'declined' }
            : {
                status: 'declined',
                violations: ['the model validated another purchase'],
                remainingBudget: null,
              },
        );
      }
      return decision;
    });
  }

  /** A purchase that waited for approval was denied (or expired): DECLINED, saying why. */
  async declinePending(ownerId: string, completionId: string, reason: string): Promise<void> {
    const { store } = this.deps;
    const pending = await store.pendingTransaction(ownerId, completionId);
    if (!pending) return;
    await store.settleTransaction(pending.id, {
      status: 'declined',
      violations: [reason],
      remainingBudget: null,
    });
  }

  /** assess_transaction_risk: the risk signals of a transaction and their score. */
  assess(ownerId: string, args: unknown): Promise<RiskAssessment> {
    return this.risk(ownerId, parseInput(transactionInputSchema, args, 'arguments'));
  }

  private async risk(ownerId: string, transaction: TransactionInput): Promise<RiskAssessment> {
    const { store, riskVelocity, highRiskMerchants } = this.deps;
    const since = new Date(Date.now() - riskVelocity.windowMinutes * 60_000);
    return assessRisk(transaction, {
      history: await store.amountHistory(ownerId, transaction.currency),
      recent: await store.approvedCountSince(ownerId, since),
      highRiskMerchants,
      velocity: riskVelocity,
    });
  }

  /**
   * The flow: the model is made to call validate_transaction on the purchase, the call runs, and the
   * transaction is stored with the decision. The rule check is repeated under the owner's lock as the row is
   * written, so two concurrent purchases cannot both spend the last of a budget. Above an approval_above rule
   * the call waits for a human: the transaction is stored PENDING_APPROVAL and settled when the call is decided.
   */
  /** `caller`: the request's API key (its budgets count too) and trace context (the parent of the run's span). */
  async processTransaction(ownerId: string, input: unknown, caller: Caller): Promise<TransactionRow> {
    const transaction = parseInput(transactionInputSchema, input);
    const { amount, merchant, category, currency } = transaction;
    const threshold = await this.approvalThreshold(ownerId, transaction);
    const completion = await this.ask(ownerId, caller, {
      title: `Purchase: ${formatMoney(amount, currency)} at ${merchant}`,
      systemPrompt: SHOPPING_ASSISTANT_PROMPT,
      content:
        `Process a ${formatMoney(amount, currency)} purchase from ${merchant}. Amount: ${amount}, ` +
        `Merchant: ${JSON.stringify(merchant)}, Category: ${JSON.stringify(category)}, Currency: ${currency}`,
      functions: [VALIDATE_TRANSACTION],
      functionCall: { name: VALIDATE_TRANSACTION },
      requireApproval: threshold !== null,
    });
    if (completion.status === 'awaiting_approval') {
      return this.deps.store.insertTransaction({
        ownerId,
        ...transaction,
        status: 'pending_approval',
        violations: [
          `${formatMoney(amount, currency)} is above the approval threshold of ${formatMoney(threshold ?? 0, currency)}`,
        ],
        remainingBudget: null,
        completionId: completion.id,
      });
    }
    const executions = await this.deps.functions.executions(ownerId, { completionIds: [completion.id] });
    const validated = executions.some(
      (execution) =>
        execution.functionName === VALIDATE_TRANSACTION &&
        execution.status === 'succeeded' &&
        sameTransaction(execution.arguments, transaction),
    );
    if (!validated) {
      const errors = executions.map((execution) => execution.error).filter(Boolean);
      throw new AppError(
        ErrorCode.FUNCTION_FAILED,
        `The model did not validate this transaction${errors.length ? `: ${errors.join('; ')}` : ''}`,
      );
    }
    return this.deps.store.locked(ownerId, async (store) => {
      const decision = await this.check(store, ownerId, transaction);
      return store.insertTransaction({
        ownerId,
        ...transaction,
        status: decision.approved ? 'approved' : 'declined',
        violations: decision.violations,
        remainingBudget: decision.remainingBudget,
        completionId: completion.id,
      });
    });
  }

  /** Risk signals computed here, and the model's analysis of them (asked as a risk analyst). */
  async analyzeRisk(ownerId: string, input: unknown, caller: Caller): Promise<RiskAnalysis> {
    const transaction = parseInput(transactionInputSchema, input);
    const { amount, merchant, category, currency } = transaction;
    const assessment = await this.risk(ownerId, transaction);
    const signals = assessment.signals.map(
      (signal) => `- ${signal.kind}: ${signal.triggered ? 'TRIGGERED' : 'clear'} (${signal.detail})`,
    );
    const completion = await this.ask(ownerId, caller, {
      title: `Risk: ${formatMoney(amount, currency)} at ${merchant}`,
      systemPrompt: RISK_ANALYST_PROMPT,
      content: [
        `Analyze the risk of this transaction: ${formatMoney(amount, currency)} at ${merchant}, category ${category}.`,
        `Risk score: ${assessment.score}/100 (${assessment.level}).`,
        'Signals:',
        ...signals,
      ].join('\n'),
    });
    const message = completion.messageId ? await this.deps.conversations.message(completion.messageId) : null;
    return { ...assessment, analysis: message?.content ?? '', completion };
  }

  /** The lowest approval_above amount that this purchase exceeds; null when it needs no approval. */
  private async approvalThreshold(ownerId: string, transaction: TransactionInput): Promise<number | null> {
    const rules = await this.deps.store.rules(ownerId, { enabledOnly: true });
    const limits = rules
      .filter((rule) => rule.kind === 'approval_above' && appliesTo(rule, transaction))
      .map((rule) => rule.amount ?? 0)
      .filter((limit) => transaction.amount > limit);
    return limits.length > 0 ? Math.min(...limits) : null;
  }

  private async check(
    store: ShoppingStore,
    ownerId: string,
    transaction: TransactionInput,
  ): Promise<Decision> {
    const now = new Date();
    const rules = await store.rules(ownerId, { enabledOnly: true });
    const history: History = { spent: new Map(), recent: new Map() };
    for (const rule of rules) {
      if ((rule.kind === 'daily_budget' || rule.kind === 'monthly_budget') && appliesTo(rule, transaction)) {
        const since = periodStart(rule.kind, now);
        const filter = { currency: transaction.currency, category: rule.category, since };
        history.spent.set(rule.id, await store.spentSince(ownerId, filter));
      } else if (rule.kind === 'velocity') {
        const since = new Date(now.getTime() - (rule.windowMinutes ?? 0) * 60_000);
        history.recent.set(rule.id, await store.approvedCountSince(ownerId, since));
      }
    }
    return decide(rules, transaction, history);
  }

  /** Runs one completion in a new conversation of the owner's (kept, like any other) and waits for its end. */
  private async ask(
    ownerId: string,
    caller: Caller,
    question: { title: string; systemPrompt: string } & Pick<
      SendMessageInput,
      'content' | 'functions' | 'functionCall' | 'requireApproval'
    >,
  ): Promise<CompletionRow> {
    const { completions, conversations, logger } = this.deps;
    const { title, systemPrompt, ...message } = question;
    const conversation = await conversations.create(ownerId, { title, systemPrompt });
    return completions.complete(
      ownerId,
      { conversationId: conversation.id, ...message },
      { logger, ...caller },
    );
  }
}

/** Whether the model validated the transaction asked about, and not one it made up. */
function sameTransaction(args: unknown, transaction: TransactionInput): boolean {
  const parsed = transactionInputSchema.safeParse(args);
  return (
    parsed.success &&
    parsed.data.amount === transaction.amount &&
    parsed.data.merchant.toLowerCase() === transaction.merchant.toLowerCase() &&
    parsed.data.category === transaction.category &&
    parsed.data.currency === transaction.currency
  );
}
