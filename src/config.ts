import { z } from 'zod';
import { modelInfoSchema } from './tokens/index.js';

const LOOPBACK_HOSTS = new Set(['127.0.0.1', 'localhost', '::1']);

const optionalString = z
  .string()
  .optional()
  .transform((value) => (value === undefined || value.trim() === '' ? undefined : value.trim()));

const apiKeyEntry = z
  .string()
  .regex(/^[\w.-]+:[\w.~+/=-]{8,}(:[\w|]+)?$/, 'expected principal:key[:scope|scope]')
  .transform((entry) => {
    const [principal = '', key = '', scopes = ''] = entry.split(':');
    return { principal, key, scopes: scopes ? scopes.split('|') : [] };
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
      .transform((value) => (value ? value.split(',').map((entry) => apiKeyEntry.parse(entry.trim())) : [])),
  ),
  OPENAI_API_KEY: optionalString,
  OPENAI_BASE_URL: optionalString.pipe(z.url().optional()),
  OPENAI_MODEL: z.string().min(1).default('gpt-4'),
  OPENAI_MAX_TOKENS: z.coerce.number().int().min(1).default(2000),
  OPENAI_TEMPERATURE: z.coerce.number().min(0).max(2).default(0.7),
  OPENAI_TIMEOUT_MS: z.coerce.number().int().min(1).default(60_000),
  OPENAI_MAX_RETRIES: z.coerce.number().int().min(0).max(10).default(2),
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
  GRAPHQL_MAX_DEPTH: z.coerce.number().int().min(1).default(12),
  GRAPHQL_MAX_ALIASES: z.coerce.number().int().min(1).default(30),
  GRAPHQL_MAX_TOKENS: z.coerce.number().int().min(100).default(5000),
  GRAPHQL_MAX_COST: z.coerce.number().int().min(100).default(50_000),
  SHUTDOWN_GRACE_MS: z.coerce.number().int().min(0).default(10_000),
  LOG_LEVEL: z.enum(['fatal', 'error', 'warn', 'info', 'debug', 'trace', 'silent']).default('info'),
});

export type Env = z.input<typeof envSchema>;
export type Config = z.output<typeof envSchema> & {
  /** True when no API key is configured: every request acts as the local development principal. */
  devMode: boolean;
};

export class ConfigError extends Error {}

export function loadConfig(env: Record<string, string | undefined>): Config {
  const parsed = envSchema.safeParse(env);
  if (!parsed.success) {
    const problems = parsed.error.issues.map((issue) => `${issue.path.join('.')}: ${issue.message}`);
    throw new ConfigError(`Invalid configuration:\n  ${problems.join('\n  ')}`);
  }
  const config = parsed.data;
  const devMode = config.API_KEYS.length === 0;
  if (devMode && !LOOPBACK_HOSTS.has(config.HOST)) {
    throw new ConfigError(
      `Refusing to listen on ${config.HOST} without API keys: set API_KEYS, or bind HOST to 127.0.0.1 for single-user development mode.`,
    );
  }
  return { ...config, devMode };
}
