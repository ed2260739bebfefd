import { z } from 'zod';
import { optionalString } from './env-fields.js';
import { type TracingConfig, tracingEnv, tracingOf } from './observability/tracing-env.js';
import { modelInfoSchema, modelNameSchema } from './tokens/index.js';

const LOOPBACK_HOSTS = new Set(['127.0.0.1', 'localhost', '::1']);

const apiKeyEntry = z
  .string()
  .regex(/^[\w.-]+:[\w.~+/=-]{8,}(:[\w|]+)?$/, 'expected principal:key[:scope|scope]')
  .transform((entry) => {
    const [principal = '', key = '', scopes = ''] = entry.split(':');
    return { principal, key, scopes: scopes ? scopes.split('|') : [] };
  });

/** `a, b ,c` -> ['a', 'b', 'c']; unset or blank is an empty list. */
const commaList = optionalString.transform((value) =>
  value
    ? value
        .split(',')
        .map((entry) => entry.trim())
        .filter(Boolean)
    : [],
);

/** An origin (`https://hooks.example.com:8443`: that scheme, host and port) or a bare host (any port, http(s)). */
const webhookAllowlistEntry = z.string().transform((entry, ctx) => {
  if (!entry.includes('://')) return entry.toLowerCase();
  try {
    return new URL(entry).origin;
  } catch {
    ctx.addIssue({ code: 'custom', message: `not an origin: ${entry}` });
    return z.NEVER;
  }
});

/** An origin as browsers send it (`https://app.example.com`), or `*`. */
const corsOrigin = z.string().transform((entry, ctx) => {
  if (entry === '*') return entry;
  const url = URL.canParse(entry) ? new URL(entry) : null;
  if (url?.origin && url.origin !== 'null' && url.origin === entry.replace(/\/$/, '').toLowerCase())
    return url.origin;
  ctx.addIssue({ code: 'custom', message: `not an origin (scheme://host[:port]): ${entry}` });
  return z.NEVER;
});

/** `model:rpm:tpm`: a model with upstream limits of its own (the model id may itself contain colons). */
const MODEL_RATE_LIMIT = /^(\S+):(\d+):(\d+)$/;
const modelRateLimit = z
  .string()
  .regex(MODEL_RATE_LIMIT, 'expected model:rpm:tpm')
  .transform((entry) => {
    const [, model = '', requests, tokens] = MODEL_RATE_LIMIT.exec(entry) ?? [];
    return [model, { requestsPerWindow: Number(requests), tokensPerWindow: Number(tokens) }] as const;
  });

/** Most fallback models one model may have (FALLBACK_MODELS, a conversation's or a send's `fallbackModels`). */
export const MAX_FALLBACK_MODELS = 4;

/** `model=fallback1|fallback2`: the models tried, in order, when `model` fails in a way another could answer. */
const modelFallbacks = z.string().transform((entry, ctx) => {
  const [model = '', list, ...rest] = entry.split('=');
  const fallbacks = list?.split('|').map((name) => name.trim()) ?? [];
  const names = z
    .array(modelNameSchema)
    .min(2)
    .max(MAX_FALLBACK_MODELS + 1)
    .safeParse([model.trim(), ...fallbacks]);
  if (rest.length > 0 || !names.success) {
    ctx.addIssue({
      code: 'custom',
      message: `expected model=fallback[|fallback...] (model names, at most ${MAX_FALLBACK_MODELS} fallbacks): ${entry}`,
    });
    return z.NEVER;
  }
  if (new Set(names.data).size !== names.data.length) {
    ctx.addIssue({ code: 'custom', message: `names a model twice: ${entry}` });
    return z.NEVER;
  }
  const [primary = '', ...others] = names.data;
  return [primary, others] as const;
});

