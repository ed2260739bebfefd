import { DrizzleQueryError } from 'drizzle-orm';
import pino, { type Logger } from 'pino';

export type { Logger };

/** Paths that may carry secrets; pino replaces them before anything is written. */
export const REDACTED_PATHS = [
  'authorization',
  '*.authorization',
  'headers.authorization',
  '*.headers.authorization',
  'headers.cookie',
  '*.headers.cookie',
  'connectionParams',
  '*.connectionParams',
  'apiKey',
  '*.apiKey',
  'key',
  'OPENAI_API_KEY',
  '*.OPENAI_API_KEY',
  'API_KEYS',
  '*.API_KEYS',
  'METRICS_TOKEN',
  '*.METRICS_TOKEN',
];

const options = (level: string): pino.LoggerOptions => ({
  level,
  redact: { paths: REDACTED_PATHS, censor: '[redacted]' },
  base: { service: 'agent-platform' },
  // Message contents are for debug only, at every level: failed SQL carries them in its parameters.
  serializers: level === 'debug' || level === 'trace' ? {} : { err: errorWithoutContent },
});

/**
 * pino's error serializer, less what carries stored content: drizzle's failed-query parameters (in the message
 * and the stack, of the error and of any error it wraps) and PostgreSQL's `detail` (a failing row, in full).
 */
function errorWithoutContent(error: unknown): unknown {
  const serialized = pino.stdSerializers.err(error as Error) as unknown as Record<string, unknown>;
  if (serialized === error) return error;
  for (const cause of causes(error)) {
    if (!(cause instanceof DrizzleQueryError)) continue;
    const parameters = `\nparams: ${cause.params}`;
    for (const key of ['message', 'stack'] as const) {
      const text = serialized[key];
      if (typeof text === 'string') serialized[key] = text.replaceAll(parameters, '\nparams: [redacted]');
    }
  }
  for (const key of ['params', 'detail']) if (key in serialized) serialized[key] = '[redacted]';
  return serialized;
}

/** The error and those it wraps (GraphQL's originalError, the standard cause). */
function* causes(error: unknown): Generator<unknown> {
  const seen = new Set<unknown>();
  for (let current = error; current instanceof Error && !seen.has(current); ) {
    seen.add(current);
    yield current;
    const { originalError, cause } = current as Error & { originalError?: unknown };
    current = originalError ?? cause;
  }
}

export function createLogger(level: string, destination?: pino.DestinationStream): Logger {
  return pino(options(level), destination);
}

/**
 * LOG_FILE's logger: it receives only the upstream-interaction lines. It records every call whatever LOG_LEVEL
 * says (info at least), with message contents when LOG_LEVEL is debug. Writes are synchronous so a line is on
 * disk when the call has ended, even if the process dies next.
 */
export function createFileLogger(path: string, level: string): { logger: Logger; close(): void } {
  const destination = pino.destination({ dest: path, sync: true, mkdir: true });
  const verbose = level === 'debug' || level === 'trace';
  return { logger: pino(options(verbose ? level : 'info'), destination), close: () => destination.end() };
}

/** A client-sent x-request-id is kept when it looks like an id, so a caller can follow its request in the logs. */
export function requestIdFrom(header: string | null | undefined): string | null {
  return header && /^[\w.:-]{1,128}$/.test(header) ? header : null;
}
