import { z } from 'zod';
import { optionalString } from '../env-fields.js';

/**
 * The standard OTEL_* variables this server reads (config.ts reads them with the others, into `tracing`), and
 * what they make of the traces: see the README's Traces section.
 */

/** OTLP's `key=value,key2=value2` lists (headers, resource attributes), values percent-decoded. */
const keyValueList = z
  .string()
  .optional()
  .transform((value, ctx) => {
    const entries: Record<string, string> = {};
    for (const entry of value?.trim() ? value.split(',') : []) {
      const at = entry.indexOf('=');
      const key = entry.slice(0, at).trim();
      if (at < 1 || !key) {
        ctx.addIssue({ code: 'custom', message: `expected key=value, got ${JSON.stringify(entry.trim())}` });
        return z.NEVER;
      }
      try {
        entries[key] = decodeURIComponent(entry.slice(at + 1).trim());
      } catch {
        ctx.addIssue({ code: 'custom', message: `the value of ${key} is not percent-encoded correctly` });
        return z.NEVER;
      }
    }
    return entries;
  });

/** The OTLP protocols this server exports with (gRPC is not one: use port 4318 of a collector). */
const otlpProtocol = z.enum(['http/protobuf', 'http/json'], {
  error: 'expected http/protobuf or http/json (grpc is not supported)',
});

/** OTEL_INSTRUMENTATION_GENAI_CAPTURE_MESSAGE_CONTENT: true/false, or the GenAI utils' modes (no events here). */
const captureContent = z
  .string()
  .default('false')
  .transform((value) => value.trim().toLowerCase())
  .pipe(z.enum(['true', 'false', 'span_only', 'span_and_event', 'event_only', 'no_content']))
  .transform((mode) => mode === 'true' || mode === 'span_only' || mode === 'span_and_event');

export const tracingEnv = {
  OTEL_SDK_DISABLED: z
    .enum(['true', 'false'])
    .default('false')
    .transform((value) => value === 'true'),
  OTEL_TRACES_EXPORTER: optionalString.pipe(z.enum(['otlp', 'none']).optional()),
  OTEL_EXPORTER_OTLP_ENDPOINT: optionalString.pipe(z.url().optional()),
  OTEL_EXPORTER_OTLP_TRACES_ENDPOINT: optionalString.pipe(z.url().optional()),
  OTEL_EXPORTER_OTLP_PROTOCOL: optionalString.pipe(otlpProtocol.optional()),
  OTEL_EXPORTER_OTLP_TRACES_PROTOCOL: optionalString.pipe(otlpProtocol.optional()),
  OTEL_EXPORTER_OTLP_HEADERS: keyValueList,
  OTEL_EXPORTER_OTLP_TRACES_HEADERS: keyValueList,
  OTEL_SERVICE_NAME: z.string().min(1).default('agent-platform'),
  OTEL_RESOURCE_ATTRIBUTES: keyValueList,
  OTEL_TRACES_SAMPLER: z
    .enum([
      'always_on',
      'always_off',
      'traceidratio',
      'parentbased_always_on',
      'parentbased_always_off',
      'parentbased_traceidratio',
    ])
    .default('parentbased_always_on'),
  OTEL_TRACES_SAMPLER_ARG: z.coerce.number().min(0).max(1).default(1),
  OTEL_BSP_SCHEDULE_DELAY: z.coerce.number().int().min(1).default(5000),
  OTEL_INSTRUMENTATION_GENAI_CAPTURE_MESSAGE_CONTENT: captureContent,
};

type TracingEnv = z.output<z.ZodObject<typeof tracingEnv>>;

export interface TracingConfig {
  /** Where spans are POSTed: OTEL_EXPORTER_OTLP_TRACES_ENDPOINT as given, or OTEL_EXPORTER_OTLP_ENDPOINT + /v1/traces. */
  url: string;
  protocol: 'http/protobuf' | 'http/json';
  headers: Record<string, string>;
  serviceName: string;
  resourceAttributes: Record<string, string>;
  sampler: { name: TracingEnv['OTEL_TRACES_SAMPLER']; ratio: number };
  batchDelayMs: number;
  /** Message contents, tool arguments and results on the spans (the GenAI conventions' opt-in attributes). */
  captureContent: boolean;
}

/** The collector's default OTLP/HTTP address (the OpenTelemetry specification's default endpoint). */
const DEFAULT_OTLP_ENDPOINT = 'http://localhost:4318';

/**
 * Traces are on when an OTLP endpoint is set or OTEL_TRACES_EXPORTER=otlp, unless OTEL_TRACES_EXPORTER=none or
 * OTEL_SDK_DISABLED=true. Signal-specific variables win over the general ones, as the specification says.
 */
export function tracingOf(config: TracingEnv): TracingConfig | null {
  const exporter =
    config.OTEL_TRACES_EXPORTER ??
    (config.OTEL_EXPORTER_OTLP_ENDPOINT || config.OTEL_EXPORTER_OTLP_TRACES_ENDPOINT ? 'otlp' : 'none');
  if (config.OTEL_SDK_DISABLED || exporter === 'none') return null;
  const base = (config.OTEL_EXPORTER_OTLP_ENDPOINT ?? DEFAULT_OTLP_ENDPOINT).replace(/\/+$/, '');
  return {
    url: config.OTEL_EXPORTER_OTLP_TRACES_ENDPOINT ?? `${base}/v1/traces`,
    protocol:
      config.OTEL_EXPORTER_OTLP_TRACES_PROTOCOL ?? config.OTEL_EXPORTER_OTLP_PROTOCOL ?? 'http/protobuf',
    headers: { ...config.OTEL_EXPORTER_OTLP_HEADERS, ...config.OTEL_EXPORTER_OTLP_TRACES_HEADERS },
    serviceName: config.OTEL_SERVICE_NAME,
    resourceAttributes: config.OTEL_RESOURCE_ATTRIBUTES,
    sampler: { name: config.OTEL_TRACES_SAMPLER, ratio: config.OTEL_TRACES_SAMPLER_ARG },
    batchDelayMs: config.OTEL_BSP_SCHEDULE_DELAY,
    captureContent: config.OTEL_INSTRUMENTATION_GENAI_CAPTURE_MESSAGE_CONTENT,
  };
}
