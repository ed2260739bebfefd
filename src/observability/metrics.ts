import { timingSafeEqual } from 'node:crypto';
import type { IncomingMessage, ServerResponse } from 'node:http';
import { Counter, Gauge, Histogram, Registry } from 'prom-client';

/** Seconds: from a cached reply (milliseconds) to a long generation or a slow tool. */
const DURATION_BUCKETS = [0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60, 120];

export type FunctionCallStatus = 'succeeded' | 'failed';

/**
 * Every Prometheus metric of one app instance, on its own registry (never prom-client's global one, so several
 * apps in one process, as in the tests, count separately). Other features record through the methods below.
 */
export class Metrics {
  readonly registry = new Registry();

  readonly upstreamRequests = this.counter(
    'agent_upstream_requests_total',
    'Calls to the model API by model (the model table entry, or a model the upstream lists) and outcome (ok, ' +
      'cached, cancelled or an error code).',
    ['model', 'outcome'],
  );
  readonly upstreamTokens = this.counter(
    'agent_upstream_tokens_total',
    'Tokens by model and kind: prompt and completion as reported, cached the prompt tokens of the prompt cache, ' +
      'reasoning the completion tokens a reasoning model spent thinking; estimated="true" for our tiktoken count ' +
      'when the server sent no usage.',
    ['model', 'kind', 'estimated'],
  );
  readonly upstreamCost = this.counter(
    'agent_upstream_cost_usd_total',
    'Spend in USD by model, from usage (estimated="true": our estimate) and the model table prices.',
    ['model', 'estimated'],
  );
  readonly upstreamDuration = this.histogram(
    'agent_upstream_request_duration_seconds',
    'Latency of one call to the model API, retries included, until its last chunk.',
    ['model', 'outcome'],
  );
  readonly upstreamTimeToFirstToken = this.histogram(
    'agent_upstream_time_to_first_token_seconds',
    'Time from sending a call to the first content or tool-call token.',
    ['model'],
  );
  readonly upstreamRetries = this.counter(
    'agent_upstream_retries_total',
    'Retried attempts of calls to the model API, by model.',
    ['model'],
  );
  readonly activeStreams = this.gauge('agent_active_streams', 'Streamed calls to the model API open now.');

  readonly rateLimitWait = this.histogram(
    'agent_rate_limit_wait_seconds',
    'Time requests waited in a rate-limit queue before going on, by limit.',
    ['limit'],
  );
  readonly rateLimitRejections = this.counter(
    'agent_rate_limit_rejections_total',
    'Requests refused with RATE_LIMITED, by limit.',
    ['limit'],
  );
  readonly budgetRejections = this.counter(
    'agent_budget_rejections_total',
    'Requests refused with BUDGET_EXCEEDED before going upstream, by budget period (day, month), limit (usd, ' +
      'tokens) and scope (principal, key).',
    ['period', 'limit', 'scope'],
  );
  readonly cacheLookups = this.counter(
    'agent_cache_lookups_total',
    'Response cache lookups by result (hit or miss).',
    ['result'],
  );

  readonly functionCalls = this.counter(
    'agent_function_calls_total',
    'Function executions by function name and status (succeeded or failed).',
    ['function', 'status'],
  );
  readonly functionDuration = this.histogram(
    'agent_function_duration_seconds',
    'Duration of function executions by function name and status.',
    ['function', 'status'],
  );

  readonly graphqlOperations = this.counter(
    'agent_graphql_operations_total',
    'GraphQL operations by type and root fields.',
    ['type', 'operation'],
  );
  readonly graphqlDuration = this.histogram(
    'agent_graphql_operation_duration_seconds',
    'Execution time of GraphQL queries and mutations by type and root fields.',
    ['type', 'operation'],
  );
  readonly activeSubscriptions = this.gauge(
    'agent_active_subscriptions',
    'GraphQL subscriptions open now (WebSocket and SSE).',
  );
  readonly errors = this.counter(
    'agent_errors_total',
    'Errors returned to GraphQL clients by extensions.code.',
    ['code'],
  );

  private counter<L extends string>(name: string, help: string, labelNames: readonly L[] = []) {
    return new Counter({ name, help, labelNames, registers: [this.registry] });
  }

  private gauge(name: string, help: string) {
    return new Gauge({ name, help, registers: [this.registry] });
  }

  private histogram<L extends string>(name: string, help: string, labelNames: readonly L[]) {
    return new Histogram({ name, help, labelNames, buckets: DURATION_BUCKETS, registers: [this.registry] });
  }

  /** Called by the rate limiter when a request had to queue for `seconds` and then went on. */
  rateLimitWaited(limit: string, seconds: number): void {
    this.rateLimitWait.observe({ limit }, seconds);
  }

  /** Called by the rate limiter when it refuses a request with RATE_LIMITED. */
  rateLimitRejected(limit: string): void {
    this.rateLimitRejections.inc({ limit });
  }

  /** Called by the budget guard when it refuses a request with BUDGET_EXCEEDED. */
  budgetRefused(period: string, limit: string, scope: string): void {
    this.budgetRejections.inc({ period, limit, scope });
  }

  /** Called by the response cache on every lookup of a cacheable request. */
  cacheLookedUp(hit: boolean): void {
    this.cacheLookups.inc({ result: hit ? 'hit' : 'miss' });
  }

  /** Called where a function execution is recorded. */
  functionExecuted(name: string, status: FunctionCallStatus, durationMs: number): void {
    this.functionCalls.inc({ function: name, status });
    this.functionDuration.observe({ function: name, status }, durationMs / 1000);
  }

  /**
   * GET /metrics in the Prometheus text format; with a token configured, only for `Authorization: Bearer <token>`.
   */
  async serve(req: IncomingMessage, res: ServerResponse, token: string | undefined): Promise<void> {
    if (token && !bearerMatches(req.headers.authorization, token)) {
      res.writeHead(401, { 'content-type': 'text/plain', 'www-authenticate': 'Bearer realm="metrics"' });
      res.end('Unauthorized: send Authorization: Bearer <METRICS_TOKEN>\n');
      return;
    }
    const body = await this.registry.metrics();
    res.writeHead(200, { 'content-type': this.registry.contentType });
    res.end(body);
  }
}

function bearerMatches(header: string | undefined, token: string): boolean {
  const sent = Buffer.from(/^Bearer\s+(\S+)$/i.exec(header?.trim() ?? '')?.[1] ?? '');
  const expected = Buffer.from(token);
  return sent.length === expected.length && timingSafeEqual(sent, expected);
}
