import { EventEmitter, once } from 'node:events';
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { setTimeout as delay } from 'node:timers/promises';
import { z } from 'zod';
import { ModelTable, TokenCounter } from '../tokens/index.js';
import { checkModelParameters, reasoningTokens } from './parameters.js';
import { type ApiError, apiError, isApiError, validateChatRequest } from './protocol.js';
import { type PlannedToolCall, planReply, type ReplyPlan } from './reply.js';
import { checkResponseFormat } from './response-format.js';
import {
  type Fault,
  faultSchema,
  type Latency,
  latencySchema,
  type SimulatedRequest,
  type SimulatedRequestStatus,
  type SimulatorEvent,
  type SimulatorOptions,
  usageSettingSchema,
} from './types.js';

type Headers = Record<string, string>;

interface Waiter {
  predicate: (request: SimulatedRequest) => boolean;
  resolve: (request: SimulatedRequest) => void;
  reject: (error: Error) => void;
}

/** Credentials the listed request log never shows (the real key of whoever calls the simulator). */
const redactedHeaders = (headers: SimulatedRequest['headers']) =>
  Object.fromEntries(
    ['authorization', 'api-key', 'cookie']
      .filter((name) => name in headers)
      .map((name) => [name, '[redacted]']),
  );

/** Bodies bigger than this are left out of `GET /_simulator/requests`. */
const MAX_LOGGED_BODY_BYTES = 16 * 1024;
/** Zero-delay streams are written in batches of about this size rather than one write per chunk. */
const WRITE_BATCH_CHARS = 64 * 1024;
const TOOL_ARGUMENT_PIECE_CHARS = 8;
const RATE_WINDOW_MS = 60_000;
const FINGERPRINT = 'fp_simulator';

const faultRequestSchema = z.object({ fault: faultSchema, times: z.number().int().positive().default(1) });

/** Starts a simulator and resolves once it is listening. */
export async function createSimulator(options: SimulatorOptions = {}): Promise<Simulator> {
  const simulator = new Simulator(options);
  await simulator.listen();
  return simulator;
}

/**
 * A deterministic OpenAI-compatible chat completions server (see ARCHITECTURE.md, "The built-in simulator").
 * Every chat completion request is logged in `requests` with its live status; tests wait on it with `waitFor`.
 */
export class Simulator {
  readonly requests: SimulatedRequest[] = [];
  private readonly server: Server;
  private readonly events = new EventEmitter();
  private readonly faults: { fault: Fault; remaining: number }[] = [];
  private readonly waiters = new Set<Waiter>();
  private readonly models: ModelTable;
  private readonly counter: TokenCounter;
  private latency: Required<Latency>;
  private omitUsage: boolean;
  private address: AddressInfo | undefined;
  private completionSequence = 0;
  private toolCallSequence = 0;
  private rateWindow = { startedAt: 0, requests: 0, tokens: 0 };

  constructor(private readonly options: SimulatorOptions = {}) {
    this.models = options.models ?? new ModelTable();
    this.counter = new TokenCounter(this.models);
    this.latency = { firstTokenMs: options.firstTokenMs ?? 0, chunkDelayMs: options.chunkDelayMs ?? 0 };
    this.omitUsage = options.omitUsage ?? false;
    this.server = createServer((req, res) => {
      this.route(req, res).catch(() => {
        if (!res.headersSent)
          sendJson(res, 500, apiError(500, 'Simulator failure.', { type: 'server_error' }).body);
        else res.destroy();
      });
    });
  }

  /** Base URL ending in `/v1`, ready to use as the openai SDK's `baseURL`. */
  get url(): string {
    if (!this.address) throw new Error('The simulator is not listening');
    const host = this.address.family === 'IPv6' ? `[${this.address.address}]` : this.address.address;
    return `http://${host}:${this.address.port}/v1`;
  }

