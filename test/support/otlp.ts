import { createServer, type IncomingHttpHeaders, type IncomingMessage } from 'node:http';
import type { AddressInfo } from 'node:net';

/** A span as the receiver decoded it from an OTLP/HTTP JSON export. */
export interface ReceivedSpan {
  name: string;
  traceId: string;
  spanId: string;
  /** Empty for a root span. */
  parentSpanId: string;
  /** OTLP's SpanKind: 1 internal, 2 server, 3 client. */
  kind: number;
  attributes: Record<string, unknown>;
  /** OTLP's StatusCode: 0 unset, 1 ok, 2 error. */
  status: { code: number; message?: string };
  resource: Record<string, unknown>;
}

/** One POST the exporter made: its path, content type, headers and body bytes. */
export interface ReceivedExport {
  path: string;
  contentType: string;
  headers: IncomingHttpHeaders;
  body: Buffer;
}

/**
 * A real OTLP/HTTP receiver on an ephemeral port, as a collector's `otlp` receiver listens on 4318: it accepts
 * POST /v1/traces, decodes JSON exports (OTEL_EXPORTER_OTLP_PROTOCOL=http/json) into spans and keeps every
 * export's raw bytes. Tests wait on what arrives, never on time.
 */
export async function startOtlpReceiver() {
  const spans: ReceivedSpan[] = [];
  const exports: ReceivedExport[] = [];
  const waiters = new Set<() => void>();
  const server = createServer(async (req, res) => {
    const body = await readBody(req);
    const contentType = req.headers['content-type'] ?? '';
    exports.push({ path: req.url ?? '', contentType, headers: req.headers, body });
    if (contentType.startsWith('application/json')) spans.push(...decodeJsonExport(body));
    res.writeHead(200, { 'content-type': contentType || 'application/json' });
    res.end(contentType.startsWith('application/json') ? '{}' : '');
    for (const wake of waiters) wake();
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as AddressInfo;

  /** Resolves with `select`'s answer once what has arrived gives one (not undefined). */
  const until = <T>(select: () => T | undefined, what: string, timeoutMs = 10_000): Promise<T> =>
    new Promise((resolve, reject) => {
      const check = () => {
        const found = select();
        if (found === undefined) return;
        settle();
        resolve(found);
      };
      const timer = setTimeout(() => {
        settle();
        reject(
          new Error(`no ${what} within ${timeoutMs} ms; got spans: ${spans.map((s) => s.name).join(', ')}`),
        );
      }, timeoutMs);
      const settle = () => {
        clearTimeout(timer);
        waiters.delete(check);
      };
      waiters.add(check);
      check();
    });

  return {
    endpoint: `http://127.0.0.1:${port}`,
    spans,
    exports,
    /**
     * The spans of one trace, the one named `rootName` first, once everything `complete` asks for has arrived
     * (the exporter sends spans as they end, so children come before their parents).
     */
    trace: (rootName: string, complete: (trace: ReceivedSpan[]) => boolean) =>
      until(() => {
        for (const root of spans.filter((span) => span.name === rootName)) {
          const trace = [root, ...spans.filter((span) => span.traceId === root.traceId && span !== root)];
          if (complete(trace)) return trace as [ReceivedSpan, ...ReceivedSpan[]];
        }
        return undefined;
      }, `complete trace under ${rootName}`),
    /** Resolves once an export has arrived. */
    firstExport: () => until(() => exports[0], 'export'),
    close: () => new Promise<void>((resolve) => server.close(() => resolve())),
  };
}

export type OtlpReceiver = Awaited<ReturnType<typeof startOtlpReceiver>>;

/** The children of `parent` in `trace`, by name. */
export function childrenOf(trace: ReceivedSpan[], parent: ReceivedSpan): ReceivedSpan[] {
  return trace.filter((span) => span.parentSpanId === parent.spanId);
}

async function readBody(req: IncomingMessage): Promise<Buffer> {
  const chunks: Buffer[] = [];
  for await (const chunk of req) chunks.push(chunk as Buffer);
  return Buffer.concat(chunks);
}

type AnyValue = {
  stringValue?: string;
  boolValue?: boolean;
  intValue?: number | string;
  doubleValue?: number;
  arrayValue?: { values?: AnyValue[] };
};
type KeyValue = { key: string; value: AnyValue };

interface JsonExport {
  resourceSpans?: {
    resource?: { attributes?: KeyValue[] };
    scopeSpans?: {
      spans?: {
        name: string;
        traceId: string;
        spanId: string;
        parentSpanId?: string;
        kind: number;
        attributes?: KeyValue[];
        status?: { code?: number; message?: string };
      }[];
    }[];
  }[];
}

/** OTLP/JSON (ExportTraceServiceRequest): ids are hex strings, 64-bit integers may come as strings. */
function decodeJsonExport(body: Buffer): ReceivedSpan[] {
  const request = JSON.parse(body.toString('utf8')) as JsonExport;
  return (request.resourceSpans ?? []).flatMap((resourceSpans) => {
    const resource = attributesOf(resourceSpans.resource?.attributes);
    return (resourceSpans.scopeSpans ?? []).flatMap((scopeSpans) =>
      (scopeSpans.spans ?? []).map((span) => ({
        name: span.name,
        traceId: span.traceId,
        spanId: span.spanId,
        parentSpanId: span.parentSpanId ?? '',
        kind: span.kind,
        attributes: attributesOf(span.attributes),
        status: { code: span.status?.code ?? 0, message: span.status?.message },
        resource,
      })),
    );
  });
}

function attributesOf(list: KeyValue[] | undefined): Record<string, unknown> {
  return Object.fromEntries((list ?? []).map(({ key, value }) => [key, decodeValue(value)]));
}

function decodeValue(value: AnyValue): unknown {
  if (value.arrayValue) return (value.arrayValue.values ?? []).map(decodeValue);
  if (value.intValue !== undefined) return Number(value.intValue);
  return value.stringValue ?? value.boolValue ?? value.doubleValue;
}
