import { randomUUID } from 'node:crypto';
import type { AddressInfo } from 'node:net';
import { Authenticator, DEV_PRINCIPAL_NAME, PrincipalStore } from './auth/index.js';
import { BudgetService } from './budgets/index.js';
import { toolApproval } from './completions/approvals.js';
import { CompletionEventLog } from './completions/events.js';
import { ModelFallbacks } from './completions/fallbacks.js';
import { LeaseKeeper } from './completions/leases.js';
import { CompletionReplay } from './completions/replay.js';
import { CompletionRunner } from './completions/runner.js';
import { RunRegistry } from './completions/runs.js';
import { CompletionService } from './completions/service.js';
import { CompletionStore } from './completions/store.js';
import { StructuredOutputs } from './completions/structured-output.js';
import { openEventTransport } from './completions/transport.js';
import { type Config, ConfigError } from './config.js';
import { ContextManager } from './conversations/context.js';
import { ConversationService } from './conversations/service.js';
import { defaultSettings } from './conversations/settings.js';
import { ConversationStore } from './conversations/store.js';
import { Summarizer } from './conversations/summarizer.js';
import { SummaryRequestStore } from './conversations/summary-requests.js';
import { FunctionStore } from './functions/index.js';
import { ClientLimits, openLimitStores, systemClock } from './limits/index.js';
import { createFunctionRegistry } from './mcp/registry.js';
import { createFileLogger, createLogger, type Logger } from './observability/logger.js';
import { Metrics } from './observability/metrics.js';
import { Tracing } from './observability/tracing.js';
import { UsageService } from './observability/usage.js';
import { schema } from './schema/index.js';
import { createHttpServer } from './server/http.js';
import { OriginPolicy } from './server/origins.js';
import { TrustedDocuments } from './server/trusted-documents.js';
import { createYogaServer } from './server/yoga.js';
import type { Services } from './services.js';
import { ShoppingService, ShoppingStore, shoppingFunctions } from './shopping/index.js';
import { type DatabaseOptions, openDatabase } from './storage/db.js';
import { connectRedis } from './storage/redis.js';
import { ModelTable, TokenCounter } from './tokens/index.js';
import {
  connectUpstream,
  OpenAIService,
  ResponseCache,
  UpstreamModels,
  UpstreamMonitor,
  upstreamGate,
} from './upstream/index.js';

export interface AppOptions extends DatabaseOptions {
  logger?: Logger;
}

export interface App {
  services: Services;
  logger: Logger;
  /** The model API in use: OPENAI_BASE_URL, OpenAI's, or the built-in simulator's. */
  upstreamURL: string;
  listen(): Promise<AddressInfo>;
  /** Graceful stop: readiness off, connections closed, database closed. */
  close(): Promise<void>;
}

/** How long reading the upstream's GET /models may hold up the start. */
const MODEL_LIST_TIMEOUT_MS = 10_000;

/** After completions have drained, how long open streams get to deliver their last events before sockets close. */
const STREAM_SETTLE_MS = 2_000;

