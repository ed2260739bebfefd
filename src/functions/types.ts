import type { ChatCompletionTool, ChatCompletionToolChoiceOption } from 'openai/resources/chat/completions';
import type { TraceContext } from '../observability/tracing.js';
import type { FunctionDefinitionRow } from '../storage/schema.js';

/** What the function registry takes and hands out (see FunctionService). */

export interface FunctionContext {
  ownerId: string;
  /** The completion whose model called it; null for executeFunction. */
  completionId: string | null;
  /** Aborted on timeout or when the completion is cancelled. */
  signal: AbortSignal;
  /** The execution's span: a webhook call carries it on as `traceparent`. */
  trace: TraceContext;
}

/** A function whose handler is code, registered at start. */
export interface BuiltinFunction {
  name: string;
  description: string;
  parameters: Record<string, unknown>;
  /** A call by the model waits for approveToolCall / denyToolCall before it runs. */
  requiresApproval?: boolean;
  handler: (args: Record<string, unknown>, context: FunctionContext) => Promise<unknown>;
  /** A call of the model's that waited for approval was denied or expired: undo what was prepared for it. */
  onDenied?: (
    args: unknown,
    context: { ownerId: string; completionId: string; reason: string },
  ) => Promise<void>;
}

/** Runs the tools of MCP servers (src/mcp), so that they go through `execute` like every other function. */
export interface McpCaller {
  call(
    definition: FunctionDefinitionRow,
    args: Record<string, unknown>,
    signal: AbortSignal,
  ): Promise<unknown>;
}

export interface WebhookFunctionInput {
  name: string;
  description: string;
  parameters?: unknown;
  webhookUrl: string;
  requiresApproval?: boolean | null;
}

export interface ExecutionRequest {
  ownerId: string;
  functionName: string;
  /** Undefined when the model called a function it was not offered. */
  function: FunctionDefinitionRow | undefined;
  /** JSON text as the model wrote it, or a value (executeFunction). */
  arguments: unknown;
  completionId?: string | null;
  toolCallId?: string | null;
  signal?: AbortSignal;
  /** The parent of the execution's span: the completion run's, or the executeFunction operation's. */
  trace: TraceContext;
}

export type FunctionCallMode = 'auto' | 'none' | 'required';

/** SendMessageInput.functionCall: a mode, or a function the model must call. */
export interface FunctionCallChoice {
  mode?: FunctionCallMode | null;
  name?: string | null;
}

/** What a completion offers the model: the functions, as `tools`, and the `tool_choice` of its first request. */
export interface ToolOffer {
  functions: FunctionDefinitionRow[];
  tools: ChatCompletionTool[];
  toolChoice: ChatCompletionToolChoiceOption | undefined;
}

export interface ToolCall {
  id: string;
  functionName: string;
  arguments: string;
}
