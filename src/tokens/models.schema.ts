import { builder } from '../schema/builder.js';
import { isReasoningModel, MODEL_PRICES_DATE, type ModelInfo } from './models.js';

export const ReasoningEffortEnum = builder.enumType('ReasoningEffort', {
  description:
    "A reasoning model's reasoning_effort; each model takes the values OpenAI documents for it (Model.reasoningEfforts).",
  values: {
    NONE: { value: 'none', description: 'No reasoning (gpt-5.1 and later); sampling settings apply.' },
    MINIMAL: { value: 'minimal', description: 'gpt-5, gpt-5-mini, gpt-5-nano.' },
    LOW: { value: 'low' },
    MEDIUM: { value: 'medium' },
    HIGH: { value: 'high' },
    XHIGH: { value: 'xhigh', description: 'gpt-5.2 and later.' },
  } as const,
});

const ModelRef = builder.objectRef<ModelInfo>('Model').implement({
  description:
    `A model on offer: an entry of the model table (prices as published on ${MODEL_PRICES_DATE}; extend it with ` +
    "MODEL_TABLE_JSON) or a model the upstream lists, with the fallback's limits and prices.",
  fields: (t) => ({
    id: t.exposeID('id'),
    contextWindow: t.exposeInt('contextWindow'),
    maxOutputTokens: t.exposeInt('maxOutputTokens'),
    encoding: t.exposeString('encoding'),
    inputUsdPerMillion: t.exposeFloat('inputUsdPerMillion'),
    cachedInputUsdPerMillion: t.float({
      description: 'The price of prompt tokens served from the prompt cache.',
      resolve: (model) => model.cachedInputUsdPerMillion ?? model.inputUsdPerMillion,
    }),
    outputUsdPerMillion: t.exposeFloat('outputUsdPerMillion'),
    reasoning: t.boolean({
      description: 'A reasoning model: takes reasoningEffort, and sampling settings only at effort NONE.',
      resolve: (model) => isReasoningModel(model),
    }),
    reasoningEfforts: t.field({
      type: [ReasoningEffortEnum],
      description: 'The efforts the model accepts (empty for other models).',
      resolve: (model) => [...(model.reasoningEfforts ?? [])],
    }),
  }),
});

builder.queryFields((t) => ({
  models: t.field({ type: [ModelRef], resolve: (_root, _args, context) => context.services.models.list() }),
}));
