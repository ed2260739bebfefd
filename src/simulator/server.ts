import { once } from 'node:events';
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { ModelTable, TokenCounter } from '../tokens/index.js';
import { Controls, serveControl } from './control.js';
import { completionBody, type ResponseParts, streamFrames, type Usage } from './encoding.js';
import { type Headers, parseJson, readBody, sendJson } from './http.js';
import { checkModelParameters, reasoningTokens } from './parameters.js';
import { type ApiError, apiError, isApiError, validateChatRequest } from './protocol.js';
import { RateLimitHeaders } from './rate-limit.js';
import { planReply } from './reply.js';
import { RequestLog } from './request-log.js';
import { checkResponseFormat } from './response-format.js';
import { pause, sendStream, streamCut } from './stream.js';
import type { Fault, Latency, SimulatedRequest, SimulatorEvent, SimulatorOptions } from './types.js';

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
  private readonly server: Server;
  private readonly log: RequestLog;
  private readonly controls: Controls;
  private readonly rateLimits: RateLimitHeaders;
  private readonly models: ModelTable;
  private readonly counter: TokenCounter;
  private address: AddressInfo | undefined;
  private completionSequence = 0;
  private toolCallSequence = 0;

  constructor(private readonly options: SimulatorOptions = {}) {
    this.models = options.models ?? new ModelTable();
    this.counter = new TokenCounter(this.models);
    this.log = new RequestLog(options.requestLogLimit);
    this.controls = new Controls(options);
    this.rateLimits = new RateLimitHeaders(options.rateLimitHeaders);
    this.server = createServer((req, res) => {
      this.route(req, res).catch(() => {
        if (!res.headersSent)
          sendJson(res, 500, apiError(500, 'Simulator failure.', { type: 'server_error' }).body);
        else res.destroy();
      });
    });
  }

  /** The request log, credentials redacted. */
  get requests(): SimulatedRequest[] {
    return this.log.entries;
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
    this.log.close();
    const closed = new Promise<void>((resolve, reject) =>
      this.server.close((error) => (error ? reject(error) : resolve())),
    );
    this.server.closeAllConnections();
    await closed;
  }

  setLatency(latency: Latency): void {
    this.controls.setLatency(latency);
  }

  /** Whether responses leave `usage` out (see SimulatorOptions.omitUsage). */
  setOmitUsage(omit: boolean): void {
    this.controls.omitUsage = omit;
  }

  /** Queues a fault for the next `times` chat completion requests (FIFO; each request consumes one). */
  injectFault(fault: Fault, times = 1): void {
    this.controls.injectFault(fault, times);
  }

  clearFaults(): void {
    this.controls.clearFaults();
  }

  clearRequests(): void {
    this.log.clear();
  }

  on(event: SimulatorEvent, listener: (request: SimulatedRequest) => void): this {
    this.log.on(event, listener);
    return this;
  }

  off(event: SimulatorEvent, listener: (request: SimulatedRequest) => void): this {
    this.log.off(event, listener);
    return this;
  }

  /** Resolves with the first logged request matching `predicate`, now or as soon as one changes to match. */
  waitFor(predicate: (request: SimulatedRequest) => boolean, timeoutMs = 5000): Promise<SimulatedRequest> {
    return this.log.waitFor(predicate, timeoutMs);
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
    if (path.startsWith('/_simulator/')) return serveControl(this.controls, this.log, req, res, path);
    const notFound = apiError(404, `Invalid URL (${req.method} ${path})`);
    sendJson(res, notFound.status, notFound.body);
  }

  private async chatCompletion(req: IncomingMessage, res: ServerResponse): Promise<void> {
    const raw = await readBody(req);
    const parsed = parseJson(raw);
    const body = isRecord(parsed) ? parsed : {};
    const record = this.log.add({
      id: `chatcmpl-sim${(++this.completionSequence).toString().padStart(8, '0')}`,
      body,
      bodyBytes: raw.length,
      stream: body.stream === true,
      startedAt: Date.now(),
      status: 'running',
      chunksSent: 0,
      headers: req.headers,
    });
    const abort = new AbortController();
    res.on('close', () => {
      abort.abort();
      if (record.status === 'running')
        this.log.settle(record, res.writableFinished ? 'completed' : 'aborted');
    });

    const fault = this.controls.takeFault();
    record.fault = fault;
    const requestId = { 'x-request-id': `req_${record.id.slice('chatcmpl-'.length)}` };
    switch (fault?.type) {
      case 'rate_limit': {
        const error = apiError(429, 'Rate limit reached for requests. Please try again later.', {
          type: 'requests',
          code: 'rate_limit_exceeded',
        });
        return this.reject(record, res, error, { ...this.rateLimits.exhausted(fault), ...requestId });
      }
      case 'server_error': {
        const message = 'The server had an error while processing your request.';
        const error = apiError(fault.status ?? 500, message, { type: 'server_error' });
        return this.reject(record, res, error, requestId);
      }
      case 'bad_request':
        return this.reject(record, res, apiError(400, fault.message ?? 'Simulated bad request.'), requestId);
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
      return this.reject(record, res, error, { ...this.rateLimits.count(0), ...requestId });
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
      ...this.rateLimits.count(usage.total_tokens),
      ...requestId,
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
    const { latency, omitUsage } = this.controls;
    if (record.stream) {
      const includeUsage = !omitUsage && validated.request.stream_options?.include_usage === true;
      record.httpStatus = 200;
      const sent = await sendStream(res, streamFrames(response, includeUsage), headers, {
        latency: () => this.controls.latency,
        cut: streamCut(fault),
        signal: abort.signal,
        onWritten: (chunks) => {
          record.chunksSent += chunks;
          this.log.notify(record);
        },
      });
      if (!sent) return;
      if (disconnectAfter !== undefined) return this.disconnect(record, res);
      res.end();
      return;
    }
    const wait = latency.firstTokenMs + latency.chunkDelayMs * Math.max(0, plan.pieces.length - 1);
    if (!(await pause(wait, abort.signal))) return;
    if (disconnectAfter !== undefined) return this.disconnect(record, res);
    record.httpStatus = 200;
    sendJson(res, 200, completionBody(response, !omitUsage), headers);
  }

  private disconnect(record: SimulatedRequest, res: ServerResponse): void {
    this.log.settle(record, 'failed');
    // end() rather than destroy(): the chunks already written must reach the client before the connection drops.
    res.socket?.end();
  }

  private reject(record: SimulatedRequest, res: ServerResponse, error: ApiError, headers: Headers): void {
    record.httpStatus = error.status;
    this.log.settle(record, 'failed');
    sendJson(res, error.status, error.body, headers);
  }
}

function isRecord(value: unknown): value is Record<string, unknown> {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}