  async listen(): Promise<void> {
    this.server.listen(this.options.port ?? 0, this.options.host ?? '127.0.0.1');
    await once(this.server, 'listening');
    this.address = this.server.address() as AddressInfo;
  }

  async close(): Promise<void> {
    for (const waiter of this.waiters) waiter.reject(new Error('The simulator was closed'));
    this.waiters.clear();
    const closed = new Promise<void>((resolve, reject) =>
      this.server.close((error) => (error ? reject(error) : resolve())),
    );
    this.server.closeAllConnections();
    await closed;
  }

  setLatency(latency: Latency): void {
    this.latency = { ...this.latency, ...latency };
  }

  /** Whether responses leave `usage` out (see SimulatorOptions.omitUsage). */
  setOmitUsage(omit: boolean): void {
    this.omitUsage = omit;
  }

  /** Queues a fault for the next `times` chat completion requests (FIFO; each request consumes one). */
  injectFault(fault: Fault, times = 1): void {
    if (times > 0) this.faults.push({ fault, remaining: times });
  }

  clearFaults(): void {
    this.faults.length = 0;
  }

  clearRequests(): void {
    this.requests.length = 0;
  }

  on(event: SimulatorEvent, listener: (request: SimulatedRequest) => void): this {
    this.events.on(event, listener);
    return this;
  }

  off(event: SimulatorEvent, listener: (request: SimulatedRequest) => void): this {
    this.events.off(event, listener);
    return this;
  }

  /** Resolves with the first logged request matching `predicate`, now or as soon as one changes to match. */
  waitFor(predicate: (request: SimulatedRequest) => boolean, timeoutMs = 5000): Promise<SimulatedRequest> {
    const existing = this.requests.find(predicate);
    if (existing) return Promise.resolve(existing);
    return new Promise((resolve, reject) => {
      const timer = setTimeout(() => {
        this.waiters.delete(waiter);
        reject(new Error(`No simulated request matched within ${timeoutMs} ms`));
      }, timeoutMs);
      const waiter: Waiter = {
        predicate,
        resolve: (request) => {
          clearTimeout(timer);
          this.waiters.delete(waiter);
          resolve(request);
        },
        reject: (error) => {
          clearTimeout(timer);
          reject(error);
        },
      };
      this.waiters.add(waiter);
    });
  }

  private async route(req: IncomingMessage, res: ServerResponse): Promise<void> {
    const path = (req.url ?? '/').split('?')[0] ?? '/';
    if (req.method === 'POST' && (path === '/v1/chat/completions' || path === '/chat/completions')) {
      return this.chatCompletion(req, res);
    }
    if (req.method === 'GET' && (path === '/v1/models' || path === '/models')) {
      const data = this.models
        .list()
        .map((model) => ({ id: model.id, object: 'model', created: 0, owned_by: 'simulator' }));
      return sendJson(res, 200, { object: 'list', data });
    }
    if (path.startsWith('/_simulator/')) return this.control(req, res, path);
    const notFound = apiError(404, `Invalid URL (${req.method} ${path})`);
    sendJson(res, notFound.status, notFound.body);
  }