/** The composition root: every service is built here, once, and handed to the transports. */
export async function createApp(config: Config, options: AppOptions = {}): Promise<App> {
  const logger = options.logger ?? createLogger(config.LOG_LEVEL);
  const database = await openDatabase(config.DATABASE_URL, {
    ...options,
    onIdleConnectionError: (error) => logger.warn({ err: error }, 'an idle database connection failed'),
  });
  const models = new ModelTable(config.MODEL_TABLE_JSON, (model, fallback) =>
    logger.warn(
      { model, fallback: fallback.id },
      'unknown model: token counts and prices use the fallback entry',
    ),
  );
  const tokens = new TokenCounter(models);
  const principals = new PrincipalStore(database.db);
  await principals.syncConfiguredKeys(config.API_KEYS);
  const devPrincipal = config.devMode
    ? await principals.ensurePrincipal(DEV_PRINCIPAL_NAME, ['admin'])
    : null;
  if (devPrincipal) {
    logger.warn('No API_KEYS configured: single-user development mode, every request acts as "dev" (admin).');
  }

  const upstream = await connectUpstream(config, models, logger);
  const redis = config.REDIS_URL ? connectRedis(config.REDIS_URL, logger) : null;
  const limitStores = openLimitStores(redis, {
    prefix: config.REDIS_KEY_PREFIX,
    cache: { ttlMs: config.CACHE_TTL_MS, maxEntries: config.CACHE_MAX_ENTRIES },
    clock: systemClock,
  });
  const metrics = new Metrics();
  const tracing = config.tracing ? Tracing.start(config.tracing, logger) : Tracing.off();
  const budgets = new BudgetService({
    db: database.db,
    principals,
    spending: limitStores.spending,
    models,
    metrics,
    clock: systemClock,
    definitionsTtlMs: config.BUDGET_CACHE_MS,
  });
  const logFile = config.LOG_FILE ? createFileLogger(config.LOG_FILE, config.LOG_LEVEL) : null;
  const conversations = new ConversationStore(database.db, tokens);
  const transport = openEventTransport(redis, config.REDIS_KEY_PREFIX, config.COMPLETION_EVENT_TTL_MS);
  const eventLog = new CompletionEventLog(transport.pubSub, transport.replay, (error) =>
    logger.error({ err: error }, 'storing a completion event failed'),
  );
  const lease = { instanceId: randomUUID(), ms: config.COMPLETION_LEASE_MS };
  const completionStore = new CompletionStore(database.db);
  const summaryRequests = new SummaryRequestStore(database.db, models);
  const conversationService = new ConversationService({
    store: conversations,
    models,
    defaults: defaultSettings(config),
  });
  const observers = { logger, metrics, tracing };
  const { functions, mcp } = createFunctionRegistry({ config, db: database.db, principals, ...observers });
  const openai = new OpenAIService({
    monitor: new UpstreamMonitor({ metrics, models, tracing, file: logFile?.logger ?? null }),
    tokens,
    apiKey: upstream.apiKey,
    baseURL: upstream.baseURL,
    models,
    tokenLimit: config.OPENAI_TOKEN_LIMIT_PARAM,
    timeoutMs: config.OPENAI_TIMEOUT_MS,
    gate: upstreamGate(config, { buckets: limitStores.buckets, upstream: upstream.baseURL, metrics }),
    cache: new ResponseCache(limitStores.cache, metrics),
    budgets,
  });
  const upstreamModels = new UpstreamModels({
    models,
    list: (signal) => openai.listModels(signal),
    configured: config.OPENAI_MODELS,
    refreshMs: config.OPENAI_MODELS_REFRESH_MS,
    timeoutMs: Math.min(config.OPENAI_TIMEOUT_MS, MODEL_LIST_TIMEOUT_MS),
    logger,
  });
  const summarizer = new Summarizer({ messages: conversations, tokens, models, openai, summaryRequests });
  const context = new ContextManager({ conversations, tokens, models, summarizer, tracing });
  const runs = new RunRegistry(eventLog);
  const fallbacks = new ModelFallbacks({ defaults: config.FALLBACK_MODELS, models, metrics });
  const completionPath = {
    conversations,
    completions: completionStore,
    events: eventLog,
    lease,
  };
  const approval = toolApproval({
    ...completionPath,
    db: database.db,
    functions,
    timeoutMs: config.TOOL_APPROVAL_TIMEOUT_MS,
    logger,
    resume: (completion, runLogger) => completions.resume(completion, runLogger),
  });
  const runner = new CompletionRunner({
    ...completionPath,
    context,
    openai,
    toolCalls: approval.toolCalls,
    models,
  });
  const replay = new CompletionReplay({ ...completionPath, runs, gate: approval.gate });
  const completions = new CompletionService({
    ...completionPath,
    functions,
    models,
    fallbacks,
    settings: conversationService,
    structuredOutputs: new StructuredOutputs(),
    tracing,
    lease,
    gate: approval.gate,
    runs,
    runner,
    replay,
    remoteCancelTimeoutMs: config.OPENAI_TIMEOUT_MS,
  });
  const leases = new LeaseKeeper({ ...completionPath, runs, logger });
  runs.listen(leases);
  approval.service.start();
  // Only after listen(): an await before it let the cancel subscription reach Redis mid-handshake (ioredis then
  // fails its ready check on a connection already in subscriber mode).
  await upstreamModels.start();
  if (!models.accepts(config.OPENAI_MODEL)) {
    logger.warn(
      { model: config.OPENAI_MODEL },
      'OPENAI_MODEL is neither in the model table nor offered by the upstream (GET /models, OPENAI_MODELS)',
    );
  }
  const shopping = new ShoppingService({
    store: new ShoppingStore(database.db),
    conversations: conversationService,
    completions,
    functions,
    highRiskMerchants: config.HIGH_RISK_MERCHANTS,
    riskVelocity: {
      maxTransactions: config.RISK_VELOCITY_MAX_TRANSACTIONS,
      windowMinutes: config.RISK_VELOCITY_WINDOW_MINUTES,
    },
    logger,
  });
  for (const builtin of shoppingFunctions(shopping)) await functions.registerBuiltin(builtin);
  await mcp.start();

  const services: Services = {
    config,
    database,
    models,
    tokens,
    principals,
    authenticator: new Authenticator(principals, devPrincipal),
    budgets,
    conversations: conversationService,
    context,
    completions,
    approvals: approval.service,
    functions,
    mcp,
    shopping,
    metrics,
    tracing,
    // A store holds no state: the report's function store beside the registry's costs nothing.
    usage: new UsageService({
      completions: completionStore,
      summaryRequests,
      functions: new FunctionStore(database.db),
    }),
    loaderStores: { conversations, completions: completionStore, summaryRequests },
    clientLimits: new ClientLimits({
      buckets: limitStores.buckets,
      streams: limitStores.streams,
      requestsPerWindow: config.CLIENT_RPM,
      windowMs: config.RATE_LIMIT_WINDOW_MS,
      maxStreams: config.CLIENT_MAX_STREAMS,
      metrics,
    }),
  };

  // GraphiQL sends arbitrary documents, so development mode runs them whatever PERSISTED_DOCUMENTS_ONLY says.
  const trustedDocuments = await TrustedDocuments.load(
    config.PERSISTED_DOCUMENTS,
    config.PERSISTED_DOCUMENTS_ONLY && !config.devMode,
  );
  if (config.PERSISTED_DOCUMENTS_ONLY && config.devMode) {
    logger.warn('PERSISTED_DOCUMENTS_ONLY is ignored in development mode (no API_KEYS), so GraphiQL works.');
  }
  const origins = new OriginPolicy(config.devMode, config.CORS_ORIGINS);
  const yoga = createYogaServer(schema, services, trustedDocuments, logger, origins);
  const http = createHttpServer({ yoga, services, trustedDocuments, logger, origins });

  const app: App = {
    services,
    logger,
    upstreamURL: upstream.baseURL,
    listen: async () => {
      const address = await http.listen(config.PORT, config.HOST);
      logger.info({ url: `http://${address.address}:${address.port}/graphql` }, 'agent-platform listening');
      return address;
    },
    close: async () => {
      http.markDraining();
      logger.info({ graceMs: config.SHUTDOWN_GRACE_MS }, 'draining running completions');
      await runs.drain(config.SHUTDOWN_GRACE_MS);
      leases.stop();
      approval.service.stop();
      upstreamModels.stop();
      await mcp.close();
      logger.info('closing connections');
      await http.close(STREAM_SETTLE_MS);
      logger.info('closing storage');
      eventLog.close();
      await transport.close();
      await upstream.close();
      await database.close();
      await redis?.quit();
      logFile?.close();
      await tracing.shutdown();
    },
  };
  // FALLBACK_MODELS may name only models on offer, which is known once the upstream's GET /models was read.
  const unoffered = fallbacks.unoffered();
  if (unoffered) await app.close().then(() => Promise.reject(new ConfigError(unoffered)));
  return app;
}
