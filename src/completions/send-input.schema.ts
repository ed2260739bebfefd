import { builder } from '../schema/builder.js';
import { decodeId } from '../schema/ids.js';
import { ReasoningEffortEnum } from '../tokens/models.schema.js';
import type { SendMessageInput as SendMessageRequest } from './service.js';
import { ResponseFormatInput } from './structured-output.schema.js';

const FunctionCallModeEnum = builder.enumType('FunctionCallMode', {
  values: {
    AUTO: { value: 'auto', description: 'The model decides.' },
    NONE: { value: 'none', description: 'No function calls.' },
    REQUIRED: { value: 'required', description: 'At least one call in the first request.' },
  } as const,
});

const FunctionCallInput = builder.inputType('FunctionCallInput', {
  description:
    'Whether the model may call functions (AUTO), must not (NONE), or must call one (REQUIRED); with name, the function the first request must call.',
  fields: (t) => ({
    mode: t.field({ type: FunctionCallModeEnum }),
    name: t.string(),
  }),
});

export const SendMessageInput = builder.inputType('SendMessageInput', {
  description: 'A user message and the settings for this completion (unset ones come from the conversation).',
  fields: (t) => ({
    conversationId: t.id({ required: true }),
    content: t.string({ required: true }),
    model: t.string(),
    temperature: t.float(),
    maxTokens: t.int(),
    topP: t.float(),
    frequencyPenalty: t.float(),
    presencePenalty: t.float(),
    reasoningEffort: t.field({
      type: ReasoningEffortEnum,
      description:
        "Reasoning models: this message's effort (the model's documented values; see Query.models).",
    }),
    functions: t.stringList({ description: 'Registry functions offered to the model as tools.' }),
    functionCall: t.field({ type: FunctionCallInput }),
    maxSteps: t.int({
      description: 'Most model requests while the model keeps calling functions (default 5, at most 20).',
    }),
    idempotencyKey: t.string({
      description:
        'A retried request with the same key returns the first completion and sends nothing upstream.',
    }),
    cache: t.boolean({
      description:
        'Answer an identical request (model, messages, tools, settings) from the response cache. Unset: only at ' +
        'temperature 0; false: never.',
    }),
    responseFormat: t.field({
      type: ResponseFormatInput,
      description: 'Structured outputs: the reply as a JSON object, or one that follows a JSON Schema.',
    }),
    requireApproval: t.boolean({
      description:
        'Every function call of this completion waits for approveToolCall / denyToolCall, as calls of functions ' +
        'with requiresApproval always do.',
    }),
  }),
});

export type SendMessageArgs = { input: typeof SendMessageInput.$inferInput };

/** The service's request from the GraphQL input (global ids decoded). */
export function sendRequest({ input }: SendMessageArgs): SendMessageRequest {
  return {
    conversationId: decodeId(input.conversationId, 'Conversation', 'input.conversationId'),
    content: input.content,
    idempotencyKey: input.idempotencyKey,
    model: input.model ?? undefined,
    temperature: input.temperature ?? undefined,
    maxTokens: input.maxTokens ?? undefined,
    topP: input.topP ?? undefined,
    frequencyPenalty: input.frequencyPenalty ?? undefined,
    presencePenalty: input.presencePenalty ?? undefined,
    reasoningEffort: input.reasoningEffort ?? undefined,
    functions: input.functions,
    functionCall: input.functionCall,
    maxSteps: input.maxSteps,
    cache: input.cache,
    responseFormat: input.responseFormat,
    requireApproval: input.requireApproval,
  };
}
