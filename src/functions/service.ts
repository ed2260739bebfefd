import type { ChatCompletionTool } from 'openai/resources/chat/completions';
import { z } from 'zod';
import { AppError, badInput, ErrorCode, notFound } from '../errors.js';
import type { Logger } from '../observability/logger.js';
import type { Metrics } from '../observability/metrics.js';
import { tracedExecution } from '../observability/spans.js';
import type { TraceContext, Tracing } from '../observability/tracing.js';
import type { FunctionDefinitionRow, FunctionExecutionRow } from '../storage/schema.js';
import { parseInput } from '../validation.js';
import { type ArgumentValidator, unstorableJson } from './arguments.js';
import { untilAborted } from './deadline.js';
import type { ExecutionFilter, FunctionStats, FunctionStore } from './store.js';
import type {
  BuiltinFunction,
  ExecutionRequest,
  FunctionCallChoice,
  FunctionContext,
  McpCaller,
  ToolCall,
  ToolOffer,
  WebhookFunctionInput,
} from './types.js';
import type { WebhookCaller } from './webhook.js';

export const FUNCTION_NAME = /^[a-zA-Z0-9_-]{1,64}$/;

type Outcome = Pick<FunctionExecutionRow, 'arguments' | 'result' | 'error' | 'status'>;

const webhookInputSchema = z.object({
  name: z.string().regex(FUNCTION_NAME, 'must match ^[a-zA-Z0-9_-]{1,64}$'),
  description: z.string().trim().min(1, 'must not be empty').max(1024),
  parameters: z.unknown(),
  webhookUrl: z.string().max(2048),
  requiresApproval: z.boolean().nullish(),
});

/**
 * The function registry and its one executor. Definitions live in the database (so every instance sees the same
 * registry and enabled flags); built-in handlers live in this object, registered by app.ts at start. Every call,
 * from the model or from `executeFunction`, goes through `execute`: arguments parsed and validated, a timeout,
 * a bounded JSON result, and a stored execution row. A failing function is a FAILED row, never a thrown error.
 */
export class FunctionService {
  private readonly builtins = new Map<string, BuiltinFunction>();

  constructor(
    private readonly deps: {
      store: FunctionStore;
      validator: ArgumentValidator;
      webhooks: WebhookCaller;
      mcp: McpCaller;
      timeoutMs: number;
      maxResultBytes: number;
      logger: Logger;
      metrics: Metrics;
      tracing: Tracing;
    },
  ) {}

  async registerBuiltin(definition: BuiltinFunction): Promise<FunctionDefinitionRow> {
    const problem = FUNCTION_NAME.test(definition.name)
      ? this.deps.validator.schemaProblem(definition.parameters)
      : 'invalid name';
    if (problem) throw new Error(`built-in function ${definition.name}: ${problem}`);
    this.builtins.set(definition.name, definition);
    const { name, description, parameters, requiresApproval = false } = definition;
    const row = { name, description, parameters, requiresApproval };
    return this.deps.store.upsertDefinition({ ...row, kind: 'builtin', webhookUrl: null, ownerId: null });
  }

  /** Registers or replaces a webhook function; the names of built-ins and MCP tools are taken. */
  async registerWebhook(ownerId: string, input: WebhookFunctionInput): Promise<FunctionDefinitionRow> {
    const { name, description, parameters, webhookUrl, requiresApproval } = parseInput(
      webhookInputSchema,
      input,
    );
    const problem = this.deps.validator.schemaProblem(parameters);
    if (problem) throw badInput('input.parameters', problem);
    const url = this.deps.webhooks.allowedUrl(webhookUrl, 'input.webhookUrl');
    const existing = await this.deps.store.definition(name);
    if (existing && existing.kind !== 'webhook')
      throw badInput(
        'input.name',
        `${name} is ${existing.kind === 'mcp' ? 'an MCP tool' : 'a built-in function'}`,
      );
    return this.deps.store.upsertDefinition({
      name,
      description,
      parameters: parameters as Record<string, unknown>,
      kind: 'webhook',
      webhookUrl: url,
      requiresApproval: requiresApproval ?? false,
      ownerId,
    });
  }

