import type { APIError } from 'openai';

/** Longest upstream error message passed on; an echoing upstream can send anything. */
const MAX_MESSAGE_CHARS = 500;
const CREDENTIALS = [/\bBearer\s+[^\s"',;]+/gi, /\bsk-[\w-]{6,}/g];

/**
 * What of an upstream error reaches our clients: the status and the error's `message`, `type`, `param` and
 * `code` as the OpenAI error body defines them, with credentials redacted. Never the raw body, which a hostile
 * or echoing upstream can fill with our request (Authorization header included).
 */
export function upstreamErrorDetail(error: APIError, apiKey: string): string {
  const body = (typeof error.error === 'object' && error.error !== null ? error.error : {}) as Record<
    string,
    unknown
  >;
  const text = (value: unknown) => (typeof value === 'string' && value !== '' ? value : null);
  const message = text(body.message) ?? 'no error message';
  const fields = (['type', 'param', 'code'] as const)
    .map((name) => [name, text(body[name])] as const)
    .filter(([, value]) => value !== null)
    .map(([name, value]) => `${name}: ${value}`);
  const detail = `${error.status ?? ''} ${message}${fields.length ? ` (${fields.join(', ')})` : ''}`.trim();
  return redact(detail, apiKey).slice(0, MAX_MESSAGE_CHARS);
}

function redact(text: string, apiKey: string): string {
  const withoutKey = apiKey ? text.split(apiKey).join('[redacted]') : text;
  return CREDENTIALS.reduce((redacted, pattern) => redacted.replace(pattern, '[redacted]'), withoutKey);
}
