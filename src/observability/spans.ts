import { type Attributes, type Span, SpanKind } from '@opentelemetry/api';
import { ATTR_SERVER_ADDRESS, ATTR_SERVER_PORT } from '@opentelemetry/semantic-conventions';
import type {
  ChatCompletionCreateParams,
  ChatCompletionMessageParam,
} from 'openai/resources/chat/completions';
import { ErrorCode } from '../errors.js';
import { failSpan, type SpanStart, type TraceContext, type Tracing } from './tracing.js';

/**
 * The spans the platform makes besides the GraphQL operations' (see tracing.ts): names and attributes of the
 * OpenTelemetry GenAI semantic conventions (gen-ai-spans, gen-ai-agent-spans,
 * openai; development status, as of semantic-conventions 1.37+): `chat {model}` for each model request,
 * `invoke_agent` for a completion run (the tool loop), `execute_tool {name}` for each function execution.
 * Contents (messages, tool arguments and results) are the conventions' opt-in attributes: the callers add them
 * only when OTEL_INSTRUMENTATION_GENAI_CAPTURE_MESSAGE_CONTENT allows.
 */

/**
 * Every upstream speaks OpenAI's API through the openai SDK, which is what the conventions' provider name
 * identifies; server.address tells OpenAI from a compatible server.
 */
const PROVIDER = 'openai';

/** Provider and operation under both names: gen_ai.system is the name before 1.37 that some backends still read. */
function operation(name: string): Attributes {
  return { 'gen_ai.operation.name': name, 'gen_ai.provider.name': PROVIDER, 'gen_ai.system': PROVIDER };
}

/** The span of one model request, with what sampling decisions may use set at its start. */
export function chatSpan(model: string, server: URL, conversationId: string | undefined): SpanStart {
  return {
    name: `chat ${model}`,
    options: {
      kind: SpanKind.CLIENT,
      attributes: {
        ...operation('chat'),
        'gen_ai.request.model': model,
        'gen_ai.conversation.id': conversationId,
        [ATTR_SERVER_ADDRESS]: server.hostname,
        [ATTR_SERVER_PORT]: Number(server.port) || (server.protocol === 'https:' ? 443 : 80),
      },
    },
  };
}

/** The request as sent (after the parameters the model does not take were left out). */
export function chatRequestAttributes(params: ChatCompletionCreateParams, stream: boolean): Attributes {
  const format = params.response_format?.type;
  return {
    'gen_ai.request.max_tokens': params.max_completion_tokens ?? params.max_tokens ?? undefined,
    'gen_ai.request.temperature': params.temperature ?? undefined,
    'gen_ai.request.top_p': params.top_p ?? undefined,
    'gen_ai.request.frequency_penalty': params.frequency_penalty ?? undefined,
    'gen_ai.request.presence_penalty': params.presence_penalty ?? undefined,
    'gen_ai.request.stream': stream || undefined,
    'gen_ai.output.type': format === 'json_schema' || format === 'json_object' ? 'json' : format && 'text',
    'openai.api.type': 'chat_completions',
  };
}

export interface ChatResponse {
  id?: string;
  model?: string;
  finishReason?: string;
  usage?: {
    promptTokens: number;
    completionTokens: number;
    cachedPromptTokens?: number;
    reasoningTokens?: number;
  } | null;
}

export function chatResponseAttributes(response: ChatResponse): Attributes {
  const { usage } = response;
  return {
    'gen_ai.response.id': response.id,
    'gen_ai.response.model': response.model,
    'gen_ai.response.finish_reasons': response.finishReason ? [response.finishReason] : undefined,
    'gen_ai.usage.input_tokens': usage?.promptTokens,
    'gen_ai.usage.output_tokens': usage?.completionTokens,
    'gen_ai.usage.cache_read.input_tokens': usage?.cachedPromptTokens,
    'gen_ai.usage.reasoning.output_tokens': usage?.reasoningTokens,
  };
}

/** A completion run: the agent loop of model requests and function executions, in this process. */
export function agentSpan(model: string, conversationId: string, completionId: string): SpanStart {
  return {
    name: 'invoke_agent',
    options: {
      kind: SpanKind.INTERNAL,
      attributes: {
        ...operation('invoke_agent'),
        'gen_ai.request.model': model,
        'gen_ai.conversation.id': conversationId,
        'agent_platform.completion.id': completionId,
      },
    },
  };
}

/**
 * A completion run in its `invoke_agent` span (`work` gets the span's context), which records what the run used,
 * as the conventions count it, what it answered with, and a failure or cancellation.
 */
export function tracedRun<T extends FinishedRun>(
  tracing: Tracing,
  start: SpanStart,
  parent: TraceContext,
  work: (trace: TraceContext) => Promise<T>,
): Promise<T> {
  return tracing.inSpan(start, parent, async (span, trace) => {
    const run = await work(trace);
    span.setAttributes({
      'gen_ai.usage.input_tokens': run.promptTokens,
      'gen_ai.usage.output_tokens': run.completionTokens,
      'gen_ai.response.finish_reasons': run.finishReason ? [run.finishReason] : undefined,
    });
    if (run.status === 'failed' || run.status === 'cancelled')
      failSpan(span, run.error?.code ?? run.status.toUpperCase(), undefined);
    return run;
  });
}

