import type { Principal } from '../auth/index.js';
import type { CompletionStore } from '../completions/store.js';
import type { SummaryRequestStore } from '../conversations/summary-requests.js';
import { AppError, badInput, ErrorCode } from '../errors.js';
import type { FunctionStore } from '../functions/index.js';
import { addUsage, mergeUsage, NO_USAGE, type UsageTotals } from '../storage/usage.js';

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
  constructor(
    private readonly stores: {
      completions: Pick<CompletionStore, 'usage'>;
      summaryRequests: Pick<SummaryRequestStore, 'usage'>;
      functions: Pick<FunctionStore, 'usageByFunction'>;
    },
  ) {}

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
    const filter = { since, until, ownerId: principalId };
    const [completions, summaries, byFunction] = await Promise.all([
      this.stores.completions.usage('model', filter),
      this.stores.summaryRequests.usage('model', filter),
      this.stores.functions.usageByFunction(filter),
    ]);
    const byModel = [...mergeUsage(completions, summaries)]
      .map(([model, totals]) => ({ model, ...totals }))
      .sort((a, b) => (a.model < b.model ? -1 : a.model > b.model ? 1 : 0));
    const total = byModel.reduce<UsageTotals>(addUsage, NO_USAGE);
    return {
      since,
      until,
      principalId,
      total,
      byModel,
      byFunction,
    };
  }
}
