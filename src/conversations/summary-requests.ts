import { randomUUID } from 'node:crypto';
import type { Db } from '../storage/db.js';
import { type ConversationRow, summaryRequests } from '../storage/schema.js';
import { type UsageFilter, usageOf } from '../storage/usage.js';
import { costUsd, type ModelTable } from '../tokens/index.js';
import { type Usage, usageColumns } from '../upstream/index.js';

/** The usage of SUMMARIZE's own model requests, counted against the conversation and its owner. */
export class SummaryRequestStore {
  constructor(
    private readonly db: Db,
    private readonly models: ModelTable,
  ) {}

  /** SUMMARIZE's usage by model or conversation (model requests, not completions). */
  usage(key: 'model' | 'conversationId', filter: UsageFilter) {
    return usageOf(this.db, summaryRequests, false, key, filter);
  }

  async record(conversation: ConversationRow, model: string, usage: Usage): Promise<void> {
    await this.db.insert(summaryRequests).values({
      id: randomUUID(),
      ownerId: conversation.ownerId,
      conversationId: conversation.id,
      model,
      ...usageColumns(usage, costUsd(this.models.get(model), usage)),
    });
  }
}
