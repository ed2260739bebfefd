import { ToolCallRef } from '../conversations/conversations.schema.js';
import { builder, ownerId } from '../schema/builder.js';
import type { FunctionDefinitionRow, FunctionExecutionRow } from '../storage/schema.js';
import type { FunctionStats } from './store.js';

const FunctionKindEnum = builder.enumType('FunctionKind', {
  values: {
    BUILTIN: { value: 'builtin', description: 'Registered in code at start.' },
    WEBHOOK: { value: 'webhook', description: 'Registered over GraphQL; calls a URL on the allow-list.' },
    MCP: { value: 'mcp', description: 'A tool of a registered MCP server, named <server>__<tool>.' },
  } as const,
});

const FunctionExecutionStatusEnum = builder.enumType('FunctionExecutionStatus', {
  values: { SUCCEEDED: { value: 'succeeded' }, FAILED: { value: 'failed' } } as const,
});

const FunctionStatsRef = builder.objectRef<FunctionStats>('FunctionStats').implement({
  description: 'Over every execution of the function, by anyone.',
  fields: (t) => ({
    calls: t.exposeInt('calls'),
    successes: t.exposeInt('successes'),
    failures: t.exposeInt('failures'),
    successRate: t.float({
      nullable: true,
      description: 'successes / calls; null before the first call.',
      resolve: (stats) => (stats.calls === 0 ? null : stats.successes / stats.calls),
    }),
    avgDurationMs: t.exposeFloat('avgDurationMs', { nullable: true }),
    p95DurationMs: t.exposeFloat('p95DurationMs', {
      nullable: true,
      description: 'Interpolated 95th percentile (percentile_cont).',
    }),
  }),
});

export const AgentFunctionRef = builder.objectRef<FunctionDefinitionRow>('AgentFunction').implement({
  fields: (t) => ({
    name: t.exposeString('name'),
    description: t.exposeString('description'),
    parameters: t.expose('parameters', { type: 'JSON', description: 'JSON Schema of the arguments.' }),
    enabled: t.exposeBoolean('enabled'),
    requiresApproval: t.exposeBoolean('requiresApproval', {
      description:
        "The model's calls wait for approveToolCall / denyToolCall before they run (see ToolApprovalRequested).",
    }),
    kind: t.expose('kind', { type: FunctionKindEnum }),
    stats: t.loadable({
      type: FunctionStatsRef,
      load: async (names: string[], context) => {
        const stats = await context.services.functions.stats(names);
        return names.map((name) => stats.get(name) as FunctionStats);
      },
      resolve: (definition) => definition.name,
    }),
  }),
});

export const FunctionExecutionRef = builder.node(
  builder.objectRef<FunctionExecutionRow>('FunctionExecution'),
  {
    id: { resolve: (execution) => execution.id },
    loadMany: async (ids, context) => {
      const rows = await context.services.functions.executions(ownerId(context), { ids });
      const byId = new Map(rows.map((row) => [row.id, row]));
      return ids.map((id) => byId.get(id) ?? null);
    },
    fields: (t) => ({
      functionName: t.exposeString('functionName'),
      arguments: t.expose('arguments', {
        type: 'JSON',
        nullable: true,
        description:
          'As the function received them (unknown keys removed, defaults added); as sent when invalid.',
      }),
      result: t.expose('result', { type: 'JSON', nullable: true }),
      error: t.exposeString('error', { nullable: true }),
      status: t.expose('status', { type: FunctionExecutionStatusEnum }),
      durationMs: t.exposeFloat('durationMs'),
      toolCallId: t.exposeString('toolCallId', { nullable: true, description: 'Null for executeFunction.' }),
      createdAt: t.expose('createdAt', { type: 'DateTime' }),
    }),
  },
);

builder.objectField(ToolCallRef, 'execution', (t) =>
  t.loadable({
    type: FunctionExecutionRef,
    nullable: true,
    description: 'What running this call gave; null until it has run.',
    load: async (toolCallIds: string[], context) => {
      const rows = await context.services.functions.executions(ownerId(context), { toolCallIds });
      const byToolCall = new Map(rows.map((row) => [row.toolCallId, row]));
      return toolCallIds.map((id) => byToolCall.get(id) ?? null);
    },
    resolve: (call) => call.id,
  }),
);

builder.queryFields((t) => ({
  functions: t.field({
    type: [AgentFunctionRef],
    description:
      'The functions the caller may use, by name (an MCP tool only for the principals its server lists).',
    resolve: (_root, _args, context) => context.services.functions.list(ownerId(context)),
  }),
  function: t.field({
    type: AgentFunctionRef,
    args: { name: t.arg.string({ required: true }) },
    resolve: (_root, args, context) => context.services.functions.get(ownerId(context), args.name),
  }),
}));

builder.mutationFields((t) => ({
  registerFunction: t.fieldWithInput({
    type: AgentFunctionRef,
    authScopes: { admin: true },
    description:
      'Registers (or replaces) a webhook function: its arguments are POSTed as JSON to webhookUrl, which must be ' +
      'on FUNCTION_WEBHOOK_ALLOWLIST, and the JSON reply is its result.',
    input: {
      name: t.input.string({ required: true, description: '^[a-zA-Z0-9_-]{1,64}$' }),
      description: t.input.string({ required: true }),
      parameters: t.input.field({
        type: 'JSON',
        required: true,
        description: 'A JSON Schema with "type": "object".',
      }),
      webhookUrl: t.input.string({ required: true }),
      requiresApproval: t.input.boolean({
        description: "Default false; true: the model's calls wait for approveToolCall / denyToolCall.",
      }),
    },
    resolve: (_root, { input }, context) =>
      context.services.functions.registerWebhook(ownerId(context), input),
  }),
  setFunctionEnabled: t.field({
    type: AgentFunctionRef,
    authScopes: { admin: true },
    description: 'A disabled function is refused when offered to the model or executed.',
    args: { name: t.arg.string({ required: true }), enabled: t.arg.boolean({ required: true }) },
    resolve: (_root, args, context) => context.services.functions.setEnabled(args.name, args.enabled),
  }),
  executeFunction: t.fieldWithInput({
    type: FunctionExecutionRef,
    description:
      'Runs a function directly, as a tool call would; a failure is a FAILED execution, not an error.',
    input: {
      name: t.input.string({ required: true }),
      arguments: t.input.field({ type: 'JSON', required: true }),
    },
    resolve: (_root, { input }, context) =>
      context.services.functions.executeByName(ownerId(context), input.name, input.arguments, {
        signal: context.signal,
        trace: context.services.tracing.operationContext(context),
      }),
  }),
}));
