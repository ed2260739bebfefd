import { and, eq, gte, inArray, lt, type SQL, sql } from 'drizzle-orm';
import type { Db } from './db.js';
import { completions, summaryRequests } from './schema.js';

export interface UsageTotals {
  completions: number;
  promptTokens: number;
  completionTokens: number;
  reasoningTokens: number;
  costUsd: number;
  /** Some of the tokens are our estimate: the upstream sent no usage for them. */
  estimated: boolean;
}

export const NO_USAGE: UsageTotals = {
  completions: 0,
  promptTokens: 0,
  completionTokens: 0,
  reasoningTokens: 0,
  costUsd: 0,
  estimated: false,
};

/** Which rows count: a time window and, optionally, conversations or one owner. */
export interface UsageFilter {
  since?: Date | null;
  until?: Date | null;
  ownerId?: string | null;
  conversationIds?: readonly string[];
}

/** A table whose rows stand for model requests and carry the usage columns (completions, summary requests). */
type UsageTable = typeof completions | typeof summaryRequests;

/**
 * Usage totals of one table's rows grouped by `key`, for the store that owns the table. `countsCompletions`:
 * whether each row is a completion (summary requests are model requests of their own, not completions).
 */
export async function usageOf(
  db: Db,
  table: UsageTable,
  countsCompletions: boolean,
  key: 'model' | 'conversationId',
  filter: UsageFilter,
): Promise<(UsageTotals & { key: string })[]> {
  const where: (SQL | undefined)[] = [
    filter.since ? gte(table.createdAt, filter.since) : undefined,
    filter.until ? lt(table.createdAt, filter.until) : undefined,
    filter.ownerId ? eq(table.ownerId, filter.ownerId) : undefined,
    filter.conversationIds ? inArray(table.conversationId, [...filter.conversationIds]) : undefined,
  ];
  // Postgres sums integers as bigint (text): mapped back to numbers.
  return db
    .select({
      key: table[key],
      completions: (countsCompletions ? sql<number>`count(*)` : sql<number>`0`).mapWith(Number),
      promptTokens: sql<number>`coalesce(sum(${table.promptTokens}), 0)`.mapWith(Number),
      completionTokens: sql<number>`coalesce(sum(${table.completionTokens}), 0)`.mapWith(Number),
      reasoningTokens: sql<number>`coalesce(sum(${table.reasoningTokens}), 0)`.mapWith(Number),
      costUsd: sql<number>`coalesce(sum(${table.costUsd}), 0)`.mapWith(Number),
      estimated: sql<boolean>`coalesce(bool_or(${table.usageEstimated}), false)`.mapWith(Boolean),
    })
    .from(table)
    .where(and(...where))
    .groupBy(table[key]);
}

export function addUsage(a: UsageTotals, b: UsageTotals): UsageTotals {
  return {
    completions: a.completions + b.completions,
    promptTokens: a.promptTokens + b.promptTokens,
    completionTokens: a.completionTokens + b.completionTokens,
    reasoningTokens: a.reasoningTokens + b.reasoningTokens,
    costUsd: a.costUsd + b.costUsd,
    estimated: a.estimated || b.estimated,
  };
}

/** Several stores' totals by key, added up per key (each model request counted once, by its own table). */
export function mergeUsage(...lists: (UsageTotals & { key: string })[][]): Map<string, UsageTotals> {
  const merged = new Map<string, UsageTotals>();
  for (const { key, ...totals } of lists.flat())
    merged.set(key, addUsage(merged.get(key) ?? NO_USAGE, totals));
  return merged;
}

/**
 * Every usage-bearing row as one set (budgets' spend since a period began): the completions and SUMMARIZE's own
 * requests, which carry no API key of their own and so count against their owner's budgets only.
 */
export function usageRows(db: Db) {
  const columns = (table: UsageTable) => ({
    ownerId: table.ownerId,
    createdAt: table.createdAt,
    promptTokens: table.promptTokens,
    completionTokens: table.completionTokens,
    costUsd: table.costUsd,
  });
  return db
    .select({ ...columns(completions), apiKeyId: completions.apiKeyId })
    .from(completions)
    .unionAll(
      db
        .select({ ...columns(summaryRequests), apiKeyId: sql<string | null>`null`.as('api_key_id') })
        .from(summaryRequests),
    )
    .as('usage_rows');
}
