import SchemaBuilder from '@pothos/core';
import DataloaderPlugin from '@pothos/plugin-dataloader';
import RelayPlugin from '@pothos/plugin-relay';
import ScopeAuthPlugin from '@pothos/plugin-scope-auth';
import WithInputPlugin from '@pothos/plugin-with-input';
import { DateTimeResolver } from 'graphql-scalars';
import type { Principal } from '../auth/index.js';
import { AppError, ErrorCode } from '../errors.js';
import type { Logger } from '../observability/logger.js';
import type { Services } from '../services.js';
import type { Loaders } from '../storage/loaders.js';
import { decodeNodeId } from './ids.js';
import { BoundedJSON } from './json.js';

export interface Context {
  principal: Principal | null;
  services: Services;
  loaders: Loaders;
  requestId: string;
  /** The app logger bound to this request's id: every line of the request or stream carries it. */
  logger: Logger;
  /** Aborted when the client goes away (HTTP request closed, subscription completed or socket closed). */
  signal: AbortSignal;
}

export const builder = new SchemaBuilder<{
  Context: Context;
  AuthScopes: { authenticated: boolean; admin: boolean };
  Scalars: {
    DateTime: { Input: Date; Output: Date };
    JSON: { Input: unknown; Output: unknown };
  };
  DefaultFieldNullability: false;
  DefaultInputFieldRequiredness: false;
}>({
  plugins: [ScopeAuthPlugin, RelayPlugin, WithInputPlugin, DataloaderPlugin],
  defaultFieldNullability: false,
  scopeAuth: {
    authScopes: (context) => ({
      authenticated: context.principal !== null,
      admin: context.principal?.scopes.includes('admin') ?? false,
    }),
    unauthorizedError: (_parent, context) =>
      context.principal
        ? new AppError(ErrorCode.FORBIDDEN, 'This operation needs the admin scope')
        : new AppError(ErrorCode.UNAUTHENTICATED, 'Missing API key: send Authorization: Bearer <key>'),
  },
  relay: {
    clientMutationId: 'omit',
    cursorType: 'String',
    decodeGlobalID: (globalID) => decodeNodeId(globalID, isImplemented),
  },
  withInput: {
    typeOptions: {
      name: ({ parentTypeName, fieldName }) =>
        `${parentTypeName === 'Mutation' ? '' : parentTypeName}${fieldName[0]?.toUpperCase()}${fieldName.slice(1)}Input`,
    },
  },
});

function isImplemented(typename: string): boolean {
  return builder.configStore.hasImplementation(typename);
}

builder.addScalarType('DateTime', DateTimeResolver);
builder.addScalarType('JSON', BoundedJSON);

builder.queryType({ authScopes: { authenticated: true } });
builder.mutationType({ authScopes: { authenticated: true } });
builder.subscriptionType({ authScopes: { authenticated: true } });

/** The API key the request authenticated with; null in development mode. */
export function apiKeyIdOf(context: Context): string | null {
  return context.principal?.apiKeyId ?? null;
}

/** The caller's principal id; root types already require `authenticated`, so this only guards the type. */
export function ownerId(context: Context): string {
  if (!context.principal) throw new AppError(ErrorCode.UNAUTHENTICATED, 'Missing API key');
  return context.principal.id;
}
