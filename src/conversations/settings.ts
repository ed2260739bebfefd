import { z } from 'zod';
import type { Config } from '../config.js';
import type { ModelTable } from '../tokens/index.js';

export interface ConversationSettings {
  model: string;
  temperature: number;
  maxTokens: number;
  topP: number;
  frequencyPenalty: number;
  presencePenalty: number;
}

/** The ranges OpenAI accepts; anything else is refused before it is stored or sent. */
export function settingsSchema(models: ModelTable) {
  return z.object({
    model: z
      .string()
      .refine((model) => models.has(model), {
        message: 'unknown model (see Query.models; extend the table with MODEL_TABLE_JSON)',
      })
      .optional(),
    temperature: z.number().min(0).max(2).optional(),
    maxTokens: z.number().int().min(1).max(1_000_000).optional(),
    topP: z.number().min(0).max(1).optional(),
    frequencyPenalty: z.number().min(-2).max(2).optional(),
    presencePenalty: z.number().min(-2).max(2).optional(),
  });
}

/** Defaults of new conversations (2000 tokens, temperature 0.7, top_p 1, no penalties), overridable by config. */
export function defaultSettings(config: Config): ConversationSettings {
  return {
    model: config.OPENAI_MODEL,
    temperature: config.OPENAI_TEMPERATURE,
    maxTokens: config.OPENAI_MAX_TOKENS,
    topP: 1,
    frequencyPenalty: 0,
    presencePenalty: 0,
  };
}
