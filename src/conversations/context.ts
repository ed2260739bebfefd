import { AppError, ErrorCode } from '../errors.js';
import type { Logger } from '../observability/logger.js';
import { trimmedAttributes, trimSpan } from '../observability/spans.js';
import type { TraceContext, Tracing } from '../observability/tracing.js';
import type { ConversationRow, MessageRow } from '../storage/schema.js';
import type { ModelTable, TokenCounter, ToolDefinitionLike } from '../tokens/index.js';
import type { ChatRequest } from '../upstream/index.js';
import type { ContextRow, ContextTotals } from './message-store.js';
import type { ContextStrategy, ConversationStore } from './store.js';
import type { Summarizer } from './summarizer.js';

/** Most tokens a summary may take; SUMMARIZE replaces a span large enough to leave this much room for it. */
export const SUMMARY_MAX_TOKENS = 256;
/** Below this much room a summary would say too little to be worth a model call: the span is dropped instead. */
const SUMMARY_MIN_TOKENS = 32;
/** Every summary starts with this line, so the model (and a reader) knows it stands for trimmed messages. */
export const SUMMARY_PREFIX =
  'Summary of earlier messages, written when they were trimmed from the context:\n';
/** The smallest window of positions the walk reads in one round trip; windows double from there. */
const MIN_WALK_WINDOW = 32;

export interface TrimResult {
  conversation: ConversationRow;
  /** Messages marked out of context, oldest first. */
  removedIds: string[];
  /** The SUMMARIZE note that now stands for them, if one was written. */
  summary: MessageRow | null;
  /** Conversation.tokenCount after the trim. */
  tokenCount: number;
}

/** What an operation needs to call the model (SUMMARIZE): the caller's abort signal, logger and trace context. */
export interface Caller {
  signal: AbortSignal;
  logger: Logger;
  trace: TraceContext;
}

/** A non-tool message with the tool results right after it: kept or dropped as one, as OpenAI requires. */
interface Unit {
  rows: ContextRow[];
  tokens: number;
  droppable: boolean;
}

/**
 * Keeps a conversation's context within a token budget, summing the counts stored at write time.
 *
 * Trimming walks the in-context messages oldest first (an index keeps that O(dropped), not O(messages)) and
 * marks whole units out of context until the budget holds. System messages and the newest user message are
 * never dropped; a summary is an ordinary system-role row that is dropped or folded into the next summary
 * like any other message.
 */
export class ContextManager {
  constructor(
    private readonly deps: {
      conversations: ConversationStore;
      tokens: TokenCounter;
      models: ModelTable;
      summarizer: Summarizer;
      tracing: Tracing;
    },
  ) {}

  /** Fits Conversation.tokenCount into `maxTokens`. */
  async trimContext(
    ownerId: string,
    conversationId: string,
    maxTokens: number,
    strategy: ContextStrategy | null,
    caller: Caller,
  ): Promise<TrimResult> {
    const conversation = await this.deps.conversations.get(ownerId, conversationId);
    return this.trim(
      conversation,
      maxTokens,
      strategy ?? conversation.contextStrategy,
      caller,
      `${maxTokens} tokens`,
    );
  }

  /**
   * Before an upstream request: prompt (stored counts) + tool definitions + maxTokens must fit the model's
   * window, trimmed with the conversation's strategy; CONTEXT_TOO_LONG when even the kept messages cannot.
   * Also says what the tool definitions cost, since they are part of the request's prompt.
   */
  async fit(
    conversation: ConversationRow,
    request: Pick<ChatRequest, 'model' | 'maxTokens' | 'tools'>,
    caller: Caller,
    /** The context's token count when the caller already has it: a context that fits costs no query. */
    knownTokenCount?: number,
  ): Promise<TrimResult & { toolTokens: number }> {
    const { contextWindow } = this.deps.models.get(request.model);
    const tools = (request.tools ?? []).flatMap((tool): ToolDefinitionLike[] =>
      tool.type === 'function' ? [{ ...tool.function, parameters: tool.function.parameters ?? {} }] : [],
    );
    const toolTokens = await this.deps.tokens.countTools(tools, request.model);
    const limit = contextWindow - request.maxTokens - toolTokens;
    if (knownTokenCount !== undefined && knownTokenCount <= limit) {
      return { conversation, removedIds: [], summary: null, tokenCount: knownTokenCount, toolTokens };
    }
    const trimmed = await this.trim(
      conversation,
      limit,
      conversation.contextStrategy,
      caller,
      `${request.model}'s ${contextWindow}-token window less maxTokens ${request.maxTokens}` +
        (toolTokens ? ` and ${toolTokens} tokens of tool definitions` : ''),
    );
    return { ...trimmed, toolTokens };
  }

  /** Deletes the messages written before `before`, except system messages (see deleteUnitsBefore). */
  async clearMessagesBefore(ownerId: string, conversationId: string, before: Date): Promise<number> {
    const conversation = await this.deps.conversations.get(ownerId, conversationId);
    return this.deps.conversations.deleteBefore(conversation.id, before);
  }