  private async control(req: IncomingMessage, res: ServerResponse, path: string): Promise<void> {
    const route = `${req.method} ${path}`;
    if (route === 'POST /_simulator/faults') {
      const parsed = faultRequestSchema.safeParse(parseJson(await readBody(req)));
      if (!parsed.success) return sendJson(res, 400, { error: { message: parsed.error.message } });
      this.injectFault(parsed.data.fault, parsed.data.times);
      return sendJson(res, 200, { queued: this.faults.reduce((sum, entry) => sum + entry.remaining, 0) });
    }
    if (route === 'DELETE /_simulator/faults') {
      this.clearFaults();
      return sendEmpty(res);
    }
    if (route === 'POST /_simulator/latency') {
      const parsed = latencySchema.safeParse(parseJson(await readBody(req)));
      if (!parsed.success) return sendJson(res, 400, { error: { message: parsed.error.message } });
      this.setLatency(parsed.data);
      return sendJson(res, 200, this.latency);
    }
    if (route === 'POST /_simulator/usage') {
      const parsed = usageSettingSchema.safeParse(parseJson(await readBody(req)));
      if (!parsed.success) return sendJson(res, 400, { error: { message: parsed.error.message } });
      this.setOmitUsage(parsed.data.omit);
      return sendJson(res, 200, { omit: this.omitUsage });
    }
    if (route === 'GET /_simulator/requests') {
      const data = this.requests.map(({ body, headers, ...rest }) => {
        const listed = { ...rest, headers: { ...headers, ...redactedHeaders(headers) } };
        return rest.bodyBytes > MAX_LOGGED_BODY_BYTES ? listed : { ...listed, body };
      });
      return sendJson(res, 200, { data });
    }
    if (route === 'DELETE /_simulator/requests') {
      this.clearRequests();
      return sendEmpty(res);
    }
    sendJson(res, 404, { error: { message: `Unknown simulator control route ${route}` } });
  }

  private async chatCompletion(req: IncomingMessage, res: ServerResponse): Promise<void> {
    const raw = await readBody(req);
    const parsed = parseJson(raw);
    const body = isRecord(parsed) ? parsed : {};
    const record: SimulatedRequest = {
      id: `chatcmpl-sim${(++this.completionSequence).toString().padStart(8, '0')}`,
      body,
      bodyBytes: raw.length,
      stream: body.stream === true,
      startedAt: Date.now(),
      status: 'running',
      chunksSent: 0,
      headers: req.headers,
    };
    const abort = new AbortController();
    res.on('close', () => {
      abort.abort();
      if (record.status === 'running') this.settle(record, res.writableFinished ? 'completed' : 'aborted');
    });
    this.log(record);

    const fault = this.takeFault();
    record.fault = fault;
    const requestId = `req_${record.id.slice('chatcmpl-'.length)}`;
    switch (fault?.type) {
      case 'rate_limit': {
        const headers: Headers = { ...this.rateLimitHeaders(0, true), 'x-request-id': requestId };
        if (fault.retryAfterSeconds !== undefined) headers['retry-after'] = String(fault.retryAfterSeconds);
        if (fault.retryAfterMs !== undefined) headers['retry-after-ms'] = String(fault.retryAfterMs);
        const error = apiError(429, 'Rate limit reached for requests. Please try again later.', {
          type: 'requests',
          code: 'rate_limit_exceeded',
        });
        return this.reject(record, res, error, headers);
      }
      case 'server_error': {
        const error = apiError(
          fault.status ?? 500,
          'The server had an error while processing your request.',
          {
            type: 'server_error',
          },
        );
        return this.reject(record, res, error, { 'x-request-id': requestId });
      }
      case 'bad_request':
        return this.reject(record, res, apiError(400, fault.message ?? 'Simulated bad request.'), {
          'x-request-id': requestId,
        });
      case 'stall':
        if (fault.afterChunks !== undefined && record.stream) break;
        if (!(await pause(fault.ms ?? Number.POSITIVE_INFINITY, abort.signal))) return;
        break;
    }

    let validated = await validateChatRequest(parsed, this.counter, this.models);
    if (!isApiError(validated)) {
      validated = checkModelParameters(body, this.models.get(validated.request.model)) ?? validated;
    }
    const responseFormat = isApiError(validated) ? undefined : checkResponseFormat(validated.request);
    if (isApiError(validated) || (responseFormat && 'status' in responseFormat)) {
      const error = isApiError(validated) ? validated : (responseFormat as ApiError);
      return this.reject(record, res, error, {
        ...this.rateLimitHeaders(0, false),
        'x-request-id': requestId,
      });
    }
    const model = this.models.get(validated.request.model);
    const reasoning = reasoningTokens(body, model);
    const plan = await planReply(validated, this.counter, {
      responseFormat,
      refuse: fault?.type === 'refusal',
      replyWords: this.options.replyWords,
      nextToolCallId: () => `call_sim${(++this.toolCallSequence).toString().padStart(16, '0')}`,
      toolArgumentsOverride: fault?.type === 'tool_arguments' ? fault.arguments : undefined,
      reasoningTokens: reasoning,
    });
    const usage: Usage = {
      prompt_tokens: validated.promptTokens,
      completion_tokens: plan.completionTokens,
      total_tokens: validated.promptTokens + plan.completionTokens,
      // Reasoning models report their thinking, part of completion_tokens.
      ...(model.reasoningEfforts ? { completion_tokens_details: { reasoning_tokens: reasoning } } : {}),
    };
    record.usage = usage;
    const headers: Headers = {
      ...this.rateLimitHeaders(usage.total_tokens, false),
      'x-request-id': requestId,
      'openai-model': validated.request.model,
    };
    const response: ResponseParts = {
      id: record.id,
      created: Math.floor(record.startedAt / 1000),
      model: validated.request.model,
      plan,
      usage,
    };
    const disconnectAfter = fault?.type === 'disconnect' ? fault.afterChunks : undefined;
    if (record.stream) {
      const includeUsage = !this.omitUsage && validated.request.stream_options?.include_usage === true;
      const stall =
        fault?.type === 'stall' && fault.afterChunks !== undefined
          ? { afterChunks: fault.afterChunks, ms: fault.ms ?? Number.POSITIVE_INFINITY }
          : undefined;
      return this.stream(record, res, streamFrames(response, includeUsage), headers, abort.signal, {
        disconnectAfter,
        stall,
      });
    }
    const wait = this.latency.firstTokenMs + this.latency.chunkDelayMs * Math.max(0, plan.pieces.length - 1);
    if (!(await pause(wait, abort.signal))) return;
    if (disconnectAfter !== undefined) return this.disconnect(record, res);
    record.httpStatus = 200;
    sendJson(res, 200, completionBody(response, !this.omitUsage), headers);
  }

