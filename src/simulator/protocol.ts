import { z } from 'zod';
import type { ChatMessageLike, ModelTable, TokenCounter, ToolDefinitionLike } from '../tokens/index.js';

export interface ApiError {
  status: number;
  body: { error: { message: string; type: string; param: string | null; code: string | null } };
}

export function apiError(
  status: number,
  message: string,
  {
    type = 'invalid_request_error',
    param = null,
    code = null,
  }: { type?: string; param?: string | null; code?: string | null } = {},
): ApiError {
  return { status, body: { error: { message, type, param, code } } };
}

const contentSchema = z.union([
  z.string(),
  z.array(z.looseObject({ type: z.string(), text: z.string().optional() })),
]);

const toolCallSchema = z.object({
  id: z.string().min(1),
  type: z.literal('function'),
  function: z.object({ name: z.string(), arguments: z.string() }),
});

const namedContentMessage = <R extends string>(role: R) =>
  z.looseObject({ role: z.literal(role), content: contentSchema, name: z.string().optional() });

const messageSchema = z.discriminatedUnion('role', [
  namedContentMessage('system'),
  namedContentMessage('developer'),
  namedContentMessage('user'),
  z.looseObject({
    role: z.literal('assistant'),
    content: contentSchema.nullish(),
    name: z.string().optional(),
    tool_calls: z.array(toolCallSchema).optional(),
  }),
  z.looseObject({ role: z.literal('tool'), content: contentSchema, tool_call_id: z.string() }),
]);

const toolSchema = z.object({
  type: z.literal('function'),
  function: z.looseObject({
    name: z.string().regex(/^[a-zA-Z0-9_-]{1,64}$/, 'function names must match ^[a-zA-Z0-9_-]{1,64}$'),
    description: z.string().optional(),
    parameters: z.record(z.string(), z.unknown()).optional(),
  }),
});

const toolChoiceSchema = z.union([
  z.enum(['none', 'auto', 'required']),
  z.object({ type: z.literal('function'), function: z.object({ name: z.string() }) }),
]);

const requestSchema = z.looseObject({
  model: z.string().min(1),
  messages: z.array(messageSchema).min(1),
  tools: z.array(toolSchema).min(1).optional(),
  tool_choice: toolChoiceSchema.optional(),
  stream: z.boolean().nullish(),
  stream_options: z.looseObject({ include_usage: z.boolean().nullish() }).nullish(),
  max_tokens: z.number().int().positive().nullish(),
  max_completion_tokens: z.number().int().positive().nullish(),
});

export type ChatRequest = z.infer<typeof requestSchema>;
export type ChatRequestMessage = ChatRequest['messages'][number];
export type ChatTool = NonNullable<ChatRequest['tools']>[number];

export interface ValidatedRequest {
  request: ChatRequest;
  messages: ChatMessageLike[];
  tools: ToolDefinitionLike[];
  promptTokens: number;
}

const ROLES = new Set(['system', 'developer', 'user', 'assistant', 'tool']);

/** Rejects what OpenAI rejects (as far as the platform can trip over it), with OpenAI's status, wording and param. */
export async function validateChatRequest(
  body: unknown,
  counter: TokenCounter,
  models: ModelTable,
): Promise<ValidatedRequest | ApiError> {
  if (typeof body !== 'object' || body === null || Array.isArray(body)) {
    return apiError(
      400,
      'We could not parse the JSON body of your request. The OpenAI API expects a JSON payload.',
    );
  }
  const raw = body as Record<string, unknown>;
  if (raw.model === undefined || raw.model === '') return apiError(400, 'you must provide a model parameter');
  if (Array.isArray(raw.messages)) {
    for (const [i, message] of raw.messages.entries()) {
      const role = (message as { role?: unknown } | null)?.role;
      if (typeof role !== 'string' || !ROLES.has(role)) {
        return apiError(
          400,
          `Invalid value: '${String(role)}'. Supported values are: 'system', 'assistant', 'user', 'tool', and 'developer'.`,
          { param: `messages[${i}].role`, code: 'invalid_value' },
        );
      }
    }
  }
  const parsed = requestSchema.safeParse(body, { reportInput: true });
  if (!parsed.success) return issueToError(parsed.error.issues[0]);
  const request = parsed.data;

  const pairing = checkToolPairing(request.messages);
  if (pairing) return pairing;
  const choice = checkToolChoice(request);
  if (choice) return choice;

  const messages = request.messages.map(toMessageLike);
  const tools = (request.tools ?? []).map(toToolLike);
  const promptTokens = await counter.countRequest({ model: request.model, messages, tools });
  const { contextWindow } = models.get(request.model);
  const requested = promptTokens + (request.max_completion_tokens ?? request.max_tokens ?? 0);
  if (requested > contextWindow) {
    return apiError(
      400,
      `This model's maximum context length is ${contextWindow} tokens. However, you requested ${requested} tokens ` +
        `(${promptTokens} in the messages, ${requested - promptTokens} in the completion). ` +
        'Please reduce the length of the messages or completion.',
      { param: 'messages', code: 'context_length_exceeded' },
    );
  }
  return { request, messages, tools, promptTokens };
}

