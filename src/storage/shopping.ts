import {
  boolean,
  index,
  integer,
  jsonb,
  numeric,
  pgTable,
  text,
  timestamp,
  uniqueIndex,
} from 'drizzle-orm/pg-core';
import { completions, createdAt, ownerColumn } from './schema.js';

/** The shopping example's tables: transactions and spending rules, per owner. */
export const transactions = pgTable(
  'transactions',
  {
    id: text('id').primaryKey(),
    ownerId: ownerColumn(),
    amount: numeric('amount', { precision: 14, scale: 2, mode: 'number' }).notNull(),
    currency: text('currency').notNull(),
    merchant: text('merchant').notNull(),
    category: text('category').notNull(),
    status: text('status', { enum: ['approved', 'declined', 'pending_approval'] }).notNull(),
    violations: jsonb('violations').$type<string[]>().notNull(),
    remainingBudget: numeric('remaining_budget', { precision: 14, scale: 2, mode: 'number' }),
    completionId: text('completion_id').references(() => completions.id, { onDelete: 'set null' }),
    createdAt: createdAt(),
  },
  (table) => [index('transactions_owner_created_idx').on(table.ownerId, table.createdAt, table.id)],
);

export const spendingRules = pgTable(
  'spending_rules',
  {
    id: text('id').primaryKey(),
    ownerId: ownerColumn(),
    kind: text('kind', {
      enum: [
        'per_transaction_limit',
        'daily_budget',
        'monthly_budget',
        'blocked_merchant',
        'blocked_category',
        'velocity',
        'approval_above',
      ],
    }).notNull(),
    /** What the rule is about, normalised (category, merchant, currency), so an upsert finds the same rule. */
    scope: text('scope').notNull(),
    category: text('category'),
    merchant: text('merchant'),
    amount: numeric('amount', { precision: 14, scale: 2, mode: 'number' }),
    currency: text('currency'),
    maxTransactions: integer('max_transactions'),
    windowMinutes: integer('window_minutes'),
    enabled: boolean('enabled').notNull().default(true),
    createdAt: createdAt(),
    updatedAt: timestamp('updated_at', { withTimezone: true, mode: 'date' }).notNull().defaultNow(),
  },
  (table) => [uniqueIndex('spending_rules_owner_kind_scope_idx').on(table.ownerId, table.kind, table.scope)],
);

export type TransactionRow = typeof transactions.$inferSelect;
export type SpendingRuleRow = typeof spendingRules.$inferSelect;
