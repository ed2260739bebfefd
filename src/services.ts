import type { Authenticator, PrincipalStore } from './auth/index.js';
import type { BudgetService } from './budgets/index.js';
import type { ToolApprovals } from './completions/approvals.js';
import type { CompletionService } from './completions/service.js';
import type { Config } from './config.js';
import type { ContextManager } from './conversations/context.js';
import type { ConversationService } from './conversations/service.js';
import type { FunctionService } from './functions/index.js';
import type { ClientLimits } from './limits/index.js';
import type { McpServers } from './mcp/index.js';
import type { Metrics } from './observability/metrics.js';
import type { Tracing } from './observability/tracing.js';
import type { UsageService } from './observability/usage.js';
import type { ShoppingService } from './shopping/index.js';
import type { Database } from './storage/db.js';
import type { LoaderStores } from './storage/loaders.js';
import type { ModelTable, TokenCounter } from './tokens/index.js';

/** Everything app.ts builds once and hands to resolvers through the context. */
export interface Services {
  config: Config;
  database: Database;
  models: ModelTable;
  tokens: TokenCounter;
  principals: PrincipalStore;
  authenticator: Authenticator;
  budgets: BudgetService;
  conversations: ConversationService;
  context: ContextManager;
  completions: CompletionService;
  approvals: ToolApprovals;
  functions: FunctionService;
  mcp: McpServers;
  shopping: ShoppingService;
  metrics: Metrics;
  tracing: Tracing;
  usage: UsageService;
  clientLimits: ClientLimits;
  /** What each request's loaders read through. */
  loaderStores: LoaderStores;
}
