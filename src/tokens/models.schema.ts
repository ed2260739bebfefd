import { builder } from '../schema/builder.js';
import type { ModelInfo } from './models.js';

const ModelRef = builder.objectRef<ModelInfo>('Model').implement({
  description: 'An entry of the model table: limits, tokenizer and prices (extend it with MODEL_TABLE_JSON).',
  fields: (t) => ({
    id: t.exposeID('id'),
    contextWindow: t.exposeInt('contextWindow'),
    maxOutputTokens: t.exposeInt('maxOutputTokens'),
    encoding: t.exposeString('encoding'),
    inputUsdPerMillion: t.exposeFloat('inputUsdPerMillion'),
    outputUsdPerMillion: t.exposeFloat('outputUsdPerMillion'),
  }),
});

builder.queryFields((t) => ({
  models: t.field({ type: [ModelRef], resolve: (_root, _args, context) => context.services.models.list() }),
}));
