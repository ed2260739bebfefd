import { z } from 'zod';
import { type Config, MAX_FALLBACK_MODELS } from '../config.js';
import { badInput } from '../errors.js';
import type { ConversationRow } from '../storage/schema.js';
import {
  acceptsSampling,
  type ModelInfo,
  type ModelTable,
  modelNameSchema,
  REASONING_EFFORTS,
  type ReasoningEffort,
} from '../tokens/index.js';

export interface ConversationSettings {
  model: string;
  temperature: number;
  maxTokens: number;
  topP: number;
  frequencyPenalty: number;
  presencePenalty: number;
  /** Reasoning models only: how much the model reasons; null leaves it to the model's default. */
  reasoningEffort: ReasoningEffort | null;
  /**
   * Tried in order when the model fails in a way another model could answer (see completions/fallbacks.ts);
   * null: FALLBACK_MODELS' list for the model, empty: none.
   */
  fallbackModels: string[] | null;
}
/** The error for an unknown model names at most this many of the models on offer. */
const OFFER_SHOWN = 40;

/** The ranges OpenAI accepts; anything else is refused before it is stored or sent. */
export function settingsSchema(models: ModelTable) {
  const offered = modelNameSchema.refine((model) => models.accepts(model), {
    error: () => unknownModelMessage(models),
  });
  return z.object({
    model: offered.optional(),
    temperature: z.number().min(0).max(2).optional(),
    maxTokens: z.number().int().min(1).max(1_000_000).optional(),
    topP: z.number().min(0).max(1).optional(),
    frequencyPenalty: z.number().min(-2).max(2).optional(),
    presencePenalty: z.number().min(-2).max(2).optional(),
    reasoningEffort: z.enum(REASONING_EFFORTS).nullable().optional(),
    fallbackModels: z
      .array(offered)
      .max(MAX_FALLBACK_MODELS, `at most ${MAX_FALLBACK_MODELS} models`)
      .refine((list) => new Set(list).size === list.length, 'names a model twice')
      .nullable()
      .optional(),
  });
}

function unknownModelMessage(models: ModelTable): string {
  const offered = models.offered();
  const more =
    offered.length > OFFER_SHOWN ? ` and ${offered.length - OFFER_SHOWN} more (see Query.models)` : '';
  return `unknown model; models on offer: ${offered.slice(0, OFFER_SHOWN).join(', ')}${more}`;
}

/** What the API takes when a sampling parameter is not sent: the only value reasoning models accept. */
const SAMPLING_DEFAULTS = { temperature: 1, topP: 1, frequencyPenalty: 0, presencePenalty: 0 } as const;

/**
 * Refuses settings a client chose that the model would refuse: a reasoning effort the model does not document,
 * and non-default sampling parameters for a reasoning model (they are accepted only at effort `none`).
 * Settings that were not chosen now (defaults, a conversation's earlier ones) are left out of the request instead.
 */
export function checkModelSettings(
  model: ModelInfo,
  chosen: Partial<ConversationSettings>,
  effort: ReasoningEffort | null,
  prefix = 'input',
): void {
  if (chosen.reasoningEffort != null) {
    const efforts = model.reasoningEfforts;
    if (!efforts) {
      throw badInput(`${prefix}.reasoningEffort`, `${model.id} is not a reasoning model`);
    }
    if (!efforts.includes(chosen.reasoningEffort)) {
      throw badInput(`${prefix}.reasoningEffort`, `${model.id} accepts ${efforts.join(', ')}`);
    }
  }
  if (acceptsSampling(model, effort)) return;
  for (const [field, only] of Object.entries(SAMPLING_DEFAULTS)) {
    const value = chosen[field as keyof typeof SAMPLING_DEFAULTS];
    if (value !== undefined && value !== only) {
      throw badInput(
        `${prefix}.${field}`,
        `${model.id} is a reasoning model: it accepts only the default (${only})` +
          (model.reasoningEfforts?.includes('none') ? ' unless reasoningEffort is NONE' : ''),
      );
    }
  }
}

/** Defaults of new conversations (2000 tokens, temperature 0.7, top_p 1, no penalties) on OPENAI_MODEL, overridable by config. */
export function defaultSettings(config: Config): ConversationSettings {
  return {
    model: config.OPENAI_MODEL,
    temperature: config.OPENAI_TEMPERATURE,
    maxTokens: config.OPENAI_MAX_TOKENS,
    topP: 1,
    frequencyPenalty: 0,
    presencePenalty: 0,
    reasoningEffort: null,
    fallbackModels: null,
  };
}

/** The settings among a conversation's columns or a send's input (the rest of its input is not settings). */
const SETTING_FIELDS = [
  'model',
  'temperature',
  'maxTokens',
  'topP',
  'frequencyPenalty',
  'presencePenalty',
  'reasoningEffort',
  'fallbackModels',
] as const satisfies readonly (keyof ConversationSettings)[];

export function pickSettings(source: Partial<ConversationSettings>): Partial<ConversationSettings> {
  return Object.fromEntries(SETTING_FIELDS.map((field) => [field, source[field]]));
}

export function settingsOf(conversation: ConversationRow): ConversationSettings {
  return pickSettings(conversation) as ConversationSettings;
}
