import type { PrincipalStore } from '../auth/index.js';
import type { Config } from '../config.js';
import { ArgumentValidator, FunctionService, FunctionStore, WebhookCaller } from '../functions/index.js';
import type { Logger } from '../observability/logger.js';
import type { Metrics } from '../observability/metrics.js';
import type { Tracing } from '../observability/tracing.js';
import type { Db } from '../storage/db.js';
import { McpServers } from './service.js';
import { McpServerStore } from './store.js';

/** Any one response from an MCP server (a tools/list with many large schemas included); beyond, it fails. */
const MCP_MAX_RESPONSE_BYTES = 4 * 1024 * 1024;

/** The function registry with the sources of its functions: webhooks and MCP servers (built-ins come from app.ts). */
export function createFunctionRegistry(deps: {
  config: Config;
  db: Db;
  principals: PrincipalStore;
  logger: Logger;
  metrics: Metrics;
  tracing: Tracing;
}): { functions: FunctionService; mcp: McpServers } {
  const { config, db, logger } = deps;
  const store = new FunctionStore(db);
  const validator = new ArgumentValidator(config.FUNCTION_MAX_ARGUMENT_BYTES);
  const webhooks = new WebhookCaller(
    config.FUNCTION_WEBHOOK_ALLOWLIST,
    config.FUNCTION_MAX_RESULT_BYTES,
    deps.tracing,
  );
  const mcp = new McpServers({
    store: new McpServerStore(db),
    functions: store,
    validator,
    webhooks,
    principals: deps.principals,
    timeoutMs: config.FUNCTION_TIMEOUT_MS,
    maxResponseBytes: MCP_MAX_RESPONSE_BYTES,
    logger,
  });
  const functions = new FunctionService({
    store,
    validator,
    webhooks,
    mcp,
    timeoutMs: config.FUNCTION_TIMEOUT_MS,
    maxResultBytes: config.FUNCTION_MAX_RESULT_BYTES,
    logger,
    metrics: deps.metrics,
    tracing: deps.tracing,
  });
  return { functions, mcp };
}
