export type { BudgetPeriod } from './periods.js';
export {
  type BudgetedRequest,
  type BudgetHold,
  type BudgetMetrics,
  BudgetService,
  type BudgetStatus,
  type SetBudgetInput,
} from './service.js';