  /** A trim in its `trim_context` span, which holds the SUMMARIZE model request if there is one. */
  private trim(
    conversation: ConversationRow,
    limit: number,
    strategy: ContextStrategy,
    caller: Caller,
    limitDescription: string,
  ): Promise<TrimResult> {
    const start = trimSpan(conversation.id, strategy, limit);
    return this.deps.tracing.inSpan(start, caller.trace, async (span, trace) => {
      const trimmed = await this.trimWithin(conversation, limit, strategy, limitDescription, {
        ...caller,
        trace,
      });
      span.setAttributes(trimmedAttributes(trimmed));
      return trimmed;
    });
  }

  private async trimWithin(
    conversation: ConversationRow,
    limit: number,
    strategy: ContextStrategy,
    limitDescription: string,
    caller: Caller,
  ): Promise<TrimResult> {
    const totals = await this.deps.conversations.contextTotals(conversation.id);
    const { tokenCount } = totals;
    const excess = tokenCount - limit;
    if (excess <= 0) return { conversation, removedIds: [], summary: null, tokenCount };
    const tooLong = (dropped: number) =>
      new AppError(
        ErrorCode.CONTEXT_TOO_LONG,
        `The context cannot fit in ${limitDescription}: its system messages and newest user message alone ` +
          `take ${tokenCount - dropped} tokens. Shorten them or use a model with a larger window.`,
      );

    if (strategy === 'summarize') {
      const overhead = await this.deps.tokens.countMessage(
        { role: 'system', content: SUMMARY_PREFIX },
        conversation.model,
      );
      const span = await this.oldestUnits(conversation.id, totals, excess + overhead + SUMMARY_MAX_TOKENS);
      if (span.tokens < excess) throw tooLong(span.tokens);
      const room = Math.min(SUMMARY_MAX_TOKENS, span.tokens - excess - overhead);
      // Rows come in context order, so the span begins at its first row.
      const [first] = span.rows;
      if (first && room >= SUMMARY_MIN_TOKENS) {
        const text = await this.deps.summarizer.summarize(
          conversation,
          span.rows.map((row) => row.id),
          room,
          caller,
        );
        const summary = await this.deps.conversations.replaceWithSummary(
          conversation,
          `${SUMMARY_PREFIX}${text}`,
          first.position,
          span.rows.map((row) => row.id),
        );
        return {
          conversation,
          removedIds: span.rows.map((row) => row.id),
          summary,
          tokenCount: tokenCount - span.tokens + summary.tokenCount,
        };
      }
    }

    const span = await this.oldestUnits(conversation.id, totals, excess);
    if (span.tokens < excess) throw tooLong(span.tokens);
    const removedIds = span.rows.map((row) => row.id);
    await this.deps.conversations.markOutOfContext(removedIds);
    return { conversation, removedIds, summary: null, tokenCount: tokenCount - span.tokens };
  }

  /**
   * The oldest droppable units, whole, until they add up to `target` tokens (or all droppable ones, when they
   * cannot). Droppable: anything but a system message that is not a summary and the newest user message.
   */
  private async oldestUnits(
    conversationId: string,
    totals: ContextTotals,
    target: number,
  ): Promise<{ rows: ContextRow[]; tokens: number }> {
    const rows: ContextRow[] = [];
    let tokens = 0;
    const take = (unit: Unit) => {
      if (!unit.droppable) return;
      rows.push(...unit.rows);
      tokens += unit.tokens;
    };
    let unit: Unit | null = null;
    for await (const row of this.contextRows(conversationId, totals, target)) {
      if (row.role === 'tool' && unit) {
        unit.rows.push(row);
        unit.tokens += row.tokenCount;
        continue;
      }
      if (unit) take(unit);
      if (tokens >= target) return { rows, tokens };
      const pinned =
        (row.role === 'system' && row.summaryOfSeq === null) || row.position === totals.newestUserPosition;
      unit = { rows: [row], tokens: row.tokenCount, droppable: !pinned };
    }
    if (unit) take(unit);
    return { rows, tokens };
  }

  /**
   * The in-context messages in context order, read in windows of positions that double in size, so a walk that
   * stops early reads little; the first window is sized from the average tokens per position to cover `target`
   * in one round trip.
   */
  private async *contextRows(
    conversationId: string,
    totals: ContextTotals,
    target: number,
  ): AsyncGenerator<ContextRow> {
    const positions = totals.lastPosition - totals.firstPosition + 1;
    const expected = Math.ceil(((target / totals.tokenCount) * positions * 5) / 4);
    let from = totals.firstPosition;
    for (
      let size = Math.max(MIN_WALK_WINDOW, expected);
      from <= totals.lastPosition;
      from += size, size *= 2
    ) {
      yield* await this.deps.conversations.contextWindow(conversationId, from, size);
    }
  }
}
