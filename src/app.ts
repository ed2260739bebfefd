import type { AddressInfo } from 'node:net';
import { Authenticator, DEV_PRINCIPAL_NAME, PrincipalStore } from './auth/index.js';
import { CompletionEventLog } from './completions/events.js';
import { OpenAIService } from './completions/openai-service.js';
import { CompletionService } from './completions/service.js';
import { CompletionStore } from './completions/store.js';
import type { Config } from './config.js';
import { defaultSettings, settingsSchema } from './conversations/settings.js';
import { ConversationStore } from './conversations/store.js';
import { createLogger, type Logger } from './observability/logger.js';
import { schema } from './schema/index.js';
import { createHttpServer } from './server/http.js';
import { createYogaServer } from './server/yoga.js';
import type { Services } from './services.js';
import { createSimulator } from './simulator/index.js';
import { type DatabaseOptions, openDatabase } from './storage/db.js';
import { ModelTable, TokenCounter } from './tokens/index.js';

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

/** The composition root: every service is built here, once, and handed to the transports. */
export async function createApp(config: Config, options: AppOptions = {}): Promise<App> {
  const logger = options.logger ?? createLogger(config.LOG_LEVEL);
  const database = await openDatabase(config.DATABASE_URL, options);
  const models = new ModelTable(config.MODEL_TABLE_JSON, (model, fallback) =>
    logger.warn(
      { model, fallback: fallback.id },
      'unknown model: token counts and prices use the fallback entry',
    ),
  );
  const tokens = new TokenCounter(models);
  const principals = new PrincipalStore(database.db);
  for (const entry of config.API_KEYS) await principals.ensureKey(entry.principal, entry.key, entry.scopes);
  const devPrincipal = config.devMode
    ? await principals.ensurePrincipal(DEV_PRINCIPAL_NAME, ['admin'])
    : null;
  if (devPrincipal) {
    logger.warn('No API_KEYS configured: single-user development mode, every request acts as "dev" (admin).');
  }

  const upstream = await connectUpstream(config, models, logger);
  const conversations = new ConversationStore(database.db, tokens);
  const eventLog = new CompletionEventLog(config.COMPLETION_EVENT_TTL_MS);
  const modelSettings = settingsSchema(models);
  const completions = new CompletionService({
    conversations,
    completions: new CompletionStore(database.db),
    events: eventLog,
    openai: new OpenAIService({
      apiKey: upstream.apiKey,
      baseURL: upstream.baseURL,
      timeoutMs: config.OPENAI_TIMEOUT_MS,
      maxRetries: config.OPENAI_MAX_RETRIES,
    }),
    models,
    settingsSchema: modelSettings.partial(),
    logger,
  });

  const services: Services = {
    config,
    database,
    models,
    tokens,
    principals,
    authenticator: new Authenticator(principals, devPrincipal),
    conversations,
    completions,
    settingsSchema: modelSettings,
    defaultSettings: defaultSettings(config),
  };

  const yoga = createYogaServer(schema, services, logger);
  const http = createHttpServer({ yoga, services, logger });

  return {
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
      await completions.drain(config.SHUTDOWN_GRACE_MS);
      await http.close();
      eventLog.close();
      await upstream.close();
      await database.close();
    },
  };
}

/**
 * The model API: OpenAI (or OPENAI_BASE_URL) when configured, otherwise the built-in simulator in-process, so a
 * fresh checkout answers without any key.
 */
async function connectUpstream(config: Config, models: ModelTable, logger: Logger) {
  if (config.OPENAI_API_KEY || config.OPENAI_BASE_URL) {
    return {
      apiKey: config.OPENAI_API_KEY ?? 'unused',
      baseURL: config.OPENAI_BASE_URL ?? 'https://api.openai.com/v1',
      close: async () => {},
    };
  }
  const simulator = await createSimulator({ models });
  logger.warn(
    { simulator: simulator.url },
    'No OPENAI_API_KEY or OPENAI_BASE_URL: answering with the built-in simulator, not a real model.',
  );
  return { apiKey: 'simulator', baseURL: simulator.url, close: () => simulator.close() };
}
