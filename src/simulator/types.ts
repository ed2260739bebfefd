import type { IncomingHttpHeaders } from 'node:http';
import { z } from 'zod';
import type { ModelTable } from '../tokens/index.js';

export const faultSchema = z.discriminatedUnion('type', [
  z.object({
    type: z.literal('rate_limit'),
    retryAfterSeconds: z.number().nonnegative().optional(),
    retryAfterMs: z.number().nonnegative().optional(),
  }),
  z.object({ type: z.literal('server_error'), status: z.number().int().min(500).max(599).optional() }),
  z.object({ type: z.literal('bad_request'), message: z.string().optional() }),
  /**
   * Send nothing for `ms` (then answer normally), or until the client gives up: before the response, or in a
   * stream after the role chunk and `afterChunks` content chunks (a stall mid-stream).
   */
  z.object({
    type: z.literal('stall'),
    ms: z.number().nonnegative().optional(),
    afterChunks: z.number().int().nonnegative().optional(),
  }),
  /** Streams: send the role chunk and `afterChunks` content chunks, then destroy the socket. JSON: no response. */
  z.object({ type: z.literal('disconnect'), afterChunks: z.number().int().nonnegative() }),
  /** The first tool call of the response carries this raw arguments string (e.g. malformed JSON). */
  z.object({ type: z.literal('tool_arguments'), arguments: z.string() }),
  /** The model declines: `message.refusal` (`delta.refusal` in streams) instead of content. */
  z.object({ type: z.literal('refusal') }),
]);

export type Fault = z.infer<typeof faultSchema>;

export const latencySchema = z.object({
  firstTokenMs: z.number().nonnegative().optional(),
  chunkDelayMs: z.number().nonnegative().optional(),
});

export type Latency = z.infer<typeof latencySchema>;

export interface SimulatorOptions {
  /** 0 (default) picks a free port. */
  port?: number;
  host?: string;
  /** Delay before the first content chunk (for JSON responses: before the body). */
  firstTokenMs?: number;
  /** Delay between content chunks (JSON responses wait the same total). */
  chunkDelayMs?: number;
  /** Plain replies become exactly this many words derived from the prompt, one chunk per word. */
  replyWords?: number;
  models?: ModelTable;
  /** Sends `x-ratelimit-*` headers computed over a 60 s window with these limits. */
  rateLimitHeaders?: { requests: number; tokens: number };
  /** Oldest log entries are dropped beyond this many (default 10 000) so long benchmarks stay bounded. */
  requestLogLimit?: number;
  /**
   * Send no `usage`, in JSON bodies and in streams (`stream_options.include_usage` is ignored), as many
   * OpenAI-compatible servers and proxies do.
   */
  omitUsage?: boolean;
}

export type SimulatedRequestStatus = 'running' | 'completed' | 'aborted' | 'failed';

export interface SimulatedRequest {
  /** The completion id (`chatcmpl-...`), also for requests that were rejected. */
  id: string;
  /** Parsed JSON body; `{}` when the body was not a JSON object. */
  body: Record<string, unknown>;
  bodyBytes: number;
  stream: boolean;
  startedAt: number;
  finishedAt?: number;
  status: SimulatedRequestStatus;
  /** HTTP status sent, once known. */
  httpStatus?: number;
  /** SSE `data:` chunks written (role, content, tool-call, final and usage chunks; not `[DONE]`). */
  chunksSent: number;
  /** As received, except `authorization`, `api-key` and `cookie`, which read `[redacted]`. */
  headers: IncomingHttpHeaders;
  fault?: Fault;
  /** The usage of the planned reply (sent in full unless a fault or the client cut it short); absent when refused. */
  usage?: { prompt_tokens: number; completion_tokens: number; total_tokens: number };
}

/** A log entry as `GET /_simulator/requests` lists it: the body is left out when it is over 16 KiB. */
export type ListedRequest = Omit<SimulatedRequest, 'body'> & { body?: SimulatedRequest['body'] };

export type SimulatorEvent = 'request' | 'completed' | 'aborted' | 'failed';
