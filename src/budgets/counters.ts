import { AppError, ErrorCode } from '../errors.js';
import type { Allowance, Refusal, Spend } from '../limits/index.js';
import type { BudgetRow } from '../storage/schema.js';
import { costUsd, type ModelInfo, type TokenUsageLike } from '../tokens/index.js';
import { periodAt } from './periods.js';

/** A budget's counter in its current period, with the period's bounds. */
export interface BudgetCounter extends Allowance {
  startsAt: Date;
  resetsAt: Date;
}

/** Keyed by principal or key and period, not by budget: a budget removed and set again keeps the count. */
export function counterOf(budget: BudgetRow, now: Date): BudgetCounter {
  const span = periodAt(budget.period, now);
  const scope = budget.apiKeyId === null ? `principal:${budget.principalId}` : `key:${budget.apiKeyId}`;
  return {
    key: `budget:${scope}:${span.id}`,
    endsAt: span.endsAt.getTime(),
    startsAt: span.startsAt,
    resetsAt: span.endsAt,
    usd: budget.limitUsd,
    tokens: budget.limitTokens,
  };
}

export function spendOf(model: ModelInfo, usage: TokenUsageLike): Spend {
  return { usd: costUsd(model, usage), tokens: usage.promptTokens + usage.completionTokens };
}

export function budgetExceeded(
  budget: BudgetRow,
  limit: Refusal['limit'],
  charge: Spend,
  resetsAt: Date,
  now: Date,
): AppError {
  const whose = budget.apiKeyId ? "this API key's" : "this principal's";
  const period = budget.period === 'day' ? 'daily' : 'monthly';
  const cap = limit === 'usd' ? `$${budget.limitUsd}` : `${budget.limitTokens} tokens`;
  const cost = limit === 'usd' ? `$${charge.usd.toFixed(6)}` : `${charge.tokens} tokens`;
  return new AppError(
    ErrorCode.BUDGET_EXCEEDED,
    `The request may cost up to ${cost} (prompt plus maxTokens), more than is left of ${whose} ${period} ` +
      `budget of ${cap}; nothing was sent. The budget resets at ${resetsAt.toISOString()}.`,
    { retryAfter: Math.ceil((resetsAt.getTime() - now.getTime()) / 1000), resetsAt },
  );
}
