import { graphql } from '../gql/index.js';

export const UpsertSpendingRule = graphql(`
  mutation UpsertSpendingRule($input: UpsertSpendingRuleInput!) {
    upsertSpendingRule(input: $input) {
      id kind category merchant amount currency maxTransactions windowMinutes enabled
    }
  }
`);

export const SpendingRules = graphql(`
  query SpendingRules {
    spendingRules { id kind category merchant amount currency maxTransactions windowMinutes enabled }
  }
`);

export const ProcessTransaction = graphql(`
  mutation ProcessTransaction($input: ProcessTransactionInput!) {
    processTransaction(input: $input) {
      id amount currency merchant category status approved violations remainingBudget
      completion {
        status
        message { content }
        functionExecutions { functionName arguments result status }
      }
    }
  }
`);

export const Transactions = graphql(`
  query Transactions($first: Int, $after: String) {
    transactions(first: $first, after: $after) {
      edges { node { amount merchant status } }
      pageInfo { hasNextPage endCursor }
    }
  }
`);

export const AnalyzeRisk = graphql(`
  mutation AnalyzeRisk($input: AnalyzeRiskInput!) {
    analyzeRisk(input: $input) {
      score
      level
      signals { kind triggered weight detail }
      analysis
      completion { status conversation { systemPrompt } }
    }
  }
`);

export const ProcessTransactionForApproval = graphql(`
  mutation ProcessTransactionForApproval($input: ProcessTransactionInput!) {
    processTransaction(input: $input) {
      id status violations
      completion { id status toolApprovals { toolCallId arguments status } }
    }
  }
`);

export const TransactionDecision = graphql(`
  query TransactionDecision($id: ID!) {
    node(id: $id) { ... on Transaction { status violations remainingBudget } }
  }
`);
