import { z } from 'zod';
import type { Principal, PrincipalStore } from '../auth/index.js';
import { AppError, ErrorCode, notFound } from '../errors.js';
import type { Clock, Refusal, Spend, SpendingStore } from '../limits/index.js';
import type { Db } from '../storage/db.js';
import type { BudgetRow } from '../storage/schema.js';
import type { ModelTable, TokenUsageLike } from '../tokens/index.js';
import { parseInput } from '../validation.js';
import { type BudgetCounter, budgetExceeded, counterOf, spendOf } from './counters.js';
import type { BudgetPeriod } from './periods.js';
import { BudgetStore } from './store.js';

export interface SetBudgetInput {
  principalName: string;
  /** Set: a budget of that key alone (a key of the principal's); unset: the principal's over all its keys. */
  apiKeyId?: string | null;
  period: BudgetPeriod;
  limitUsd?: number | null;
  limitTokens?: number | null;
}

/** A budget with what its current period has used (spent, and reserved by requests in flight) and left. */
export interface BudgetStatus extends BudgetRow {
  spentUsd: number;
  spentTokens: number;
  /** Null without a USD limit; never below 0. */
  remainingUsd: number | null;
  remainingTokens: number | null;
  resetsAt: Date;
}

const setBudgetSchema = z
  .object({
    principalName: z.string().min(1).max(200),
    apiKeyId: z.string().min(1).max(100).nullish(),
    period: z.enum(['day', 'month']),
    limitUsd: z.number().finite().min(0).max(1_000_000_000).nullish(),
    limitTokens: z.number().int().min(0).nullish(),
  })
  .refine((input) => input.limitUsd != null || input.limitTokens != null, {
    message: 'set limitUsd, limitTokens or both',
    path: ['limitUsd'],
  });

/** What budgets needs to know of a request before it is sent (the upstream's ChatRequest fits it). */
export interface BudgetedRequest {
  model: string;
  /** From the stored per-message counts (and the tool definitions). */
  promptTokens: number;
  /** The reply's cap; the model's output cap when higher (or unset). */
  maxTokens?: number;
  /** The principal paying; a request without one (none today) counts against no budget. */
  owner?: string;
  /** The key the request came with: its own budgets apply too. */
  apiKeyId?: string | null;
}

/** A request's reservation against its budgets; settle it once with the usage (null: it used nothing). */
export interface BudgetHold {
  settle(usage: TokenUsageLike | null): Promise<void>;
}

/** What budgets reports (src/observability's Metrics). */
export interface BudgetMetrics {
  budgetRefused(period: BudgetRow['period'], limit: Refusal['limit'], scope: 'principal' | 'key'): void;
}

const NOTHING_HELD: BudgetHold = { settle: async () => {} };

/** Principal-and-key pairs whose budgets an instance keeps in memory. */
const MAX_CACHED = 10_000;

/**
 * Budgets: their definitions (set by admins, stored in the database) and their standing, and their enforcement
 * before a request goes upstream. A request's estimated cost (prompt plus the reply's cap, at the model's prices)
 * is reserved against every budget that applies, all or none, and a request that does not fit fails with
 * BUDGET_EXCEEDED. Once the request ends, the reservation is corrected to its real usage, so concurrent requests
 * can pass a limit only by what their real usage exceeded their estimates.
 */
export class BudgetService {
  private readonly budgets: BudgetStore;
  private readonly applying = new Map<string, { rows: BudgetRow[]; until: number }>();

  constructor(
    private readonly deps: {
      db: Db;
      principals: PrincipalStore;
      spending: SpendingStore;
      models: ModelTable;
      metrics: BudgetMetrics;
      clock: Clock;
      /** How long an instance keeps the budgets that apply to a principal and key (BUDGET_CACHE_MS). */
      definitionsTtlMs: number;
    },
  ) {
    this.budgets = new BudgetStore(deps.db);
  }

  /**
   * The budgets that apply to a request, read at most once per `definitionsTtlMs` per principal and key, so a
   * completion pays no statement for them: a change made here applies at once, one made on another instance
   * within that time. At most MAX_CACHED entries, the oldest dropped first.
   */
  private async applyingTo(principalId: string, apiKeyId: string | null): Promise<BudgetRow[]> {
    const key = `${principalId} ${apiKeyId ?? ''}`;
    const now = this.deps.clock.now();
    const cached = this.applying.get(key);
    if (cached && cached.until > now) return cached.rows;
    const rows = await this.budgets.applying(principalId, apiKeyId);
    this.applying.delete(key);
    if (this.applying.size >= MAX_CACHED) this.applying.delete(this.applying.keys().next().value as string);
    this.applying.set(key, { rows, until: now + this.deps.definitionsTtlMs });
    return rows;
  }

