import type { IncomingMessage } from 'node:http';
import { getCurrentOtelContext, otelContextMap, useOpenTelemetry } from '@envelop/opentelemetry';
import {
  INVALID_SPAN_CONTEXT,
  ROOT_CONTEXT,
  type Span,
  SpanKind,
  type SpanOptions,
  SpanStatusCode,
  type Context as TraceContext,
  type Tracer,
  trace,
} from '@opentelemetry/api';
import { ExportResultCode, W3CTraceContextPropagator } from '@opentelemetry/core';
import { OTLPTraceExporter as JsonExporter } from '@opentelemetry/exporter-trace-otlp-http';
import { OTLPTraceExporter as ProtobufExporter } from '@opentelemetry/exporter-trace-otlp-proto';
import { resourceFromAttributes } from '@opentelemetry/resources';
import {
  AlwaysOffSampler,
  AlwaysOnSampler,
  BatchSpanProcessor,
  ParentBasedSampler,
  type ReadableSpan,
  type Sampler,
  type SpanExporter,
  TraceIdRatioBasedSampler,
  TracerProvider,
} from '@opentelemetry/sdk-trace';
import { ATTR_ERROR_TYPE, ATTR_SERVICE_NAME } from '@opentelemetry/semantic-conventions';
import { isAsyncIterable, type Plugin } from 'graphql-yoga';
import { AppError, ErrorCode } from '../errors.js';
import type { Logger } from './logger.js';
import type { TracingConfig } from './tracing-env.js';

export type { Span, TraceContext };

/** What every span method does when tracing is off: nothing, and no span is allocated. */
const NOT_RECORDING = trace.wrapSpanContext(INVALID_SPAN_CONTEXT);

const INSTRUMENTATION_SCOPE = 'agent-platform';

/**
 * OpenTelemetry traces of one app: its own tracer provider and exporter (nothing is registered globally, so
 * several apps in one process keep apart), and the parent of each span passed on explicitly rather than through
 * async context. When tracing is off every method returns at once and the GraphQL plugins are not installed.
 */
export class Tracing {
  private readonly tracer: Tracer | null;
  private readonly propagator = new W3CTraceContextPropagator();

  private constructor(
    private readonly provider: TracerProvider | null,
    /** Message contents, tool arguments and results are recorded (OTEL_INSTRUMENTATION_GENAI_CAPTURE_MESSAGE_CONTENT). */
    readonly captureContent: boolean,
  ) {
    this.tracer = provider?.getTracer(INSTRUMENTATION_SCOPE) ?? null;
  }

  static off(): Tracing {
    return new Tracing(null, false);
  }

  /** Exports spans over OTLP/HTTP in batches; a failed export is logged (a warning) and its spans dropped. */
  static start(config: TracingConfig, logger: Logger): Tracing {
    const options = { url: config.url, headers: config.headers };
    const exporter =
      config.protocol === 'http/json' ? new JsonExporter(options) : new ProtobufExporter(options);
    const provider = new TracerProvider({
      resource: resourceFromAttributes({
        ...config.resourceAttributes,
        [ATTR_SERVICE_NAME]: config.serviceName,
      }),
      sampler: samplerOf(config.sampler),
      spanProcessors: [
        new BatchSpanProcessor({
          exporter: loggingFailures(exporter, config.url, logger),
          scheduledDelayMillis: config.batchDelayMs,
        }),
      ],
    });
    return new Tracing(provider, config.captureContent);
  }

  /** A span under `parent` (a context from operationContext, from `within`, or ROOT_CONTEXT). */
  startSpan(name: string, options: SpanOptions, parent: TraceContext): Span {
    return this.tracer ? this.tracer.startSpan(name, options, parent) : NOT_RECORDING;
  }

  /**
   * Runs `work` in a span under `parent`, handing it the span and the context for its children; the span ends when
   * `work` settles, failed with the error's code when it throws.
   */
  async inSpan<T>(
    start: SpanStart,
    parent: TraceContext,
    work: (span: Span, trace: TraceContext) => Promise<T>,
  ): Promise<T> {
    const span = this.startSpan(start.name, start.options, parent);
    try {
      return await work(span, this.within(span, parent));
    } catch (error) {
      failSpan(span, errorType(error), undefined);
      throw error;
    } finally {
      span.end();
    }
  }

  /** The context whose current span is `span`: the parent of the spans that `span` contains. */
  within(span: Span, parent: TraceContext): TraceContext {
    return this.tracer ? trace.setSpan(parent, span) : parent;
  }

  /** `traceparent` (and `tracestate`) for a request made inside `parent`, so the callee joins the trace. */
  headers(parent: TraceContext): Record<string, string> {
    const headers: Record<string, string> = {};
    if (this.tracer)
      this.propagator.inject(parent, headers, {
        set: (carrier, key, value) => {
          carrier[key] = value;
        },
      });
    return headers;
  }