  async setEnabled(name: string, enabled: boolean): Promise<FunctionDefinitionRow> {
    const row = await this.deps.store.setEnabled(name, enabled);
    if (!row) throw notFound('Function', name);
    return row;
  }

  /** The functions `ownerId` may use (an MCP tool only when its server lists them). */
  list(ownerId: string): Promise<FunctionDefinitionRow[]> {
    return this.deps.store.definitions(undefined, ownerId);
  }

  async get(ownerId: string, name: string): Promise<FunctionDefinitionRow> {
    const [row] = await this.deps.store.definitions([name], ownerId);
    if (!row) throw notFound('Function', name);
    return row;
  }

  /**
   * The definitions of the named functions, in order, or BAD_USER_INPUT when one is unknown, disabled, or not
   * for `ownerId` (then it is unknown: a principal does not learn which MCP tools others have).
   */
  async offer(ownerId: string, names: readonly string[], field: string): Promise<FunctionDefinitionRow[]> {
    // Most completions offer no functions: skip the `where false` round trip to the database (bench profile).
    if (names.length === 0) return [];
    const rows = new Map((await this.deps.store.definitions(names, ownerId)).map((row) => [row.name, row]));
    return names.map((name) => {
      const row = rows.get(name);
      if (!row) throw badInput(field, `unknown function ${JSON.stringify(name)}`);
      if (!row.enabled) throw badInput(field, `function ${JSON.stringify(name)} is disabled`);
      return row;
    });
  }

  /** Resolves SendMessageInput.functions and .functionCall, refusing unknown or disabled functions. */
  async offerTools(
    ownerId: string,
    names: readonly string[],
    choice: FunctionCallChoice | null | undefined,
  ): Promise<ToolOffer> {
    const functions = await this.offer(ownerId, names, 'input.functions');
    const tools = functions.map(
      (definition): ChatCompletionTool => ({
        type: 'function',
        function: {
          name: definition.name,
          description: definition.description,
          parameters: definition.parameters,
        },
      }),
    );
    if (choice?.name != null) {
      if (!names.includes(choice.name))
        throw badInput('input.functionCall.name', `${choice.name} is not one of input.functions`);
      if (choice.mode === 'none') throw badInput('input.functionCall.mode', 'NONE cannot force a function');
      return { functions, tools, toolChoice: { type: 'function', function: { name: choice.name } } };
    }
    if (choice?.mode && functions.length === 0)
      throw badInput('input.functionCall', 'needs input.functions to choose from');
    return { functions, tools, toolChoice: functions.length > 0 ? (choice?.mode ?? 'auto') : undefined };
  }

  /**
   * The validated arguments of a tool call that must wait for a human's approval (its function requires it, or
   * the send asked it of every call); null when the call runs at once, as a call that would fail does (unknown
   * function, invalid arguments): it fails without running.
   */
  argumentsAwaitingApproval(offer: ToolOffer, call: ToolCall, approveEveryCall: boolean): unknown {
    const definition = offer.functions.find((candidate) => candidate.name === call.functionName);
    if (!definition || !(approveEveryCall || definition.requiresApproval)) return null;
    const checked = this.deps.validator.check(call.arguments, definition.parameters);
    return checked.ok ? checked.value : null;
  }

  /** Tells a built-in that a call of its, which waited for approval, was denied or expired. */
  async denied(
    call: { functionName: string; arguments: unknown },
    context: { ownerId: string; completionId: string; reason: string },
  ): Promise<void> {
    await this.builtins.get(call.functionName)?.onDenied?.(call.arguments, context);
  }

  /** Runs one of the model's tool calls; a function that was not offered gives a FAILED execution. */
  executeToolCall(
    ownerId: string,
    offer: ToolOffer,
    call: ToolCall,
    completionId: string,
    caller: { signal: AbortSignal; trace: TraceContext },
  ): Promise<FunctionExecutionRow> {
    return this.execute({
      ownerId,
      functionName: call.functionName,
      function: offer.functions.find((definition) => definition.name === call.functionName),
      arguments: call.arguments,
      completionId,
      toolCallId: call.id,
      ...caller,
    });
  }

