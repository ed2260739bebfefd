import { builder } from '../schema/builder.js';
import type { CompletionRow } from '../storage/schema.js';

export interface UsageShape {
  promptTokens: number;
  completionTokens: number;
  reasoningTokens: number;
  costUsd: number;
  estimated: boolean;
}

export const UsageRef = builder.objectRef<UsageShape>('Usage').implement({
  fields: (t) => ({
    promptTokens: t.exposeInt('promptTokens'),
    completionTokens: t.exposeInt('completionTokens'),
    reasoningTokens: t.exposeInt('reasoningTokens', {
      description:
        'Of the completion tokens, those a reasoning model spent reasoning (as the model API reports).',
    }),
    totalTokens: t.int({ resolve: (usage) => usage.promptTokens + usage.completionTokens }),
    costUsd: t.exposeFloat('costUsd', { description: 'From the model table prices per million tokens.' }),
    estimated: t.exposeBoolean('estimated', {
      description:
        'True when the model server sent no usage for some of these requests: those tokens were counted by us ' +
        'with tiktoken (the prompt as sent, the completion from what arrived), and the cost follows from them.',
    }),
  }),
});

export const completionUsage = (completion: CompletionRow): UsageShape => ({
  ...completion,
  estimated: completion.usageEstimated,
});
