import type { ModelInfo, ReasoningEffort } from '../tokens/index.js';
import { type ApiError, apiError } from './protocol.js';

/** What each effort costs in reasoning tokens here: deterministic, more for more effort. */
const REASONING_TOKENS: Record<ReasoningEffort, number> = {
  none: 0,
  minimal: 16,
  low: 64,
  medium: 192,
  high: 512,
  xhigh: 1024,
};

/** The value the API accepts for each sampling parameter of a reasoning model (the parameter's default). */
const SAMPLING_DEFAULTS = { temperature: 1, top_p: 1, frequency_penalty: 0, presence_penalty: 0 } as const;

/**
 * Refuses what OpenAI refuses for the model's capabilities, with its status, wording, param and code:
 * `max_tokens` and non-default sampling parameters for reasoning models (sampling is accepted at effort `none`),
 * a `reasoning_effort` the model does not document, and `reasoning_effort` for other models.
 */
export function checkModelParameters(body: Record<string, unknown>, model: ModelInfo): ApiError | undefined {
  const efforts = model.reasoningEfforts;
  const effort = body.reasoning_effort;
  if (!efforts) {
    return effort == null ? undefined : unsupportedParameter('reasoning_effort');
  }
  if (body.max_tokens != null) {
    return apiError(
      400,
      "Unsupported parameter: 'max_tokens' is not supported with this model. Use 'max_completion_tokens' instead.",
      { param: 'max_tokens', code: 'unsupported_parameter' },
    );
  }
  if (effort != null && !efforts.includes(effort as ReasoningEffort)) {
    return apiError(
      400,
      `Unsupported value: '${String(effort)}' is not supported with the '${model.id}' model. ` +
        `Supported values are: ${quotedList(efforts)}.`,
      { param: 'reasoning_effort', code: 'unsupported_value' },
    );
  }
  if (effort === 'none') return undefined;
  for (const [param, only] of Object.entries(SAMPLING_DEFAULTS)) {
    const value = body[param];
    if (value != null && value !== only) {
      return apiError(
        400,
        `Unsupported value: '${param}' does not support ${String(value)} with this model. ` +
          `Only the default (${only}) value is supported.`,
        { param, code: 'unsupported_value' },
      );
    }
  }
  return undefined;
}

/**
 * The reasoning tokens a reply costs: none for other models; for reasoning models by effort, where an unset
 * effort is the documented default (`none` from gpt-5.1 on, `medium` before).
 */
export function reasoningTokens(body: Record<string, unknown>, model: ModelInfo): number {
  const efforts = model.reasoningEfforts;
  if (!efforts) return 0;
  const effort = (body.reasoning_effort as ReasoningEffort | null | undefined) ?? defaultEffort(efforts);
  return REASONING_TOKENS[effort];
}

function defaultEffort(efforts: readonly ReasoningEffort[]): ReasoningEffort {
  return efforts.includes('none') ? 'none' : 'medium';
}

function unsupportedParameter(param: string): ApiError {
  return apiError(400, `Unsupported parameter: '${param}' is not supported with this model.`, {
    param,
    code: 'unsupported_parameter',
  });
}

/** `'a', 'b', and 'c'`, as the API lists supported values. */
function quotedList(values: readonly string[]): string {
  const quoted = values.map((value) => `'${value}'`);
  return quoted.length <= 2
    ? quoted.join(' and ')
    : `${quoted.slice(0, -1).join(', ')}, and ${quoted.at(-1)}`;
}