/** Every environment variable the server reads, with its default; README lists the same table. */
export const envSchema = z.object({
  HOST: z.string().default('127.0.0.1'),
  PORT: z.coerce.number().int().min(0).max(65535).default(4000),
  DATABASE_URL: z.string().default('./data/agent-platform'),
  API_KEYS: optionalString.pipe(
    z
      .string()
      .optional()
      .transform((value) => (value ? value.split(',').map((entry) => entry.trim()) : []))
      .pipe(z.array(apiKeyEntry)),
  ),
  OPENAI_API_KEY: optionalString,
  OPENAI_BASE_URL: optionalString.pipe(z.url().optional()),
  OPENAI_MODEL: z.string().min(1).default('gpt-4.1-mini'),
  OPENAI_MODELS: commaList,
  OPENAI_MODELS_REFRESH_MS: z.coerce.number().int().min(1000).default(600_000),
  FALLBACK_MODELS: commaList.pipe(z.array(modelFallbacks)).transform((entries, ctx) => {
    const primaries = entries.map(([model]) => model);
    const twice = primaries.find((model, index) => primaries.indexOf(model) !== index);
    if (twice) ctx.addIssue({ code: 'custom', message: `${twice} has two entries` });
    return Object.fromEntries(entries) as Record<string, readonly string[]>;
  }),
  OPENAI_TOKEN_LIMIT_PARAM: z.enum(['auto', 'max_tokens', 'max_completion_tokens']).default('auto'),
  OPENAI_MAX_TOKENS: z.coerce.number().int().min(1).default(2000),
  OPENAI_TEMPERATURE: z.coerce.number().min(0).max(2).default(0.7),
  OPENAI_TIMEOUT_MS: z.coerce.number().int().min(1).default(60_000),
  OPENAI_MAX_RETRIES: z.coerce.number().int().min(0).max(10).default(2),
  OPENAI_RETRY_BASE_DELAY_MS: z.coerce.number().int().min(1).default(500),
  OPENAI_RETRY_MAX_DELAY_MS: z.coerce.number().int().min(1).default(8000),
  RATE_LIMIT_RPM: z.coerce.number().int().min(1).default(60),
  RATE_LIMIT_TPM: z.coerce.number().int().min(1).default(90_000),
  RATE_LIMIT_MODELS: commaList
    .pipe(z.array(modelRateLimit))
    .transform((entries) => Object.fromEntries(entries)),
  RATE_LIMIT_WINDOW_MS: z.coerce.number().int().min(100).default(60_000),
  RATE_LIMIT_MAX_WAIT: z.coerce.number().int().min(0).default(30_000),
  CLIENT_RPM: z.coerce.number().int().min(1).default(600),
  CLIENT_MAX_STREAMS: z.coerce.number().int().min(1).default(100),
  CACHE_TTL_MS: z.coerce.number().int().min(1).default(3_600_000),
  CACHE_MAX_ENTRIES: z.coerce.number().int().min(1).default(1000),
  REDIS_URL: optionalString,
  REDIS_KEY_PREFIX: z.string().default('agent-platform:'),
  MODEL_TABLE_JSON: optionalString.pipe(
    z
      .string()
      .optional()
      .transform((value, ctx) => {
        if (!value) return [];
        try {
          return JSON.parse(value) as unknown;
        } catch {
          ctx.addIssue({ code: 'custom', message: 'not valid JSON' });
          return z.NEVER;
        }
      })
      .pipe(z.array(modelInfoSchema)),
  ),
  COMPLETION_EVENT_TTL_MS: z.coerce
    .number()
    .int()
    .min(1000)
    .default(10 * 60_000),
  MAX_REQUEST_BYTES: z.coerce.number().int().min(1024).default(1_000_000),
  CORS_ORIGINS: commaList.pipe(z.array(corsOrigin)),
  MAX_MESSAGE_CHARS: z.coerce.number().int().min(1).default(200_000),
  GRAPHQL_MAX_DEPTH: z.coerce.number().int().min(1).default(12),
  GRAPHQL_MAX_ALIASES: z.coerce.number().int().min(1).default(30),
  GRAPHQL_MAX_TOKENS: z.coerce.number().int().min(100).default(5000),
  GRAPHQL_MAX_COST: z.coerce.number().int().min(100).default(50_000),
  GRAPHQL_INTROSPECTION: optionalString.pipe(
    z
      .enum(['true', 'false'])
      .optional()
      .transform((value) => (value === undefined ? undefined : value === 'true')),
  ),
  BUDGET_CACHE_MS: z.coerce.number().int().min(0).max(300_000).default(5_000),
  COMPLETION_LEASE_MS: z.coerce.number().int().min(300).default(15_000),
  SHUTDOWN_GRACE_MS: z.coerce.number().int().min(0).default(10_000),
  FUNCTION_WEBHOOK_ALLOWLIST: commaList.pipe(z.array(webhookAllowlistEntry)),
  TOOL_APPROVAL_TIMEOUT_MS: z.coerce
    .number()
    .int()
    .min(1000)
    .default(15 * 60_000),
  FUNCTION_TIMEOUT_MS: z.coerce.number().int().min(1).default(10_000),
  FUNCTION_MAX_ARGUMENT_BYTES: z.coerce
    .number()
    .int()
    .min(64)
    .default(64 * 1024),
  FUNCTION_MAX_RESULT_BYTES: z.coerce
    .number()
    .int()
    .min(64)
    .default(64 * 1024),
  HIGH_RISK_MERCHANTS: commaList.transform((merchants) =>
    merchants.map((merchant) => merchant.toLowerCase()),
  ),
  RISK_VELOCITY_MAX_TRANSACTIONS: z.coerce.number().int().min(1).default(5),
  RISK_VELOCITY_WINDOW_MINUTES: z.coerce.number().int().min(1).default(60),
  LOG_LEVEL: z.enum(['fatal', 'error', 'warn', 'info', 'debug', 'trace', 'silent']).default('info'),
  LOG_FILE: optionalString,
  METRICS_TOKEN: optionalString.pipe(z.string().min(16, 'use at least 16 characters').optional()),
  PERSISTED_DOCUMENTS: commaList,
  PERSISTED_DOCUMENTS_ONLY: z
    .enum(['true', 'false'])
    .default('false')
    .transform((value) => value === 'true'),
  ...tracingEnv,
});

