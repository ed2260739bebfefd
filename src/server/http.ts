import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { Readable } from 'node:stream';
import { setTimeout as delay } from 'node:timers/promises';
import { type ExecutionArgs, GraphQLError } from 'graphql';
import { useServer } from 'graphql-ws/use/ws';
import { WebSocketServer } from 'ws';
import { ErrorCode } from '../errors.js';
import type { Logger } from '../observability/logger.js';
import type { Services } from '../services.js';
import { createMcpEndpoint, MCP_PATH } from './mcp.js';
import type { OriginPolicy } from './origins.js';
import type { TrustedDocuments } from './trusted-documents.js';
import { connectionParamsAuthorization, GRAPHQL_PATH, type Yoga } from './yoga.js';

/** RFC 6455 "going away": the server is shutting down and the client should reconnect elsewhere. */
const GOING_AWAY = 1001;

type SocketExtra = {
  request: IncomingMessage;
  aborts?: Map<string, AbortController>;
};

export interface HttpServer {
  server: Server;
  listen(port: number, host: string): Promise<AddressInfo>;
  /** Turns /readyz false so load balancers stop sending new work, before close() is called. */
  markDraining(): void;
  /** Stops accepting, waits up to `settleMs` for open operations to end, then closes what is left. */
  close(settleMs: number): Promise<void>;
}

interface Routes {
  yoga: Yoga;
  services: Services;
  trustedDocuments: TrustedDocuments;
  logger: Logger;
  origins: OriginPolicy;
}

export function createHttpServer(routes: Routes): HttpServer {
  const { yoga, services, trustedDocuments, logger, origins } = routes;
  let draining = false;
  const maxBytes = services.config.MAX_REQUEST_BYTES;
  const mcp = createMcpEndpoint({ ...routes, readBody: (req) => readWithin(req, maxBytes) });

  const server = createServer((req, res) => {
    if (!origins.allowsHost(req.headers.host)) return json(res, 403, notLoopbackHost(req.headers.host));
    const path = (req.url ?? '/').split('?')[0];
    if (path === '/healthz') return json(res, 200, { status: 'ok' });
    if (path === '/metrics') return void services.metrics.serve(req, res, services.config.METRICS_TOKEN);
    if (path === '/readyz') {
      if (draining) return json(res, 503, { status: 'draining' });
      services.database.ping().then(
        () => json(res, 200, { status: 'ready' }),
        (error: unknown) => {
          logger.warn({ err: error }, 'readiness check failed');
          json(res, 503, { status: 'database unavailable' });
        },
      );
      return;
    }
    if (Number(req.headers['content-length'] ?? 0) > maxBytes) return tooLarge(res, maxBytes);
    if (path === MCP_PATH) return void mcp(req, res);
    if (req.headers['content-length'] === undefined && req.headers['transfer-encoding'] !== undefined) {
      // A chunked body announces no size: it is counted as it arrives and handed to Yoga whole.
      readWithin(req, maxBytes).then(
        // Handed over as a stream: a Buffer would cost whatwg-node an Object.keys over every byte.
        (body) =>
          body
            ? yoga.handle(Object.assign(req, { body: Readable.from([body]) }), res)
            : tooLarge(res, maxBytes),
        () => res.destroy(),
      );
      return;
    }
    return yoga.handle(req, res);
  });

  const wsServer = new WebSocketServer({
    server,
    path: GRAPHQL_PATH,
    maxPayload: maxBytes,
    // A refused upgrade is answered 403 before any graphql-ws message.
    verifyClient: (
      { origin, req }: { origin?: string; req: IncomingMessage },
      decide: (allowed: boolean, status?: number) => void,
    ) => decide(origins.allowsHost(req.headers.host) && origins.allowsOrigin(origin, req.headers.host), 403),
  });
  const operations = new OperationCount();
  useServer<Record<string, unknown> | undefined, SocketExtra>(
    {
      // Rejecting a bad key at connection time closes with 4403 before any operation is attempted.
      onConnect: async (ctx) => {
        try {
          await services.authenticator.authenticate(connectionParamsAuthorization(ctx.connectionParams));
          return true;
        } catch {
          return false;
        }
      },
      execute: (args) => (args.rootValue as EnvelopedRoot).execute(args),
      subscribe: (args) => (args.rootValue as EnvelopedRoot).subscribe(args),
      onSubscribe: async (ctx, id, payload) => {
        const controller = new AbortController();
        ctx.extra.aborts ??= new Map();
        ctx.extra.aborts.set(id, controller);
        operations.add();
        const enveloped = yoga.getEnveloped({
          req: ctx.extra.request,
          connectionParams: ctx.connectionParams,
          signal: controller.signal,
        });
        // Yoga's persisted-operations plugin sees HTTP and SSE requests only; sockets ask the same store here.
        const document = orErrors(
          () => enveloped.parse(trustedDocuments.documentFor(payload)),
          'GRAPHQL_PARSE_FAILED',
        );
        if (Array.isArray(document)) return document;
        const errors = orErrors(
          () => enveloped.validate(enveloped.schema, document),
          'GRAPHQL_VALIDATION_FAILED',
        );
        if (errors.length > 0) return coded(errors, 'GRAPHQL_VALIDATION_FAILED');
        const args: ExecutionArgs = {
          schema: enveloped.schema,
          operationName: payload.operationName,
          document,
          variableValues: payload.variables,
          contextValue: await enveloped.contextFactory(),
          rootValue: { execute: enveloped.execute, subscribe: enveloped.subscribe },
        };
        return args;
      },
      // Completion covers the client's `complete` message, the end of the stream and a closed socket.
      onComplete: (ctx, id) => {
        const controller = ctx.extra.aborts?.get(id);
        if (!controller) return;
        controller.abort();
        ctx.extra.aborts?.delete(id);
        operations.remove();
      },
      onClose: (ctx) => {
        for (const controller of ctx.extra.aborts?.values() ?? []) {
          controller.abort();
          operations.remove();
        }
        ctx.extra.aborts?.clear();
      },
    },
    wsServer,
  );

  return {
    server,
    listen: (port, host) =>
      new Promise((resolve, reject) => {
        server.once('error', reject);
        server.listen(port, host, () => resolve(server.address() as AddressInfo));
      }),
    markDraining: () => {
      draining = true;
    },
    close: async (settleMs) => {
      draining = true;
      const closed = new Promise<void>((resolve) => server.close(() => resolve()));
      server.closeIdleConnections();
      // Streams whose completion has ended still have their last events to deliver: let them finish.
      await operations.idle(settleMs);
      for (const client of wsServer.clients) client.close(GOING_AWAY, 'Server shutting down');
      await new Promise<void>((resolve) => wsServer.close(() => resolve()));
      await Promise.race([closed, delay(settleMs)]);
      server.closeAllConnections();
      await closed;
    },
  };
}

