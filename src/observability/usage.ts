import { and, asc, eq, gte, lt, type SQL, sql } from 'drizzle-orm';
import type { PgColumn } from 'drizzle-orm/pg-core';
import type { Principal } from '../auth/index.js';
import { AppError, badInput, ErrorCode } from '../errors.js';
import type { Db } from '../storage/db.js';
import { NO_USAGE, type UsageTotals, usageRows, usageTotals } from '../storage/loaders.js';
import { functionExecutions } from '../storage/schema.js';

export interface UsageQuery {
  since?: Date | null;
  until?: Date | null;
  /** Admins only (others may name themselves): one principal's usage instead of everyone's. */
  principalId?: string | null;
}

export interface FunctionUsage {
  functionName: string;
  calls: number;
  successes: number;
  failures: number;
  avgDurationMs: number;
}

export interface UsageReport {
  since: Date | null;
  until: Date | null;
  /** Whose usage this is; null for every principal's. */
  principalId: string | null;
  total: UsageTotals;
  byModel: (UsageTotals & { model: string })[];
  byFunction: FunctionUsage[];
}

/**
 * Token usage, cost and function executions over a time window, from what the completions and SUMMARIZE's own
 * model requests stored.
 */
export class UsageService {
  constructor(private readonly db: Db) {}

  /** Admins see every principal's usage (or one's); anyone else sees only their own. */
  async report(caller: Principal, query: UsageQuery): Promise<UsageReport> {
    const since = query.since ?? null;
    const until = query.until ?? null;
    if (since && until && until <= since) throw badInput('until', 'must be later than since');
    const isAdmin = caller.scopes.includes('admin');
    if (!isAdmin && query.principalId && query.principalId !== caller.id) {
      throw new AppError(ErrorCode.FORBIDDEN, "Only admins can read another principal's usage");
    }
    const principalId = query.principalId ?? (isAdmin ? null : caller.id);
    const window = (createdAt: PgColumn, ownerId: PgColumn): SQL | undefined =>
      and(
        since ? gte(createdAt, since) : undefined,
        until ? lt(createdAt, until) : undefined,
        principalId ? eq(ownerId, principalId) : undefined,
      );

    const usage = usageRows(this.db);
    const [byModel, byFunction] = await Promise.all([
      this.db
        .select({ model: usage.model, ...usageTotals(usage) })
        .from(usage)
        .where(window(usage.createdAt, usage.ownerId))
        .groupBy(usage.model)
        .orderBy(asc(usage.model)),
      this.db
        .select({
          functionName: functionExecutions.functionName,
          calls: sql<number>`count(*)`.mapWith(Number),
          successes: sql<number>`count(*) filter (where ${functionExecutions.status} = 'succeeded')`.mapWith(
            Number,
          ),
          avgDurationMs: sql<number>`avg(${functionExecutions.durationMs})`.mapWith(Number),
        })
        .from(functionExecutions)
        .where(window(functionExecutions.createdAt, functionExecutions.ownerId))
        .groupBy(functionExecutions.functionName)
        .orderBy(asc(functionExecutions.functionName)),
    ]);
    const total = byModel.reduce<UsageTotals>(
      (sum, row) => ({
        completions: sum.completions + row.completions,
        promptTokens: sum.promptTokens + row.promptTokens,
        completionTokens: sum.completionTokens + row.completionTokens,
        reasoningTokens: sum.reasoningTokens + row.reasoningTokens,
        costUsd: sum.costUsd + row.costUsd,
        estimated: sum.estimated || row.estimated,
      }),
      NO_USAGE,
    );
    return {
      since,
      until,
      principalId,
      total,
      byModel,
      byFunction: byFunction.map((row) => ({ ...row, failures: row.calls - row.successes })),
    };
  }
}
