import { graphql } from '../gql/index.js';

export const BudgetFields = graphql(`
  fragment BudgetFields on Budget {
    id
    principal { name }
    apiKey { id }
    period
    limitUsd
    limitTokens
    spentUsd
    spentTokens
    remainingUsd
    remainingTokens
    resetsAt
  }
`);

export const SetBudget = graphql(`
  mutation SetBudget($input: SetBudgetInput!) {
    setBudget(input: $input) { ...BudgetFields }
  }
`);

export const RemoveBudget = graphql(`
  mutation RemoveBudget($input: RemoveBudgetInput!) { removeBudget(input: $input) { id } }
`);

export const Budgets = graphql(`
  query Budgets($principalName: String) {
    budgets(principalName: $principalName) { ...BudgetFields }
  }
`);

export const BudgetCreateKey = graphql(`
  mutation BudgetCreateKey($input: CreateApiKeyInput!) { createApiKey(input: $input) { key } }
`);

export const BudgetKeyIds = graphql(`
  query BudgetKeyIds { apiKeys { id prefix } }
`);

export const BudgetSend = graphql(`
  mutation BudgetSend($input: SendMessageInput!) {
    sendMessage(input: $input) {
      id
      status
      usage { promptTokens completionTokens totalTokens costUsd }
    }
  }
`);

export const BudgetConversation = graphql(`
  mutation BudgetConversation($input: CreateConversationInput!) { createConversation(input: $input) { id } }
`);

export const BudgetMessages = graphql(`
  query BudgetMessages($id: ID!) {
    conversation(id: $id) { messages(last: 50) { edges { node { role content } } } }
  }
`);

export const BudgetChat = graphql(`
  subscription BudgetChat($input: SendMessageInput!) {
    chat(input: $input) {
      __typename
      ... on CompletionFailed {
        error { code message retryAfter resetsAt }
        completion { id status usage { totalTokens costUsd } }
      }
    }
  }
`);
