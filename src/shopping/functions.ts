import type { BuiltinFunction } from '../functions/index.js';
import { ASSESS_TRANSACTION_RISK, type ShoppingService, VALIDATE_TRANSACTION } from './service.js';

const transactionParameters = {
  type: 'object',
  properties: {
    amount: { type: 'number', exclusiveMinimum: 0, description: 'The purchase amount, e.g. 100 or 19.99.' },
    merchant: { type: 'string', minLength: 1, maxLength: 200, description: 'Who is paid, e.g. Amazon.' },
    category: {
      type: 'string',
      minLength: 1,
      maxLength: 64,
      default: 'general',
      description: 'e.g. shopping',
    },
    currency: { type: 'string', pattern: '^[A-Z]{3}$', default: 'USD', description: 'ISO 4217 code.' },
  },
  required: ['amount', 'merchant'],
};

/** The shopping example's built-in functions, registered by app.ts at start. */
export function shoppingFunctions(shopping: ShoppingService): BuiltinFunction[] {
  return [
    {
      name: VALIDATE_TRANSACTION,
      description:
        "Validate a purchase against the user's spending rules (limits, budgets, blocked merchants and " +
        'categories, velocity). Returns approved, violations and remainingBudget.',
      parameters: transactionParameters,
      handler: (args, { ownerId, completionId }) => shopping.validate(ownerId, args, completionId),
      onDenied: (_args, { ownerId, completionId, reason }) =>
        shopping.declinePending(ownerId, completionId, reason),
    },
    {
      name: ASSESS_TRANSACTION_RISK,
      description:
        "Assess the risk of a purchase from the user's history: unusual amount, high-risk merchant, " +
        'velocity. Returns a score from 0 to 100 with its signals.',
      parameters: transactionParameters,
      handler: (args, { ownerId }) => shopping.assess(ownerId, args),
    },
  ];
}
