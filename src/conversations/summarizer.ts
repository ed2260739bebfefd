import type { Logger } from '../observability/logger.js';
import type { TraceContext } from '../observability/tracing.js';
import type { ConversationRow, MessageRow } from '../storage/schema.js';
import type { ModelTable, TokenCounter } from '../tokens/index.js';
import type { ChatRequest, OpenAIService, Usage } from '../upstream/index.js';
import type { MessageStore } from './message-store.js';
import type { SummaryRequestStore } from './summary-requests.js';

const SUMMARY_INSTRUCTION =
  'Summarize the conversation excerpt below for your own later reference. Keep facts, decisions, names, ' +
  'numbers, function results and open questions; be brief. Reply with the summary only.';
/** Room left in the summarizer's own window for its instruction and reply priming. */
const SUMMARY_PROMPT_SLACK = 256;

/** SUMMARIZE's model request: a summary of trimmed messages, its usage counted against the conversation. */
export class Summarizer {
  constructor(
    private readonly deps: {
      messages: MessageStore;
      tokens: TokenCounter;
      models: ModelTable;
      openai: OpenAIService;
      summaryRequests: SummaryRequestStore;
    },
  ) {}

  /**
   * Asks the conversation's model for a summary of the messages `spanIds` in at most `maxTokens` tokens. The
   * request's usage is recorded against the conversation even when it fails part-way.
   */
  async summarize(
    conversation: ConversationRow,
    spanIds: string[],
    maxTokens: number,
    caller: { signal: AbortSignal; logger: Logger; trace: TraceContext },
  ): Promise<string> {
    const rows = await this.deps.messages.inContextOrder(spanIds);
    const prompt = [
      { role: 'system' as const, content: SUMMARY_INSTRUCTION },
      { role: 'user' as const, content: this.transcript(conversation.model, rows, maxTokens) },
    ];
    const request: ChatRequest = {
      model: conversation.model,
      temperature: 0,
      topP: 1,
      frequencyPenalty: 0,
      presencePenalty: 0,
      maxTokens,
      // A summary needs no deliberation, and a reasoning model's thinking would eat the summary's budget.
      reasoningEffort: this.deps.models.get(conversation.model).reasoningEfforts?.[0] ?? null,
      messages: prompt,
      promptTokens: await this.deps.tokens.countRequest({ model: conversation.model, messages: prompt }),
      owner: conversation.ownerId,
    };
    let text = '';
    let usage: Usage | undefined;
    try {
      const call = { ...caller, stream: false, conversationId: conversation.id };
      const deltas = this.deps.openai.deltas(request, call, (used) => {
        usage = used;
      });
      for await (const delta of deltas) if (delta.type === 'content') text += delta.text;
    } finally {
      if (usage) await this.deps.summaryRequests.record(conversation, request.model, usage);
    }
    return text.trim();
  }

  /**
   * The span as plain text for the summarizer, within its window: earlier summaries always (they carry the
   * oldest history), then as many of the newest messages as fit, by their stored counts.
   */
  private transcript(model: string, rows: MessageRow[], maxTokens: number): string {
    let room = this.deps.models.get(model).contextWindow - maxTokens - SUMMARY_PROMPT_SLACK;
    const included = new Set<MessageRow>();
    const summariesFirst = [
      ...rows.filter((row) => row.summaryOfSeq !== null),
      ...rows.filter((row) => row.summaryOfSeq === null).reverse(),
    ];
    for (const row of summariesFirst) {
      if (row.tokenCount > room) break;
      room -= row.tokenCount;
      included.add(row);
    }
    return rows
      .filter((row) => included.has(row))
      .map((row) => {
        const calls = (row.toolCalls ?? []).map((call) => ` [calls ${call.functionName}(${call.arguments})]`);
        return `${row.role}${row.name ? ` (${row.name})` : ''}: ${row.content ?? ''}${calls.join('')}`;
      })
      .join('\n');
  }
}
