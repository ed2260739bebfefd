import { builder } from '../schema/builder.js';
import type { Principal } from './principals.js';

const PrincipalRef = builder.objectRef<Principal>('Principal').implement({
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

builder.queryFields((t) => ({
  viewer: t.field({
    type: PrincipalRef,
    resolve: (_root, _args, context) => context.principal as Principal,
  }),
}));

builder.mutationFields((t) => ({
  createApiKey: t.fieldWithInput({
    type: CreatedApiKeyRef,
    authScopes: { admin: true },
    description: 'Creates an API key for a principal (created if new). Admin only.',
    input: {
      principalName: t.input.string({ required: true }),
      scopes: t.input.stringList({ description: 'e.g. ["admin"]; empty for a regular user.' }),
    },
    resolve: (_root, { input }, context) =>
      context.services.principals.createKey(input.principalName, input.scopes ?? []),
  }),
}));
