export { shoppingFunctions } from './functions.js';
export { ASSESS_TRANSACTION_RISK, ShoppingService, VALIDATE_TRANSACTION } from './service.js';
export { ShoppingStore } from './store.js';