  /**
   * Frames go out as soon as they are due: `firstTokenMs` before the role and first content chunk, `chunkDelayMs`
   * before each later content chunk. Frames due at the same time are written together, a batch at a time.
   */
  private async stream(
    record: SimulatedRequest,
    res: ServerResponse,
    { frames, contentEnd }: { frames: string[]; contentEnd: number },
    headers: Headers,
    signal: AbortSignal,
    cut: { disconnectAfter?: number; stall?: { afterChunks: number; ms: number } },
  ): Promise<void> {
    const { disconnectAfter, stall } = cut;
    record.httpStatus = 200;
    res.writeHead(200, {
      ...headers,
      'content-type': 'text/event-stream; charset=utf-8',
      'cache-control': 'no-cache',
      connection: 'keep-alive',
    });
    res.flushHeaders();
    const last = disconnectAfter === undefined ? frames.length : Math.min(frames.length, 1 + disconnectAfter);
    let batch = '';
    let batched = 0;
    const flush = async () => {
      if (batch === '') return;
      const drained = res.write(batch);
      record.chunksSent += batched;
      batch = '';
      batched = 0;
      if (this.waiters.size > 0) this.notify(record);
      if (!drained) await once(res, 'drain', { signal }).catch(() => undefined);
    };
    for (let i = 0; i < last; i++) {
      const paced =
        i === 0 ? this.latency.firstTokenMs : i >= 2 && i < contentEnd ? this.latency.chunkDelayMs : 0;
      const wait = stall && i === 1 + stall.afterChunks ? paced + stall.ms : paced;
      if (wait > 0) {
        await flush();
        if (!(await pause(wait, signal))) return;
      }
      const frame = frames[i] ?? '';
      batch += frame;
      if (frame !== DONE_FRAME) batched++;
      if (batch.length >= WRITE_BATCH_CHARS) await flush();
      if (signal.aborted) return;
    }
    await flush();
    if (signal.aborted) return;
    if (disconnectAfter !== undefined) return this.disconnect(record, res);
    res.end();
  }