  /** executeFunction: a direct call by name, refused like an offer when the function is unknown or disabled. */
  async executeByName(
    ownerId: string,
    name: string,
    args: unknown,
    caller: { signal: AbortSignal; trace: TraceContext },
  ): Promise<FunctionExecutionRow> {
    const [definition] = await this.offer(ownerId, [name], 'input.name');
    return this.execute({ ownerId, functionName: name, function: definition, arguments: args, ...caller });
  }

  execute(request: ExecutionRequest): Promise<FunctionExecutionRow> {
    return tracedExecution(this.deps.tracing, request, (trace) => this.executeWithin({ ...request, trace }));
  }

  private async executeWithin(request: ExecutionRequest): Promise<FunctionExecutionRow> {
    const createdAt = new Date();
    const started = performance.now();
    const outcome = await this.outcome(request);
    const execution = await this.deps.store.insertExecution({
      ...outcome,
      ownerId: request.ownerId,
      completionId: request.completionId ?? null,
      toolCallId: request.toolCallId ?? null,
      functionName: request.functionName,
      durationMs: Math.round((performance.now() - started) * 1000) / 1000,
      createdAt,
    });
    this.deps.metrics.functionExecuted(execution.functionName, execution.status, execution.durationMs);
    return execution;
  }

  stats(names: readonly string[]): Promise<Map<string, FunctionStats>> {
    return this.deps.store.stats(names);
  }

  executions(ownerId: string, filter: ExecutionFilter): Promise<FunctionExecutionRow[]> {
    return this.deps.store.executions(ownerId, filter);
  }

  private async outcome(request: ExecutionRequest): Promise<Outcome> {
    const { function: definition, ownerId } = request;
    if (!definition)
      return {
        arguments: request.arguments,
        result: null,
        error: `${request.functionName} is not one of the offered functions`,
        status: 'failed',
      };
    const checked = this.deps.validator.check(request.arguments, definition.parameters);
    if (!checked.ok)
      return { arguments: checked.received, result: null, error: checked.error, status: 'failed' };
    const timeout = AbortSignal.timeout(this.deps.timeoutMs);
    const signal = request.signal ? AbortSignal.any([request.signal, timeout]) : timeout;
    const failed = (error: string): Outcome => ({
      arguments: checked.value,
      result: null,
      error,
      status: 'failed',
    });
    try {
      const context = { ownerId, completionId: request.completionId ?? null, signal, trace: request.trace };
      const value = await untilAborted(this.handle(definition, checked.value, context), signal);
      const text = JSON.stringify(value ?? null);
      if (Buffer.byteLength(text) > this.deps.maxResultBytes)
        return failed(`result exceeds ${this.deps.maxResultBytes} bytes`);
      if (unstorableJson(text))
        return failed('result holds a NUL or an unpaired surrogate, which cannot be stored');
      return { arguments: checked.value, result: JSON.parse(text), error: null, status: 'succeeded' };
    } catch (error) {
      if (timeout.aborted) return failed(`timed out after ${this.deps.timeoutMs} ms`);
      if (signal.aborted) return failed('cancelled');
      if (error instanceof AppError) return failed(error.message);
      this.deps.logger.error({ err: error, function: definition.name }, 'function failed');
      return failed('the function failed unexpectedly');
    }
  }

  private async handle(
    definition: FunctionDefinitionRow,
    args: Record<string, unknown>,
    context: FunctionContext,
  ): Promise<unknown> {
    if (definition.kind === 'webhook' && definition.webhookUrl)
      return this.deps.webhooks.call(definition.webhookUrl, args, context);
    if (definition.kind === 'mcp') return this.deps.mcp.call(definition, args, context.signal);
    const builtin = this.builtins.get(definition.name);
    if (!builtin)
      throw new AppError(ErrorCode.FUNCTION_FAILED, `${definition.name} has no handler on this instance`);
    return builtin.handler(args, context);
  }
}

/** The `tool` message content for an execution: its JSON result, or `{"error": …}` so the model can react. */
export function toolMessageContent(execution: FunctionExecutionRow): string {
  return JSON.stringify(execution.status === 'succeeded' ? execution.result : { error: execution.error });
}
