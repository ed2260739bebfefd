import { builder } from '../schema/builder.js';
import type { ApiKeyInfo, Principal } from './principals.js';

export const PrincipalRef = builder.objectRef<Principal>('Principal').implement({
  description: 'Who is calling: the owner of an API key.',
  fields: (t) => ({
    id: t.exposeID('id'),
    name: t.exposeString('name'),
    scopes: t.exposeStringList('scopes'),
  }),
});

const CreatedApiKeyRef = builder.objectRef<{ principal: Principal; key: string }>('CreatedApiKey').implement({
  fields: (t) => ({
    principal: t.field({ type: PrincipalRef, resolve: (created) => created.principal }),
    key: t.exposeString('key', { description: 'Shown once: only its hash is stored.' }),
  }),
});

const ApiKeySourceEnum = builder.enumType('ApiKeySource', {
  values: {
    CONFIG: { value: 'config', description: 'Listed in API_KEYS; revoked at start once no longer listed.' },
    CREATED: { value: 'created', description: 'Made with createApiKey; lives until revokeApiKey.' },
  } as const,
});

export const ApiKeyRef = builder.objectRef<ApiKeyInfo>('ApiKey').implement({
  description: 'An API key as an admin sees it: never the key itself, which is stored only as a hash.',
  fields: (t) => ({
    id: t.exposeID('id'),
    prefix: t.exposeString('prefix', { description: 'The first characters of the key, to recognise it.' }),
    source: t.expose('source', { type: ApiKeySourceEnum }),
    principal: t.field({ type: PrincipalRef, resolve: (key) => key.principal }),
    createdAt: t.expose('createdAt', { type: 'DateTime' }),
    lastUsedAt: t.expose('lastUsedAt', {
      type: 'DateTime',
      nullable: true,
      description: 'When a request last authenticated with it (recorded at most every 10 s per instance).',
    }),
  }),
});

builder.queryFields((t) => ({
  viewer: t.field({
    type: PrincipalRef,
    resolve: (_root, _args, context) => context.principal as Principal,
  }),
  apiKeys: t.field({
    type: [ApiKeyRef],
    authScopes: { admin: true },
    description: 'Every API key, newest first. Admin only.',
    resolve: (_root, _args, context) => context.services.principals.listKeys(),
  }),
}));

builder.mutationFields((t) => ({
  createApiKey: t.fieldWithInput({
    type: CreatedApiKeyRef,
    authScopes: { admin: true },
    description:
      'Creates an API key for a principal. A new principal gets `scopes`; an existing one keeps its own, and ' +
      'different `scopes` for it are refused. Admin only.',
    input: {
      principalName: t.input.string({ required: true }),
      scopes: t.input.stringList({
        description: 'e.g. ["admin"]; for a new principal, empty or omitted makes a regular user.',
      }),
    },
    resolve: (_root, { input }, context) =>
      context.services.principals.createKey(input.principalName, input.scopes ?? null),
  }),
  revokeApiKey: t.fieldWithInput({
    type: ApiKeyRef,
    authScopes: { admin: true },
    description:
      'Deletes an API key: refused at once on this instance, within 10 s on the others. Admin only. A key ' +
      'listed in API_KEYS comes back at the next start unless it is removed from the list.',
    input: { id: t.input.id({ required: true }) },
    resolve: async (_root, { input }, context) => {
      const { info, keyHash } = await context.services.principals.revokeKey(String(input.id));
      context.services.authenticator.forget(keyHash);
      return info;
    },
  }),
}));
