import { graphql } from '../gql/index.js';

export const UsageReport = graphql(`
  query UsageReport($since: DateTime, $until: DateTime, $principalId: ID) {
    usage(since: $since, until: $until, principalId: $principalId) {
      principalId
      completions
      total { promptTokens completionTokens totalTokens costUsd }
      byModel { model completions usage { promptTokens completionTokens totalTokens costUsd } }
      byFunction { functionName calls successes failures avgDurationMs }
    }
  }
`);

export const ConversationUsage = graphql(`
  query ConversationUsage($id: ID!) {
    conversation(id: $id) {
      usage { promptTokens completionTokens totalTokens costUsd }
    }
  }
`);

export const Viewer = graphql(`
  query ObservabilityViewer {
    viewer { id }
  }
`);
