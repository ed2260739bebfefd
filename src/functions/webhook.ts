import { AppError, badInput, ErrorCode } from '../errors.js';
import type { Tracing } from '../observability/tracing.js';
import type { FunctionContext } from './types.js';

/**
 * Calls webhook functions: POST the arguments as JSON, read a JSON result. Only URLs on the allow-list are
 * accepted (checked at registration and again on every call, since the list may shrink between restarts), and
 * redirects are refused so an allowed host cannot send the call elsewhere.
 */
export class WebhookCaller {
  constructor(
    /** Origins (`http://host:port`) or bare hosts, as parsed by config. */
    private readonly allowlist: string[],
    private readonly maxResultBytes: number,
    private readonly tracing: Tracing,
  ) {}

  /** The normalised URL, or BAD_USER_INPUT naming `field` when it is malformed or not allowed. */
  allowedUrl(url: string, field: string): string {
    let parsed: URL;
    try {
      parsed = new URL(url);
    } catch {
      throw badInput(field, `not a URL: ${JSON.stringify(url)}`);
    }
    if (parsed.protocol !== 'http:' && parsed.protocol !== 'https:')
      throw badInput(field, 'must be an http or https URL');
    if (parsed.username || parsed.password) throw badInput(field, 'must not carry credentials');
    const allowed = this.allowlist.some((entry) => entry === parsed.origin || entry === parsed.hostname);
    if (!allowed)
      throw badInput(
        field,
        `${parsed.origin} is not on FUNCTION_WEBHOOK_ALLOWLIST` +
          (this.allowlist.length === 0 ? ' (empty: webhooks are disabled)' : ''),
      );
    return parsed.toString();
  }

  /** POSTs with the execution's `traceparent` (and `tracestate`), so the webhook's own spans join the trace. */
  async call(
    url: string,
    args: Record<string, unknown>,
    { signal, trace }: Pick<FunctionContext, 'signal' | 'trace'>,
  ): Promise<unknown> {
    const target = this.allowedUrl(url, 'webhookUrl');
    let response: Response;
    let body: string;
    try {
      response = await fetch(target, {
        method: 'POST',
        headers: {
          ...this.tracing.headers(trace),
          'content-type': 'application/json',
          accept: 'application/json',
        },
        body: JSON.stringify(args),
        redirect: 'error',
        signal,
      });
      body = await readBounded(response, this.maxResultBytes);
    } catch (error) {
      if (signal.aborted || error instanceof AppError) throw error;
      const cause = (error as Error & { cause?: Error }).cause?.message ?? (error as Error).message;
      throw failed(`webhook unreachable: ${cause}`);
    }
    if (!response.ok) throw failed(`webhook answered HTTP ${response.status}: ${body.slice(0, 200)}`);
    try {
      return JSON.parse(body) as unknown;
    } catch {
      throw failed('webhook answered with a body that is not JSON');
    }
  }
}

/** Reads at most `limit` bytes, failing as soon as the body is bigger. */
async function readBounded(response: Response, limit: number): Promise<string> {
  const chunks: Uint8Array[] = [];
  const reader = response.body?.getReader();
  let size = 0;
  for (let read = await reader?.read(); read && !read.done; read = await reader?.read()) {
    size += read.value.byteLength;
    if (size > limit) {
      await reader?.cancel();
      throw failed(`webhook result exceeds ${limit} bytes`);
    }
    chunks.push(read.value);
  }
  return Buffer.concat(chunks).toString('utf8');
}

const failed = (message: string) => new AppError(ErrorCode.FUNCTION_FAILED, message);