/** Yoga's enveloped execute/subscribe, carried to graphql-ws through rootValue as Yoga's guide does. */
type EnvelopedRoot = Pick<ReturnType<Yoga['getEnveloped']>, 'execute' | 'subscribe'>;

/**
 * Runs the parse or validate phase for graphql-ws. A rejection thrown there (a syntax error, graphql-armor's
 * limits) becomes an error message for the one operation, coded as Yoga codes it over HTTP, instead of an
 * internal error that closes the whole socket.
 */
function orErrors<T>(phase: () => T, code: string): T | GraphQLError[] {
  try {
    return phase();
  } catch (error) {
    if (!(error instanceof GraphQLError)) throw error;
    return coded([error], code);
  }
}

function coded(errors: readonly GraphQLError[], code: string): GraphQLError[] {
  for (const error of errors) (error.extensions as Record<string, unknown>).code ??= code;
  return [...errors];
}

function json(res: ServerResponse, status: number, body: unknown, headers: Record<string, string> = {}) {
  res.writeHead(status, { 'content-type': 'application/json', ...headers });
  res.end(JSON.stringify(body));
}

function tooLarge(res: ServerResponse, maxBytes: number) {
  const message = `Request body is larger than ${maxBytes} bytes (MAX_REQUEST_BYTES)`;
  // The rest of the body is not read: the connection closes after this answer.
  json(
    res,
    413,
    { errors: [{ message, extensions: { code: ErrorCode.BAD_USER_INPUT } }] },
    { connection: 'close' },
  );
}

/** The whole body, or null as soon as it passes `maxBytes` (reading stops there). */
function readWithin(req: IncomingMessage, maxBytes: number): Promise<Buffer | null> {
  return new Promise((resolve, reject) => {
    const chunks: Buffer[] = [];
    let size = 0;
    const onData = (chunk: Buffer) => {
      size += chunk.length;
      if (size <= maxBytes) return void chunks.push(chunk);
      req.off('data', onData);
      req.pause();
      resolve(null);
    };
    req.on('data', onData);
    req.once('end', () => resolve(Buffer.concat(chunks)));
    req.once('error', reject);
  });
}

/** Open graphql-ws operations, so shutdown can wait for the last events of finished streams to go out. */
class OperationCount {
  private open = 0;
  private waiters: (() => void)[] = [];

  add() {
    this.open += 1;
  }

  remove() {
    this.open -= 1;
    if (this.open === 0) for (const resolve of this.waiters.splice(0)) resolve();
  }

  idle(timeoutMs: number): Promise<void> {
    if (this.open === 0) return Promise.resolve();
    return Promise.race([new Promise<void>((resolve) => this.waiters.push(resolve)), delay(timeoutMs)]);
  }
}

function notLoopbackHost(host: string | undefined) {
  return {
    errors: [
      {
        message: `Development mode (no API_KEYS) answers only loopback Host names, not ${JSON.stringify(host ?? '')}`,
        extensions: { code: ErrorCode.FORBIDDEN },
      },
    ],
  };
}
