import { and, asc, desc, eq, getTableColumns, gt, inArray, lt, sql, sum } from 'drizzle-orm';
import type { Db } from '../storage/db.js';
import type { MessagePageKey } from '../storage/loaders.js';
import { type MessageRow, messages } from '../storage/schema.js';
import { REPLY_PRIMING_TOKENS } from '../tokens/index.js';

/** Where a message sits in the context: a summary where its span began, every other message at its seq. */
export const contextPosition = sql<number>`coalesce(${messages.summaryOfSeq}, ${messages.seq})`;

export interface ContextTotals {
  /** Conversation.tokenCount: stored counts of the in-context messages plus the reply priming. */
  tokenCount: number;
  /** Context positions (see contextPosition) of the oldest and newest in-context messages; 0 when empty. */
  firstPosition: number;
  lastPosition: number;
  newestUserPosition: number | null;
}

/** What a context walk needs of a message. */
export interface ContextRow {
  id: string;
  seq: number;
  position: number;
  role: MessageRow['role'];
  tokenCount: number;
  summaryOfSeq: number | null;
}

/**
 * The messages' side of the conversations store: pages, the context's reads and the writes that take messages
 * out of it. The conversations store extends it, so every statement on `messages` lives here or there.
 */
export class MessageStore {
  constructor(protected readonly db: Db) {}

  async message(id: string): Promise<MessageRow | null> {
    const [row] = await this.db.select().from(messages).where(eq(messages.id, id));
    return row ?? null;
  }

  /** Messages by id (any conversation; the caller has checked ownership), in any order. */
  async messagesByIds(ids: readonly string[]): Promise<MessageRow[]> {
    return this.db
      .select()
      .from(messages)
      .where(inArray(messages.id, [...ids]));
  }

  /**
   * The first `limit` messages of each conversation after/before a seq, for keys of one shape (same after,
   * before, limit and direction), in one statement (a row_number window).
   */
  async pages(group: readonly MessagePageKey[]): Promise<MessageRow[]> {
    const [shape] = group;
    if (!shape) return [];
    const order = shape.inverted ? desc(messages.seq) : asc(messages.seq);
    const ranked = this.db
      .select({
        ...getTableColumns(messages),
        rank: sql<number>`row_number() over (partition by ${messages.conversationId} order by ${order})`.as(
          'rank',
        ),
      })
      .from(messages)
      .where(
        and(
          inArray(
            messages.conversationId,
            group.map((key) => key.conversationId),
          ),
          shape.afterSeq === null ? undefined : gt(messages.seq, shape.afterSeq),
          shape.beforeSeq === null ? undefined : lt(messages.seq, shape.beforeSeq),
        ),
      )
      .as('ranked');
    const rows = await this.db
      .select()
      .from(ranked)
      .where(sql`${ranked.rank} <= ${shape.limit}`)
      .orderBy(ranked.conversationId, shape.inverted ? desc(ranked.seq) : asc(ranked.seq));
    return rows.map(({ rank: _rank, ...row }) => row);
  }

  /** The messages `ids` in context order (a span being summarized). */
  async inContextOrder(ids: string[]): Promise<MessageRow[]> {
    return this.db
      .select()
      .from(messages)
      .where(sql`${messages.id} = any(${sql.param(ids)}::text[])`)
      .orderBy(contextPosition, asc(messages.seq));
  }

  /** The messages sent upstream now, in order. */
  async contextMessages(conversationId: string): Promise<MessageRow[]> {
    return this.db
      .select()
      .from(messages)
      .where(and(eq(messages.conversationId, conversationId), eq(messages.inContext, true)))
      .orderBy(contextPosition, messages.seq);
  }

  /** Tokens of the context as it would be sent now: stored per-message counts plus the reply priming. */
  async tokenCount(conversationId: string): Promise<number> {
    return (await this.contextTotals(conversationId)).tokenCount;
  }

  /** One pass over the stored counts: the context's tokens, its span of positions, its newest user message. */
  async contextTotals(conversationId: string): Promise<ContextTotals> {
    const [row] = await this.db
      .select({
        total: sum(messages.tokenCount).mapWith(Number),
        firstPosition: sql<number | null>`min(${contextPosition})`,
        lastPosition: sql<number | null>`max(${contextPosition})`,
        newestUserPosition: sql<
          number | null
        >`max(${contextPosition}) filter (where ${messages.role} = 'user')`,
      })
      .from(messages)
      .where(and(eq(messages.conversationId, conversationId), sql`${messages.inContext}`));
    return {
      tokenCount: (row?.total ?? 0) + REPLY_PRIMING_TOKENS,
      firstPosition: row?.firstPosition ?? 0,
      lastPosition: row?.lastPosition ?? 0,
      newestUserPosition: row?.newestUserPosition ?? null,
    };
  }

  /**
   * The in-context messages at positions [from, from + size), in context order. A position range (not a LIMIT)
   * keeps the index in play whatever the planner's statistics say.
   */
  async contextWindow(conversationId: string, from: number, size: number): Promise<ContextRow[]> {
    return this.db
      .select({
        id: messages.id,
        seq: messages.seq,
        position: contextPosition,
        role: messages.role,
        tokenCount: messages.tokenCount,
        summaryOfSeq: messages.summaryOfSeq,
      })
      .from(messages)
      .where(
        and(
          eq(messages.conversationId, conversationId),
          // A literal (not a bound `= true`) so the planner can use the partial index on in-context rows.
          sql`${messages.inContext}`,
          sql`${contextPosition} >= ${from} and ${contextPosition} < ${from + size}`,
        ),
      )
      .orderBy(contextPosition, asc(messages.seq));
  }

  /** Trimming never deletes: the rows stay readable in `messages` but are no longer sent upstream. */
  async markOutOfContext(ids: string[], db: Pick<Db, 'update'> = this.db): Promise<void> {
    await db
      .update(messages)
      .set({ inContext: false })
      .where(sql`${messages.id} = any(${sql.param(ids)}::text[])`);
  }

  /**
   * Deletes the messages written before `before`, except system messages. A unit goes as a whole when its first
   * message is older, so no tool result outlives its call. Returns how many went.
   */
  async deleteBefore(conversationId: string, before: Date): Promise<number> {
    // In write order every tool result follows its call, so a row's unit head is the last non-tool row so far.
    const deleted = await this.db
      .delete(messages)
      .where(
        sql`${messages.id} in (
          select unit.id from (
            select id, role, created_at,
              max(case when role <> 'tool' then seq end) over (order by seq rows unbounded preceding) as head_seq
            from messages where conversation_id = ${conversationId}
          ) unit
          left join messages head on head.conversation_id = ${conversationId} and head.seq = unit.head_seq
          where coalesce(head.created_at, unit.created_at) < ${before.toISOString()}
            and coalesce(head.role, unit.role) <> 'system'
        )`,
      )
      .returning({ id: messages.id });
    return deleted.length;
  }
}