/** Unset or blank: undefined; otherwise a number that `schema` accepts. */
const optionalNumber = (schema: z.ZodNumber) =>
  optionalString.pipe(z.coerce.number<string>().pipe(schema).optional());

/**
 * The variables of the simulator run alone (`npm run simulator`); README lists the same table. The server's
 * embedded simulator reads none of them.
 */
export const simulatorEnvSchema = z
  .object({
    SIMULATOR_PORT: optionalNumber(z.number().int().min(0).max(65535)),
    SIMULATOR_HOST: optionalString,
    SIMULATOR_FIRST_TOKEN_MS: optionalNumber(z.number().nonnegative()),
    SIMULATOR_CHUNK_DELAY_MS: optionalNumber(z.number().nonnegative()),
    SIMULATOR_REPLY_WORDS: optionalNumber(z.number().int().nonnegative()),
    SIMULATOR_OMIT_USAGE: optionalString.pipe(z.enum(['true', 'false', '1', '0']).optional()),
  })
  .transform((env) => ({
    port: env.SIMULATOR_PORT ?? 4010,
    host: env.SIMULATOR_HOST ?? '127.0.0.1',
    firstTokenMs: env.SIMULATOR_FIRST_TOKEN_MS,
    chunkDelayMs: env.SIMULATOR_CHUNK_DELAY_MS,
    replyWords: env.SIMULATOR_REPLY_WORDS,
    omitUsage: env.SIMULATOR_OMIT_USAGE === 'true' || env.SIMULATOR_OMIT_USAGE === '1',
  }));

export type SimulatorConfig = z.output<typeof simulatorEnvSchema>;

export type Env = z.input<typeof envSchema>;
export type Config = z.output<typeof envSchema> & {
  /** True when no API key is configured: every request acts as the local development principal. */
  devMode: boolean;
  /** Schema introspection and GraphiQL: GRAPHQL_INTROSPECTION, or on in development mode when it is unset. */
  introspection: boolean;
  /** OpenTelemetry traces, or null when they are off (see tracingOf). */
  tracing: TracingConfig | null;
};

export class ConfigError extends Error {}

function parseEnv<T extends z.ZodType>(schema: T, env: Record<string, string | undefined>): z.output<T> {
  const parsed = schema.safeParse(env);
  if (!parsed.success) {
    const problems = parsed.error.issues.map((issue) => `${issue.path.join('.')}: ${issue.message}`);
    throw new ConfigError(`Invalid configuration:\n  ${problems.join('\n  ')}`);
  }
  return parsed.data;
}

export function loadConfig(env: Record<string, string | undefined>): Config {
  const config = parseEnv(envSchema, env);
  const devMode = config.API_KEYS.length === 0;
  if (devMode && !LOOPBACK_HOSTS.has(config.HOST)) {
    throw new ConfigError(
      `Refusing to listen on ${config.HOST} without API keys: set API_KEYS, or bind HOST to 127.0.0.1 for single-user development mode.`,
    );
  }
  if (config.PERSISTED_DOCUMENTS_ONLY && config.PERSISTED_DOCUMENTS.length === 0) {
    throw new ConfigError('PERSISTED_DOCUMENTS_ONLY=true needs PERSISTED_DOCUMENTS: no operation could run.');
  }
  return {
    ...config,
    devMode,
    introspection: config.GRAPHQL_INTROSPECTION ?? devMode,
    tracing: tracingOf(config),
  };
}

export function loadSimulatorConfig(env: Record<string, string | undefined>): SimulatorConfig {
  return parseEnv(simulatorEnvSchema, env);
}
