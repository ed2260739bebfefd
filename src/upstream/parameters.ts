import type {
  ChatCompletionCreateParamsBase,
  ChatCompletionMessageParam,
  ChatCompletionTool,
  ChatCompletionToolChoiceOption,
} from 'openai/resources/chat/completions';
import {
  acceptsSampling,
  type ModelTable,
  type ReasoningEffort,
  type TokenLimitParameter,
} from '../tokens/index.js';

/** What a chat request carries to the model (the upstream's ChatRequest). */
export interface WireRequest {
  model: string;
  messages: ChatCompletionMessageParam[];
  temperature: number;
  maxTokens: number;
  topP: number;
  frequencyPenalty: number;
  presencePenalty: number;
  /** Sent only to reasoning models that document it; null or unset: the model's default. */
  reasoningEffort?: ReasoningEffort | null;
  tools?: ChatCompletionTool[];
  toolChoice?: ChatCompletionToolChoiceOption;
  /** Structured outputs (`response_format`); unset for plain text. */
  responseFormat?: ChatCompletionCreateParamsBase['response_format'];
}

/** OPENAI_TOKEN_LIMIT_PARAM: the parameter that caps replies on servers other than OpenAI's, or `auto`. */
export type TokenLimitSetting = TokenLimitParameter | 'auto';

export interface ParameterPolicy {
  models: ModelTable;
  /** The upstream is api.openai.com: `max_completion_tokens`, whatever the setting says. */
  openai: boolean;
  tokenLimit: TokenLimitSetting;
}

export function isOpenAI(baseURL: string): boolean {
  return new URL(baseURL).hostname === 'api.openai.com';
}

/**
 * The request as the model's API takes it: the token limit under the parameter the model reads, and for reasoning
 * models a documented `reasoning_effort` and no sampling parameter they would refuse.
 */
export function toParams(request: WireRequest, policy: ParameterPolicy): ChatCompletionCreateParamsBase {
  const model = policy.models.get(request.model);
  const effort =
    request.reasoningEffort && model.reasoningEfforts?.includes(request.reasoningEffort)
      ? request.reasoningEffort
      : null;
  return {
    model: request.model,
    messages: request.messages,
    [tokenLimitParameter(request.model, policy)]: request.maxTokens,
    ...(effort ? { reasoning_effort: effort } : {}),
    ...(acceptsSampling(model, effort)
      ? {
          temperature: request.temperature,
          top_p: request.topP,
          frequency_penalty: request.frequencyPenalty,
          presence_penalty: request.presencePenalty,
        }
      : {}),
    ...(request.tools?.length ? { tools: request.tools, tool_choice: request.toolChoice } : {}),
    ...(request.responseFormat ? { response_format: request.responseFormat } : {}),
  };
}

/**
 * OpenAI: always `max_completion_tokens` (`max_tokens` is deprecated there and refused by reasoning models). Other
 * servers: the model entry's own parameter, else the setting; `auto` sends `max_completion_tokens` for the table's
 * OpenAI models (Azure deployments of them) and `max_tokens` for the server's own models, the one parameter that
 * Ollama, llama.cpp, LM Studio and vLLM all read.
 */
function tokenLimitParameter(modelName: string, policy: ParameterPolicy): TokenLimitParameter {
  if (policy.openai) return 'max_completion_tokens';
  const own = policy.models.get(modelName).tokenLimitParameter;
  if (own) return own;
  if (policy.tokenLimit !== 'auto') return policy.tokenLimit;
  return policy.models.has(modelName) ? 'max_completion_tokens' : 'max_tokens';
}