interface FinishedRun {
  status: string;
  error: { code: string } | null;
  promptTokens: number;
  completionTokens: number;
  finishReason: string | null;
}

/** One function execution in its `execute_tool` span (`work` gets the span's context). */
export function tracedExecution<T extends Execution>(
  tracing: Tracing,
  request: ToolSpanRequest & { trace: TraceContext },
  work: (trace: TraceContext) => Promise<T>,
): Promise<T> {
  return tracing.inSpan(toolSpan(request), request.trace, async (span, trace) => {
    const execution = await work(trace);
    recordExecution(span, execution, tracing.captureContent);
    return execution;
  });
}

type Execution = {
  arguments: unknown;
  result: unknown;
  error: string | null;
  status: 'succeeded' | 'failed';
};
type ToolSpanRequest = {
  functionName: string;
  toolCallId?: string | null;
  function?: { description: string };
};

/** One function execution; `function` tools are run by the platform on the model's request. */
function toolSpan(execution: ToolSpanRequest): SpanStart {
  return {
    name: `execute_tool ${execution.functionName}`,
    options: {
      kind: SpanKind.INTERNAL,
      attributes: {
        'gen_ai.operation.name': 'execute_tool',
        'gen_ai.tool.name': execution.functionName,
        'gen_ai.tool.type': 'function',
        'gen_ai.tool.call.id': execution.toolCallId ?? undefined,
        'gen_ai.tool.description': execution.function?.description,
      },
    },
  };
}

/** The outcome of an execution; its arguments, result and error text only with `captureContent`. */
function recordExecution(span: Span, execution: Execution, captureContent: boolean): void {
  if (captureContent) {
    span.setAttribute('gen_ai.tool.call.arguments', JSON.stringify(execution.arguments));
    if (execution.status === 'succeeded')
      span.setAttribute('gen_ai.tool.call.result', JSON.stringify(execution.result));
  }
  if (execution.status === 'failed')
    failSpan(span, ErrorCode.FUNCTION_FAILED, captureContent ? (execution.error ?? undefined) : undefined);
}

/** A context trim (trimContext, or the fit before a model request); not a GenAI operation, so its own names. */
export function trimSpan(conversationId: string, strategy: string, limitTokens: number): SpanStart {
  return {
    name: 'trim_context',
    options: {
      kind: SpanKind.INTERNAL,
      attributes: {
        'gen_ai.conversation.id': conversationId,
        'agent_platform.context.strategy': strategy,
        'agent_platform.context.limit_tokens': limitTokens,
      },
    },
  };
}

export function trimmedAttributes(trimmed: { removedIds: string[]; summary: unknown; tokenCount: number }) {
  return {
    'agent_platform.context.removed_messages': trimmed.removedIds.length,
    'agent_platform.context.summarized': trimmed.summary !== null,
    'agent_platform.context.tokens': trimmed.tokenCount,
  };
}

/** gen_ai.input.messages: the chat history as sent, in the conventions' role-and-parts shape (a JSON string). */
export function inputMessages(messages: readonly ChatCompletionMessageParam[]): string {
  return JSON.stringify(
    messages.map((message) => {
      if (message.role === 'tool') {
        const part = { type: 'tool_call_response', id: message.tool_call_id, result: text(message.content) };
        return { role: 'tool', parts: [part] };
      }
      const parts: unknown[] = [];
      const content = text(message.content);
      if (content) parts.push({ type: 'text', content });
      if (message.role === 'assistant') {
        for (const call of message.tool_calls ?? []) {
          if (call.type !== 'function') continue;
          parts.push(toolCallPart(call.id, call.function.name, call.function.arguments));
        }
      }
      return { role: message.role, parts };
    }),
  );
}

/** gen_ai.output.messages: the one choice the platform asks for, as a JSON string. */
export function outputMessages(
  content: string,
  toolCalls: readonly { id: string; functionName: string; arguments: string }[],
  finishReason: string,
): string {
  const parts: unknown[] = content ? [{ type: 'text', content }] : [];
  for (const call of toolCalls) parts.push(toolCallPart(call.id, call.functionName, call.arguments));
  return JSON.stringify([{ role: 'assistant', parts, finish_reason: finishReason }]);
}

function toolCallPart(id: string, name: string, args: string) {
  return { type: 'tool_call', id, name, arguments: parsedOrText(args) };
}

/** Tool-call arguments are objects in the conventions: JSON text is parsed, anything else kept as text. */
function parsedOrText(value: string): unknown {
  try {
    return JSON.parse(value) as unknown;
  } catch {
    return value;
  }
}

function text(content: ChatCompletionMessageParam['content']): string {
  if (typeof content === 'string') return content;
  return (content ?? []).map((part) => ('text' in part ? part.text : '')).join('');
}