  /**
   * The GraphQL operation spans (envelop's OpenTelemetry plugin), each under the client's `traceparent` when it
   * sent one. Variables and results are never recorded; the document is, unless it holds inline arguments.
   */
  graphqlPlugins(): Plugin[] {
    if (!this.provider) return [];
    return [
      this.useTraceContext(),
      useOpenTelemetry(
        { variables: false, result: false, resolvers: false },
        this.provider,
        SpanKind.SERVER,
        {},
        INSTRUMENTATION_SCOPE,
      ) as Plugin,
    ];
  }

  /** The context of a GraphQL operation's resolvers: its span's, so what they start is a child of it. */
  operationContext(graphqlContext: object): TraceContext {
    return this.tracer ? getCurrentOtelContext(graphqlContext) : ROOT_CONTEXT;
  }

  /** Exports what is still buffered, then stops. */
  async shutdown(): Promise<void> {
    await this.provider?.shutdown();
  }

  /**
   * Seeds the operation span's parent from the client's trace context: the HTTP (and SSE) request's
   * `traceparent`/`tracestate` headers, or for graphql-ws the connection params of the same names (browsers cannot
   * set headers on a WebSocket), else the upgrade request's headers. Runs before the plugin that reads it.
   * Also ends the span of a subscription that fails before streaming (the plugin ends it only with a stream).
   */
  private useTraceContext(): Plugin {
    const seed = (graphqlContext: IncomingCarrier) => {
      if (otelContextMap.has(graphqlContext)) return;
      const field = (name: string) =>
        graphqlContext.request?.headers.get(name) ??
        stringParam(graphqlContext.connectionParams?.[name]) ??
        stringParam(graphqlContext.req?.headers[name]);
      const extracted = this.propagator.extract(ROOT_CONTEXT, undefined, {
        keys: () => ['traceparent', 'tracestate'],
        get: (_carrier, key) => field(key),
      });
      otelContextMap.set(graphqlContext, extracted);
    };
    const operationSpan = (graphqlContext: unknown) => trace.getSpan(getCurrentOtelContext(graphqlContext));
    return {
      onExecute: ({ args }) => seed(args.contextValue as IncomingCarrier),
      onSubscribe: ({ args }) => {
        seed(args.contextValue as IncomingCarrier);
        return {
          onSubscribeResult: ({ result }) => {
            if (isAsyncIterable(result)) return;
            const span = operationSpan(args.contextValue);
            if (result.errors?.length) span?.setStatus({ code: SpanStatusCode.ERROR });
            span?.end();
          },
          onSubscribeError: () => operationSpan(args.contextValue)?.end(),
        };
      },
    };
  }
}

export interface SpanStart {
  name: string;
  options: SpanOptions;
}

/**
 * Marks a span failed: error.type is the error code clients see (low cardinality, listed in errors.ts) or
 * CANCELLED; the status description only when contents may be recorded, as a message can quote them.
 */
export function failSpan(span: Span, type: string, message: string | undefined): void {
  span.setAttribute(ATTR_ERROR_TYPE, type);
  span.setStatus({ code: SpanStatusCode.ERROR, message });
}

/** An error's code as clients see it. */
function errorType(error: unknown): string {
  return error instanceof AppError ? error.code : ErrorCode.INTERNAL_SERVER_ERROR;
}

/** Where a GraphQL operation's incoming trace context can be: Yoga's request, or graphql-ws's connection. */
interface IncomingCarrier {
  request?: Request;
  req?: IncomingMessage;
  connectionParams?: Readonly<Record<string, unknown>>;
}

function stringParam(value: unknown): string | undefined {
  return typeof value === 'string' ? value : undefined;
}

/** OTEL_TRACES_SAMPLER: the specification's built-in samplers. */
function samplerOf({ name, ratio }: TracingConfig['sampler']): Sampler {
  const root = name.endsWith('always_off')
    ? new AlwaysOffSampler()
    : name.endsWith('traceidratio')
      ? new TraceIdRatioBasedSampler(ratio)
      : new AlwaysOnSampler();
  return name.startsWith('parentbased_') ? new ParentBasedSampler({ root }) : root;
}

/** The exporter, with each failed export logged: otherwise a wrong endpoint or key only shows as missing traces. */
function loggingFailures(exporter: SpanExporter, url: string, logger: Logger): SpanExporter {
  return {
    export: (spans: ReadableSpan[], done) =>
      exporter.export(spans, (result) => {
        if (result.code !== ExportResultCode.SUCCESS) {
          logger.warn({ err: result.error, url, spans: spans.length }, 'exporting traces failed');
        }
        done(result);
      }),
    shutdown: () => exporter.shutdown(),
    forceFlush: () => exporter.forceFlush?.() ?? Promise.resolve(),
  };
}