export function isApiError(value: ValidatedRequest | ApiError): value is ApiError {
  return 'status' in value;
}

function issueToError(issue: z.core.$ZodIssue | undefined): ApiError {
  if (!issue) return apiError(400, 'Invalid request.');
  const param = formatPath(issue.path);
  if (issue.input === undefined) {
    return apiError(400, `Missing required parameter: '${param}'.`, {
      param,
      code: 'missing_required_parameter',
    });
  }
  if (issue.code === 'too_small' && Array.isArray(issue.input)) {
    return apiError(
      400,
      `Invalid '${param}': empty array. Expected an array with minimum length 1, but got an empty array instead.`,
      { param, code: 'empty_array' },
    );
  }
  if (issue.code === 'invalid_type') {
    return apiError(400, `Invalid type for '${param}': expected ${issue.expected}.`, {
      param,
      code: 'invalid_type',
    });
  }
  return apiError(400, `Invalid value for '${param}': ${issue.message}.`, { param, code: 'invalid_value' });
}

function formatPath(path: readonly PropertyKey[]): string {
  return path.reduce<string>(
    (acc, key) => (typeof key === 'number' ? `${acc}[${key}]` : acc ? `${acc}.${String(key)}` : String(key)),
    '',
  );
}

/** Tool messages must answer the assistant `tool_calls` right before them, and every call must be answered. */
function checkToolPairing(messages: ChatRequestMessage[]): ApiError | undefined {
  let open: { index: number; pending: Set<string> } | undefined;
  const unanswered = () =>
    open && open.pending.size > 0
      ? apiError(
          400,
          "An assistant message with 'tool_calls' must be followed by tool messages responding to each " +
            `'tool_call_id'. The following tool_call_ids did not have response messages: ${[...open.pending].join(', ')}`,
          { param: `messages[${open.index}].role` },
        )
      : undefined;
  for (const [i, message] of messages.entries()) {
    if (message.role === 'tool') {
      if (!open) {
        return apiError(
          400,
          "Invalid parameter: messages with role 'tool' must be a response to a preceeding message with 'tool_calls'.",
          { param: `messages[${i}].role` },
        );
      }
      if (!open.pending.delete(message.tool_call_id)) {
        return apiError(
          400,
          `Invalid parameter: 'tool_call_id' of '${message.tool_call_id}' not found in 'tool_calls' of previous message.`,
          { param: `messages[${i}].tool_call_id` },
        );
      }
      continue;
    }
    const error = unanswered();
    if (error) return error;
    open = undefined;
    if (message.role === 'assistant') {
      if (message.tool_calls && message.tool_calls.length > 0) {
        open = { index: i, pending: new Set(message.tool_calls.map((call) => call.id)) };
      } else if (message.content == null) {
        return apiError(400, `Invalid value for 'messages[${i}].content': expected a string, got null.`, {
          param: `messages[${i}].content`,
          code: 'invalid_type',
        });
      }
    }
  }
  return unanswered();
}

function checkToolChoice(request: ChatRequest): ApiError | undefined {
  const choice = request.tool_choice;
  if (choice === undefined) return undefined;
  if (!request.tools) {
    return apiError(
      400,
      "Invalid value for 'tool_choice': 'tool_choice' is only allowed when 'tools' are specified.",
      {
        param: 'tool_choice',
      },
    );
  }
  if (
    typeof choice === 'object' &&
    !request.tools.some((tool) => tool.function.name === choice.function.name)
  ) {
    return apiError(
      400,
      `Invalid value for 'tool_choice': function '${choice.function.name}' not found in 'tools'.`,
      {
        param: 'tool_choice',
        code: 'invalid_value',
      },
    );
  }
  return undefined;
}

export function textOf(content: ChatRequestMessage['content']): string | null {
  if (content == null) return null;
  if (typeof content === 'string') return content;
  return content.map((part) => (part.type === 'text' ? (part.text ?? '') : '')).join('');
}

function toMessageLike(message: ChatRequestMessage): ChatMessageLike {
  const content = textOf(message.content);
  switch (message.role) {
    case 'assistant':
      return {
        role: 'assistant',
        content,
        name: message.name,
        toolCalls: message.tool_calls?.map((call) => ({
          id: call.id,
          functionName: call.function.name,
          arguments: call.function.arguments,
        })),
      };
    case 'tool':
      return { role: 'tool', content, toolCallId: message.tool_call_id };
    case 'developer':
      // The platform's counter knows the four stored roles; developer messages are system messages for newer models.
      return { role: 'system', content, name: message.name };
    default:
      return { role: message.role, content, name: message.name };
  }
}

function toToolLike(tool: ChatTool): ToolDefinitionLike {
  return {
    name: tool.function.name,
    description: tool.function.description,
    parameters: tool.function.parameters ?? {},
  };
}
