/** The purchase the approval tests make: validate_transaction forced, and every call to wait for approval. */
export const PURCHASE_ARGUMENTS = { amount: 100, merchant: 'Amazon', category: 'general', currency: 'USD' };

export const purchaseAwaitingApproval = (conversationId: string) => ({
  conversationId,
  content: 'Process a $100 purchase from Amazon',
  functions: ['validate_transaction'],
  functionCall: { name: 'validate_transaction' },
  requireApproval: true,
});
