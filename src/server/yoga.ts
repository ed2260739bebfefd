import { randomUUID } from 'node:crypto';
import type { IncomingMessage } from 'node:http';
import { EnvelopArmorPlugin } from '@escape.tech/graphql-armor';
import { useCSRFPrevention } from '@graphql-yoga/plugin-csrf-prevention';
import { renderGraphiQL } from '@graphql-yoga/render-graphiql';
import type { GraphQLSchema } from 'graphql';
import { createYoga, type YogaServerInstance } from 'graphql-yoga';
import { type Logger, requestIdFrom } from '../observability/logger.js';
import type { Context } from '../schema/builder.js';
import type { Services } from '../services.js';
import { Loaders } from '../storage/loaders.js';
import { useClientLimits } from './client-limits.js';
import { graphiqlOptions } from './graphiql.js';
import { maskError, tagRejection, useDocumentNestingLimit, useIntrospectionPolicy } from './guards.js';
import { useInputCheck } from './input-check.js';
import { useObservability } from './observability.js';
import type { OriginPolicy } from './origins.js';
import type { TrustedDocuments } from './trusted-documents.js';

/** What the transport hands Yoga: node's request for HTTP, or the graphql-ws connection for WebSockets. */
export interface ServerContext {
  req?: IncomingMessage;
  connectionParams?: Readonly<Record<string, unknown>>;
  signal?: AbortSignal;
}

export type Yoga = YogaServerInstance<ServerContext, Context>;

export const GRAPHQL_PATH = '/graphql';

export function createYogaServer(
  schema: GraphQLSchema,
  services: Services,
  trustedDocuments: TrustedDocuments,
  logger: Logger,
  origins: OriginPolicy,
): Yoga {
  const { config } = services;
  return createYoga<ServerContext, Context>({
    schema,
    cors: (request) => origins.cors(request),
    graphqlEndpoint: GRAPHQL_PATH,
    landingPage: false,
    maskedErrors: { maskError },
    // GraphiQL needs introspection: both follow GRAPHQL_INTROSPECTION.
    graphiql: config.introspection ? graphiqlOptions(config.API_KEYS.length > 0) : false,
    // The bundled GraphiQL works without reaching a CDN (closed networks, air-gapped installs).
    renderGraphiQL,
    logging: {
      debug: (...args) => logger.debug(yogaLogEntry(args)),
      info: (...args) => logger.info(yogaLogEntry(args)),
      warn: (...args) => logger.warn(yogaLogEntry(args)),
      error: (...args) => logger.error(yogaLogEntry(args)),
    },
    plugins: [
      // The client's trace context is read before the operation span starts, the span before the other hooks.
      ...services.tracing.graphqlPlugins(),
      ...(trustedDocuments.size > 0 ? [trustedDocuments.plugin()] : []),
      useDocumentNestingLimit(),
      EnvelopArmorPlugin({
        maxDepth: { n: config.GRAPHQL_MAX_DEPTH, onReject: [tagRejection] },
        maxAliases: { n: config.GRAPHQL_MAX_ALIASES, onReject: [tagRejection] },
        maxTokens: { n: config.GRAPHQL_MAX_TOKENS, onReject: [tagRejection] },
        costLimit: { maxCost: config.GRAPHQL_MAX_COST, onReject: [tagRejection] },
        maxDirectives: { onReject: [tagRejection] },
      }),
      useIntrospectionPolicy(config.introspection),
      useCSRFPrevention({ requestHeaders: ['x-graphql-yoga-csrf'] }),
      useInputCheck(config.MAX_MESSAGE_CHARS),
      useObservability(services.metrics),
      useClientLimits(services.clientLimits),
    ],
    context: async (initial): Promise<Context> => {
      const authorization =
        initial.request?.headers.get('authorization') ??
        connectionParamsAuthorization(initial.connectionParams);
      const principal = await services.authenticator.authenticate(authorization);
      const requestId = requestIdFrom(initial.request?.headers.get('x-request-id')) ?? randomUUID();
      return {
        principal,
        services,
        loaders: new Loaders(services.loaderStores, principal?.id ?? null),
        requestId,
        logger: logger.child({ requestId }),
        signal: initial.signal ?? initial.request?.signal ?? new AbortController().signal,
      };
    },
  });
}

/** graphql-ws clients put the key in connectionParams, as `authorization: "Bearer …"` or `apiKey: "…"`. */
export function connectionParamsAuthorization(params: Readonly<Record<string, unknown>> | undefined) {
  if (!params) return null;
  const { authorization, Authorization, apiKey } = params;
  const header = authorization ?? Authorization;
  if (typeof header === 'string') return header;
  if (typeof apiKey === 'string') return `Bearer ${apiKey}`;
  return null;
}

/** Yoga logs console-style argument lists; pino wants one object with the error under `err`. */
function yogaLogEntry(args: unknown[]) {
  const err = args.find((arg) => arg instanceof Error);
  const msg = args.filter((arg) => typeof arg === 'string').join(' ');
  return err ? { err, msg } : { msg, details: args.filter((arg) => typeof arg !== 'string') };
}