  private disconnect(record: SimulatedRequest, res: ServerResponse): void {
    this.settle(record, 'failed');
    // end() rather than destroy(): the chunks already written must reach the client before the connection drops.
    res.socket?.end();
  }

  private reject(record: SimulatedRequest, res: ServerResponse, error: ApiError, headers: Headers): void {
    record.httpStatus = error.status;
    this.settle(record, 'failed');
    sendJson(res, error.status, error.body, headers);
  }

  private takeFault(): Fault | undefined {
    const head = this.faults[0];
    if (!head) return undefined;
    if (--head.remaining <= 0) this.faults.shift();
    return head.fault;
  }

  private log(record: SimulatedRequest): void {
    this.requests.push(record);
    const excess = this.requests.length - (this.options.requestLogLimit ?? 10_000);
    if (excess > 0) this.requests.splice(0, excess);
    this.events.emit('request', record);
    this.notify(record);
  }

  private settle(record: SimulatedRequest, status: Exclude<SimulatedRequestStatus, 'running'>): void {
    record.status = status;
    record.finishedAt = Date.now();
    this.events.emit(status, record);
    this.notify(record);
  }

  private notify(record: SimulatedRequest): void {
    for (const waiter of this.waiters) if (waiter.predicate(record)) waiter.resolve(record);
  }

  private rateLimitHeaders(tokens: number, exhausted: boolean): Headers {
    const limits = this.options.rateLimitHeaders;
    if (!limits) return {};
    const now = Date.now();
    if (now - this.rateWindow.startedAt >= RATE_WINDOW_MS)
      this.rateWindow = { startedAt: now, requests: 0, tokens: 0 };
    this.rateWindow.requests++;
    this.rateWindow.tokens += tokens;
    const reset = formatDuration(RATE_WINDOW_MS - (now - this.rateWindow.startedAt));
    return {
      'x-ratelimit-limit-requests': String(limits.requests),
      'x-ratelimit-remaining-requests': String(
        exhausted ? 0 : Math.max(0, limits.requests - this.rateWindow.requests),
      ),
      'x-ratelimit-reset-requests': reset,
      'x-ratelimit-limit-tokens': String(limits.tokens),
      'x-ratelimit-remaining-tokens': String(
        exhausted ? 0 : Math.max(0, limits.tokens - this.rateWindow.tokens),
      ),
      'x-ratelimit-reset-tokens': reset,
    };
  }
}

interface ResponseParts {
  id: string;
  created: number;
  model: string;
  plan: ReplyPlan;
  usage: Usage;
}

interface Usage {
  prompt_tokens: number;
  completion_tokens: number;
  total_tokens: number;
  completion_tokens_details?: { reasoning_tokens: number };
}

const DONE_FRAME = 'data: [DONE]\n\n';

function completionBody({ id, created, model, plan, usage }: ResponseParts, includeUsage: boolean) {
  const message: Record<string, unknown> = {
    role: 'assistant',
    content: plan.content,
    refusal: plan.refusal,
  };
  if (plan.toolCalls.length > 0) message.tool_calls = plan.toolCalls.map(toolCallJson);
  return {
    id,
    object: 'chat.completion',
    created,
    model,
    system_fingerprint: FINGERPRINT,
    choices: [{ index: 0, message, logprobs: null, finish_reason: plan.finishReason }],
    ...(includeUsage ? { usage } : {}),
  };
}

function toolCallJson(call: PlannedToolCall) {
  return { id: call.id, type: 'function', function: { name: call.name, arguments: call.arguments } };
}

