import { randomUUID } from 'node:crypto';
import { and, asc, avg, count, eq, gte, inArray, sql, sum } from 'drizzle-orm';
import type { Db } from '../storage/db.js';
import { type NewestFirstCursor, newestFirst } from '../storage/newest-first.js';
import {
  type SpendingRuleRow,
  spendingRules,
  type TransactionRow,
  transactions,
} from '../storage/shopping.js';

export type NewSpendingRule = Omit<SpendingRuleRow, 'id' | 'ownerId' | 'createdAt' | 'updatedAt'>;
export type NewTransaction = Omit<TransactionRow, 'id' | 'createdAt'>;

/**
 * Transactions and spending rules, always per owner. Spending history counts APPROVED transactions only: a
 * declined purchase spent nothing.
 */
export class ShoppingStore {
  constructor(private readonly db: Db) {}

  /**
   * Runs `work` in one database transaction holding the owner's advisory lock, so a rule check and the insert
   * it decides are never interleaved with another purchase of the same owner.
   */
  locked<T>(ownerId: string, work: (store: ShoppingStore) => Promise<T>): Promise<T> {
    return this.db.transaction(async (tx) => {
      await tx.execute(sql`select pg_advisory_xact_lock(hashtext(${ownerId}))`);
      return work(new ShoppingStore(tx as unknown as Db));
    });
  }

  async upsertRule(ownerId: string, rule: NewSpendingRule): Promise<SpendingRuleRow> {
    const [row] = await this.db
      .insert(spendingRules)
      .values({ id: randomUUID(), ownerId, ...rule })
      .onConflictDoUpdate({
        target: [spendingRules.ownerId, spendingRules.kind, spendingRules.scope],
        set: { ...rule, updatedAt: new Date() },
      })
      .returning();
    if (!row) throw new Error('spending rule upsert returned nothing');
    return row;
  }

  async rules(ownerId: string, filter: { enabledOnly?: boolean; ids?: readonly string[] } = {}) {
    return this.db
      .select()
      .from(spendingRules)
      .where(
        and(
          eq(spendingRules.ownerId, ownerId),
          filter.enabledOnly ? eq(spendingRules.enabled, true) : undefined,
          filter.ids ? inArray(spendingRules.id, [...filter.ids]) : undefined,
        ),
      )
      .orderBy(asc(spendingRules.kind), asc(spendingRules.scope));
  }

  async insertTransaction(transaction: NewTransaction): Promise<TransactionRow> {
    const [row] = await this.db
      .insert(transactions)
      .values({ id: randomUUID(), ...transaction })
      .returning();
    if (!row) throw new Error('transaction insert returned nothing');
    return row;
  }

  /** The transaction of a processTransaction completion that waits for its approval, if any. */
  async pendingTransaction(ownerId: string, completionId: string): Promise<TransactionRow | null> {
    const [row] = await this.db
      .select()
      .from(transactions)
      .where(
        and(
          eq(transactions.ownerId, ownerId),
          eq(transactions.completionId, completionId),
          eq(transactions.status, 'pending_approval'),
        ),
      );
    return row ?? null;
  }

  async settleTransaction(
    id: string,
    decision: Pick<TransactionRow, 'status' | 'violations' | 'remainingBudget'>,
  ): Promise<void> {
    await this.db.update(transactions).set(decision).where(eq(transactions.id, id));
  }

  async transactionsById(ownerId: string, ids: readonly string[]): Promise<TransactionRow[]> {
    return this.db
      .select()
      .from(transactions)
      .where(and(eq(transactions.ownerId, ownerId), inArray(transactions.id, [...ids])));
  }

  async transactionPage(ownerId: string, after: NewestFirstCursor | null, limit: number) {
    const page = newestFirst(transactions, after);
    return this.db
      .select()
      .from(transactions)
      .where(and(eq(transactions.ownerId, ownerId), page.where))
      .orderBy(...page.orderBy)
      .limit(limit);
  }

  /** Approved spending in `currency` since `since`, in one category or (null) all. */
  async spentSince(
    ownerId: string,
    filter: { currency: string; category: string | null; since: Date },
  ): Promise<number> {
    const [row] = await this.db
      .select({ total: sum(transactions.amount).mapWith(Number) })
      .from(transactions)
      .where(
        and(
          this.approvedOf(ownerId, filter.since),
          eq(transactions.currency, filter.currency),
          filter.category === null ? undefined : eq(transactions.category, filter.category),
        ),
      );
    return row?.total ?? 0;
  }

  async approvedCountSince(ownerId: string, since: Date): Promise<number> {
    const [row] = await this.db
      .select({ count: count() })
      .from(transactions)
      .where(this.approvedOf(ownerId, since));
    return row?.count ?? 0;
  }

  /** How many approved transactions in `currency` there are, and their average amount. */
  async amountHistory(ownerId: string, currency: string): Promise<{ count: number; average: number }> {
    const [row] = await this.db
      .select({ count: count(), average: avg(transactions.amount).mapWith(Number) })
      .from(transactions)
      .where(and(this.approvedOf(ownerId, new Date(0)), eq(transactions.currency, currency)));
    return { count: row?.count ?? 0, average: row?.average ?? 0 };
  }

  private approvedOf(ownerId: string, since: Date) {
    return and(
      eq(transactions.ownerId, ownerId),
      eq(transactions.status, 'approved'),
      gte(transactions.createdAt, since),
    );
  }
}
