import { builder } from '../schema/builder.js';
import type { CompletionAttemptRecord, CompletionErrorRecord } from '../storage/schema.js';

export const CompletionErrorRef = builder.objectRef<CompletionErrorRecord>('CompletionError').implement({
  fields: (t) => ({
    code: t.exposeString('code', { description: 'An error code of the contract, or CANCELLED.' }),
    message: t.exposeString('message'),
    retryAfter: t.exposeFloat('retryAfter', {
      nullable: true,
      description: 'Seconds, when the upstream said, or until the budget resets (BUDGET_EXCEEDED).',
    }),
    resetsAt: t.field({
      type: 'DateTime',
      nullable: true,
      description: 'BUDGET_EXCEEDED: when the budget that refused the request resets.',
      resolve: (error) => (error.resetsAt ? new Date(error.resetsAt) : null),
    }),
  }),
});

export const CompletionAttemptRef = builder
  .objectRef<CompletionAttemptRecord>('CompletionAttempt')
  .implement({
    description: 'One model a completion asked: the model, and the error it failed with (null: it answered).',
    fields: (t) => ({
      model: t.exposeString('model'),
      error: t.expose('error', { type: CompletionErrorRef, nullable: true }),
    }),
  });