/**
 * All SSE frames of a response, built from one precomputed prefix so each chunk costs one small stringify.
 * `contentEnd` is the index after the last content/tool-call frame (the ones paced by `chunkDelayMs`).
 */
function streamFrames(
  { id, created, model, plan, usage }: ResponseParts,
  includeUsage: boolean,
): { frames: string[]; contentEnd: number } {
  const head =
    `data: {"id":${JSON.stringify(id)},"object":"chat.completion.chunk","created":${created},` +
    `"model":${JSON.stringify(model)},"system_fingerprint":"${FINGERPRINT}","choices":[`;
  // With include_usage, OpenAI sends `"usage":null` on every chunk but the last.
  const tail = includeUsage ? '],"usage":null}\n\n' : ']}\n\n';
  const frame = (delta: string, finishReason = 'null') =>
    `${head}{"index":0,"delta":${delta},"logprobs":null,"finish_reason":${finishReason}}${tail}`;

  const refusing = plan.refusal !== null;
  const frames = [
    frame(
      refusing
        ? '{"role":"assistant","content":null,"refusal":""}'
        : plan.content === null
          ? '{"role":"assistant","content":null}'
          : '{"role":"assistant","content":""}',
    ),
  ];
  const field = refusing ? 'refusal' : 'content';
  for (const piece of plan.pieces) frames.push(frame(`{"${field}":${JSON.stringify(piece)}}`));
  for (const [index, call] of plan.toolCalls.entries()) {
    const opening = { index, id: call.id, type: 'function', function: { name: call.name, arguments: '' } };
    frames.push(frame(JSON.stringify({ tool_calls: [opening] })));
    for (const piece of splitArguments(call.arguments)) {
      frames.push(frame(JSON.stringify({ tool_calls: [{ index, function: { arguments: piece } }] })));
    }
  }
  const contentEnd = frames.length;
  frames.push(frame('{}', JSON.stringify(plan.finishReason)));
  if (includeUsage) frames.push(`${head}],"usage":${JSON.stringify(usage)}}\n\n`);
  frames.push(DONE_FRAME);
  return { frames, contentEnd };
}

function splitArguments(text: string): string[] {
  const codePoints = Array.from(text);
  const pieces: string[] = [];
  for (let i = 0; i < codePoints.length; i += TOOL_ARGUMENT_PIECE_CHARS) {
    pieces.push(codePoints.slice(i, i + TOOL_ARGUMENT_PIECE_CHARS).join(''));
  }
  return pieces;
}

/** Resolves true after `ms`, or false as soon as `signal` aborts (an infinite `ms` waits only for the abort). */
async function pause(ms: number, signal: AbortSignal): Promise<boolean> {
  if (signal.aborted) return false;
  if (ms <= 0) return true;
  if (ms === Number.POSITIVE_INFINITY) {
    await once(signal, 'abort');
    return false;
  }
  return delay(ms, true, { signal }).catch(() => false);
}

function formatDuration(ms: number): string {
  return ms < 1000 ? `${ms}ms` : `${Number((ms / 1000).toFixed(3))}s`;
}

async function readBody(req: IncomingMessage): Promise<Buffer> {
  const chunks: Buffer[] = [];
  for await (const chunk of req) chunks.push(chunk as Buffer);
  return Buffer.concat(chunks);
}

function parseJson(raw: Buffer): unknown {
  try {
    return JSON.parse(raw.toString('utf8'));
  } catch {
    return undefined;
  }
}

function isRecord(value: unknown): value is Record<string, unknown> {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}

function sendJson(res: ServerResponse, status: number, body: unknown, headers: Headers = {}): void {
  const payload = JSON.stringify(body);
  res.writeHead(status, {
    ...headers,
    'content-type': 'application/json',
    'content-length': Buffer.byteLength(payload),
  });
  res.end(payload);
}

function sendEmpty(res: ServerResponse): void {
  res.writeHead(204);
  res.end();
}
