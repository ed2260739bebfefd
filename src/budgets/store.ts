import { randomUUID } from 'node:crypto';
import { and, asc, eq, isNull, or, sql } from 'drizzle-orm';
import type { Db } from '../storage/db.js';
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
}
