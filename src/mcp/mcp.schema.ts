import { AgentFunctionRef } from '../functions/functions.schema.js';
import { builder } from '../schema/builder.js';
import type { McpServerView } from './service.js';

const McpServerStatusEnum = builder.enumType('McpServerStatus', {
  description: "This instance's session with the server.",
  values: {
    CONNECTING: { value: 'connecting' },
    CONNECTED: { value: 'connected' },
    UNAVAILABLE: { value: 'unavailable', description: 'Down or refusing; retried with backoff (see error).' },
  } as const,
});

const McpServerRef = builder.objectRef<McpServerView>('McpServer').implement({
  description: 'An MCP server whose tools are functions named <server>__<tool>. Admin only.',
  fields: (t) => ({
    name: t.exposeString('name'),
    url: t.exposeString('url'),
    headerNames: t.exposeStringList('headerNames', { description: 'The values are never returned.' }),
    principals: t.exposeStringList('principals', {
      description: 'Names of the principals who may use its tools; ["*"] for every principal.',
    }),
    status: t.expose('status', { type: McpServerStatusEnum }),
    error: t.exposeString('error', { nullable: true, description: 'Why it is UNAVAILABLE.' }),
    functions: t.field({
      type: [AgentFunctionRef],
      description: 'Its tools in the registry, as last listed.',
      resolve: (server, _args, context) => context.services.mcp.functionsOf(server.name),
    }),
    createdAt: t.expose('createdAt', { type: 'DateTime' }),
    updatedAt: t.expose('updatedAt', { type: 'DateTime' }),
  }),
});

const McpHeaderInput = builder.inputType('McpHeaderInput', {
  fields: (t) => ({
    name: t.string({ required: true }),
    value: t.string({ required: true, description: 'Stored, sent to the server, never returned.' }),
  }),
});

builder.queryFields((t) => ({
  mcpServers: t.field({
    type: [McpServerRef],
    authScopes: { admin: true },
    description: 'The registered MCP servers, by name. Admin only.',
    resolve: (_root, _args, context) => context.services.mcp.list(),
  }),
}));

builder.mutationFields((t) => ({
  registerMcpServer: t.fieldWithInput({
    type: McpServerRef,
    authScopes: { admin: true },
    description:
      'Registers (or replaces) an MCP server (Streamable HTTP) on FUNCTION_WEBHOOK_ALLOWLIST; answers once its ' +
      'tools are listed, or with status UNAVAILABLE and the error. Admin only.',
    input: {
      name: t.input.string({ required: true, description: 'Prefix of its functions: <name>__<tool>.' }),
      url: t.input.string({
        required: true,
        description: 'The Streamable HTTP endpoint, e.g. https://host/mcp.',
      }),
      headers: t.input.field({
        type: [McpHeaderInput],
        description: 'Sent with every request, e.g. Authorization; replaced by each registration.',
      }),
      principals: t.input.stringList({
        required: true,
        description: 'Names of the principals who may use its tools, or ["*"] for every principal.',
      }),
    },
    resolve: (_root, { input }, context) => context.services.mcp.register(input),
  }),
  refreshMcpServer: t.fieldWithInput({
    type: McpServerRef,
    authScopes: { admin: true },
    description: 'Lists the tools again now (reconnecting first when the session is down). Admin only.',
    input: { name: t.input.string({ required: true }) },
    resolve: (_root, { input }, context) => context.services.mcp.refresh(input.name),
  }),
  deleteMcpServer: t.fieldWithInput({
    type: McpServerRef,
    authScopes: { admin: true },
    description: 'Removes the server and its functions; their execution records stay. Admin only.',
    input: { name: t.input.string({ required: true }) },
    resolve: (_root, { input }, context) => context.services.mcp.delete(input.name),
  }),
}));
