import { randomUUID } from 'node:crypto';
import { and, asc, eq, gte, isNull, or, sql } from 'drizzle-orm';
import type { Spend } from '../limits/index.js';
import type { Db } from '../storage/db.js';
import { usageRows } from '../storage/loaders.js';
import { type BudgetRow, budgets } from '../storage/schema.js';

export type NewBudget = Pick<BudgetRow, 'principalId' | 'apiKeyId' | 'period' | 'limitUsd' | 'limitTokens'>;

const principalWideFirst = sql`${budgets.apiKeyId} asc nulls first`;

/** Budget definitions (every instance reads the same ones); what was spent lives in the spending store. */
export class BudgetStore {
  constructor(private readonly db: Db) {}

  /** Creates the budget of that principal, key and period, or replaces its limits. */
  async upsert(budget: NewBudget): Promise<BudgetRow> {
    const [row] = await this.db
      .insert(budgets)
      .values({ id: randomUUID(), ...budget })
      .onConflictDoUpdate({
        target: [budgets.principalId, budgets.apiKeyId, budgets.period],
        set: { limitUsd: budget.limitUsd, limitTokens: budget.limitTokens, updatedAt: new Date() },
      })
      .returning();
    if (!row) throw new Error('budget upsert returned nothing');
    return row;
  }

  async remove(id: string): Promise<BudgetRow | null> {
    const [row] = await this.db.delete(budgets).where(eq(budgets.id, id)).returning();
    return row ?? null;
  }

  /** A principal's budgets (its own and its keys'), or every principal's; principal-wide first, days first. */
  async list(principalId: string | null): Promise<BudgetRow[]> {
    return this.db
      .select()
      .from(budgets)
      .where(principalId === null ? undefined : eq(budgets.principalId, principalId))
      .orderBy(asc(budgets.principalId), principalWideFirst, asc(budgets.period));
  }

  /** The budgets a request counts against: the principal's own, and its key's when it came with one. */
  async applying(principalId: string, apiKeyId: string | null): Promise<BudgetRow[]> {
    return this.db
      .select()
      .from(budgets)
      .where(
        and(
          eq(budgets.principalId, principalId),
          apiKeyId === null
            ? isNull(budgets.apiKeyId)
            : or(isNull(budgets.apiKeyId), eq(budgets.apiKeyId, apiKeyId)),
        ),
      )
      .orderBy(principalWideFirst, asc(budgets.period));
  }

  /**
   * What the stored model requests of a budget's principal (or key) cost since `since`: where a spending counter
   * that does not exist (a new period, a restart without Redis) starts.
   */
  async spentSince(budget: BudgetRow, since: Date): Promise<Spend> {
    const usage = usageRows(this.db);
    const [row] = await this.db
      .select({
        usd: sql<number>`coalesce(sum(${usage.costUsd}), 0)`.mapWith(Number),
        tokens: sql<number>`coalesce(sum(${usage.promptTokens} + ${usage.completionTokens}), 0)`.mapWith(
          Number,
        ),
      })
      .from(usage)
      .where(
        and(
          budget.apiKeyId === null
            ? eq(usage.ownerId, budget.principalId)
            : eq(usage.apiKeyId, budget.apiKeyId),
          gte(usage.createdAt, since),
        ),
      );
    return row ?? { usd: 0, tokens: 0 };
  }
}