  async reserve(request: BudgetedRequest): Promise<BudgetHold> {
    if (!request.owner) return NOTHING_HELD;
    const applying = await this.applyingTo(request.owner, request.apiKeyId ?? null);
    if (applying.length === 0) return NOTHING_HELD;
    const model = this.deps.models.get(request.model);
    const estimate = {
      promptTokens: request.promptTokens,
      completionTokens: Math.min(request.maxTokens ?? model.maxOutputTokens, model.maxOutputTokens),
    };
    const charge = spendOf(model, estimate);
    const now = new Date(this.deps.clock.now());
    const counters = applying.map((budget) => counterOf(budget, now));
    const refusal = await this.reserveSeeded(applying, counters, charge);
    if (refusal) {
      const budget = applying[refusal.index] as BudgetRow;
      const { resetsAt } = counters[refusal.index] as BudgetCounter;
      this.deps.metrics.budgetRefused(budget.period, refusal.limit, budget.apiKeyId ? 'key' : 'principal');
      throw budgetExceeded(budget, refusal.limit, charge, resetsAt, now);
    }
    let settled = false;
    return {
      settle: async (usage) => {
        if (settled) return;
        settled = true;
        const used = usage ? spendOf(model, usage) : { usd: 0, tokens: 0 };
        if (used.usd === charge.usd && used.tokens === charge.tokens) return;
        await this.deps.spending.add(counters, {
          usd: used.usd - charge.usd,
          tokens: used.tokens - charge.tokens,
        });
      },
    };
  }

  async set(input: SetBudgetInput): Promise<BudgetStatus> {
    const { principalName, apiKeyId, period, limitUsd, limitTokens } = parseInput(setBudgetSchema, input);
    const principal = await this.deps.principals.find({ name: principalName });
    if (!principal) throw notFound('Principal', principalName);
    if (apiKeyId) {
      const [key] = await this.deps.principals.listKeys(apiKeyId);
      if (key?.principal.id !== principal.id) {
        throw new AppError(
          ErrorCode.BAD_USER_INPUT,
          `input.apiKeyId: principal ${principalName} has no API key ${apiKeyId}`,
          { field: 'input.apiKeyId' },
        );
      }
    }
    this.applying.clear();
    const row = await this.budgets.upsert({
      principalId: principal.id,
      apiKeyId: apiKeyId ?? null,
      period,
      limitUsd: limitUsd ?? null,
      limitTokens: limitTokens ?? null,
    });
    const [status] = await this.standing([row]);
    return status as BudgetStatus;
  }

  async remove(id: string): Promise<BudgetStatus> {
    this.applying.clear();
    const row = await this.budgets.remove(id);
    if (!row) throw notFound('Budget', id);
    const [status] = await this.standing([row]);
    return status as BudgetStatus;
  }

  /**
   * The budgets of the principal named (its own and its keys'); without a name, an admin's sees everyone's and
   * anyone else their own. The schema lets only admins name a principal.
   */
  async list(caller: Principal, principalName?: string | null): Promise<BudgetStatus[]> {
    let principalId: string | null = caller.scopes.includes('admin') ? null : caller.id;
    if (principalName) {
      const named = await this.deps.principals.find({ name: principalName });
      if (!named) throw notFound('Principal', principalName);
      principalId = named.id;
    }
    return this.standing(await this.budgets.list(principalId));
  }

  /** Reserves `charge`, seeding first the counters that do not exist (a new period, a restart, a lost Redis). */
  private async reserveSeeded(budgets: BudgetRow[], counters: BudgetCounter[], charge: Spend) {
    for (let attempt = 0; attempt < 3; attempt++) {
      const outcome = await this.deps.spending.reserve(counters, charge);
      if (!outcome || !('unseeded' in outcome)) return outcome;
      await this.seed(budgets, counters, outcome.unseeded);
    }
    // Only a period ending again and again between seeding and reserving could get here.
    throw new Error('budget counters vanished while they were seeded');
  }

  /** Starts the counters at `indexes` from the stored usage of their period so far. */
  private async seed(budgets: BudgetRow[], counters: BudgetCounter[], indexes: number[]): Promise<void> {
    const spends = await Promise.all(
      indexes.map((index) =>
        this.budgets.spentSince(budgets[index] as BudgetRow, (counters[index] as BudgetCounter).startsAt),
      ),
    );
    await this.deps.spending.seed(
      indexes.map((index) => counters[index] as BudgetCounter),
      spends,
    );
  }

  private async standing(rows: BudgetRow[]): Promise<BudgetStatus[]> {
    const now = new Date(this.deps.clock.now());
    const counters = rows.map((row) => counterOf(row, now));
    let spent = await this.deps.spending.spent(counters);
    const unseeded = spent.flatMap((count, index) => (count ? [] : [index]));
    if (unseeded.length > 0) {
      await this.seed(rows, counters, unseeded);
      spent = await this.deps.spending.spent(counters);
    }
    return rows.map((row, index) => {
      const { usd, tokens } = spent[index] ?? { usd: 0, tokens: 0 };
      return {
        ...row,
        spentUsd: usd,
        spentTokens: tokens,
        remainingUsd: row.limitUsd === null ? null : Math.max(0, row.limitUsd - usd),
        remainingTokens: row.limitTokens === null ? null : Math.max(0, row.limitTokens - tokens),
        resetsAt: (counters[index] as BudgetCounter).resetsAt,
      };
    });
  }
}
