import { randomUUID } from 'node:crypto';
import { and, eq, sql, sum } from 'drizzle-orm';
import { notFound } from '../errors.js';
import type { Db } from '../storage/db.js';
import { type NewestFirstCursor, newestFirst } from '../storage/newest-first.js';
import {
  type ConversationRow,
  conversations,
  type MessageRow,
  messages,
  type ToolCallRecord,
} from '../storage/schema.js';
import { REPLY_PRIMING_TOKENS, type TokenCounter } from '../tokens/index.js';
import type { ConversationSettings } from './settings.js';

export type Role = MessageRow['role'];
export type MessageStatus = MessageRow['status'];
export type ContextStrategy = ConversationRow['contextStrategy'];

/** Where a message sits in the context: a summary where its span began, every other message at its seq. */
export const contextPosition = sql<number>`coalesce(${messages.summaryOfSeq}, ${messages.seq})`;

export interface NewMessage {
  role: Role;
  content: string | null;
  name?: string | null;
  toolCalls?: ToolCallRecord[] | null;
  toolCallId?: string | null;
  /** An assistant reply the model refused to give: stored apart from content, sent back as the reply's text. */
  refusal?: string | null;
  status?: MessageStatus;
  completionId?: string | null;
  /** Only for a SUMMARIZE note: the context position of the first message it replaces. */
  summaryOfSeq?: number | null;
}

export interface NewConversation {
  title?: string | null;
  systemPrompt?: string | null;
  settings: ConversationSettings;
  contextStrategy?: ContextStrategy | null;
}

export interface ContextTotals {
  /** Conversation.tokenCount: stored counts of the in-context messages plus the reply priming. */
  tokenCount: number;
  /** Context positions (see contextPosition) of the oldest and newest in-context messages; 0 when empty. */
  firstPosition: number;
  lastPosition: number;
  newestUserPosition: number | null;
}

/** Conversations and their messages. Every read takes the owner and treats another's row as absent. */
export class ConversationStore {
  constructor(
    private readonly db: Db,
    private readonly tokens: TokenCounter,
  ) {}

  async create(ownerId: string, input: NewConversation): Promise<ConversationRow> {
    const id = randomUUID();
    // Counted before the transaction: a long prompt must not hold it (and PGlite's one connection) open.
    const systemTokens = input.systemPrompt
      ? await this.tokens.countMessage({ role: 'system', content: input.systemPrompt }, input.settings.model)
      : 0;
    return this.db.transaction(async (tx) => {
      const [row] = await tx
        .insert(conversations)
        .values({
          id,
          ownerId,
          title: input.title ?? null,
          systemPrompt: input.systemPrompt ?? null,
          contextStrategy: input.contextStrategy ?? undefined,
          ...input.settings,
        })
        .returning();
      if (!row) throw new Error('conversation insert returned nothing');
      if (!input.systemPrompt) return row;
      const [withSeq] = await tx
        .update(conversations)
        .set({ lastSeq: 1 })
        .where(eq(conversations.id, id))
        .returning();
      await tx.insert(messages).values({
        id: randomUUID(),
        conversationId: id,
        seq: 1,
        role: 'system',
        content: input.systemPrompt,
        tokenCount: systemTokens,
      });
      return withSeq ?? row;
    });
  }

  async get(ownerId: string, id: string): Promise<ConversationRow> {
    const [row] = await this.db
      .select()
      .from(conversations)
      .where(and(eq(conversations.id, id), eq(conversations.ownerId, ownerId)));
    if (!row) throw notFound('Conversation', id);
    return row;
  }

  async list(ownerId: string, after: NewestFirstCursor | null, limit: number): Promise<ConversationRow[]> {
    const page = newestFirst(conversations, after);
    return this.db
      .select()
      .from(conversations)
      .where(and(eq(conversations.ownerId, ownerId), page.where))
      .orderBy(...page.orderBy)
      .limit(limit);
  }

  async delete(ownerId: string, id: string): Promise<void> {
    const deleted = await this.db
      .delete(conversations)
      .where(and(eq(conversations.id, id), eq(conversations.ownerId, ownerId)))
      .returning({ id: conversations.id });
    if (deleted.length === 0) throw notFound('Conversation', id);
  }

  /**
   * Appends a message: the seq comes from an atomic bump of the conversation's counter (which also moves
   * updatedAt), and the token count is computed here, once, and stored.
   */
  async append(
    conversation: Pick<ConversationRow, 'id' | 'model'>,
    message: NewMessage,
    tx: Pick<Db, 'with'> = this.db,
  ): Promise<MessageRow> {
    return this.insert(tx, conversation, message);
  }

  /**
   * Appends a summary and marks the messages it replaces out of context, atomically: the context never holds
   * both, nor neither.
   */
  async replaceWithSummary(
    conversation: Pick<ConversationRow, 'id' | 'model'>,
    content: string,
    summaryOfSeq: number,
    replacedIds: string[],
  ): Promise<MessageRow> {
    return this.db.transaction(async (tx) => {
      const summary = await this.insert(tx, conversation, { role: 'system', content, summaryOfSeq });
      await this.markOutOfContext(replacedIds, tx);
      return summary;
    });
  }

  /** Trimming never deletes: the rows stay readable in `messages` but are no longer sent upstream. */
  async markOutOfContext(ids: string[], db: Pick<Db, 'update'> = this.db): Promise<void> {
    await db
      .update(messages)
      .set({ inContext: false })
      .where(sql`${messages.id} = any(${sql.param(ids)}::text[])`);
  }

  /**
   * Deletes the messages written before `before`, except system messages, a unit (a message and the tool results
   * after it) as a whole when its first message is older, so no tool result outlives its call.
   */
  async deleteUnitsBefore(conversationId: string, before: Date): Promise<number> {
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

  private async insert(
    tx: Pick<Db, 'with'>,
    conversation: Pick<ConversationRow, 'id' | 'model'>,
    message: NewMessage,
  ): Promise<MessageRow> {
    const tokenCount = await this.tokens.countMessage(
      { ...message, content: message.content ?? message.refusal ?? null },
      conversation.model,
    );
    // One statement: the counter bump and the insert travel together (no transaction round trips needed).
    const bumped = this.db.$with('bumped').as(
      this.db
        .update(conversations)
        .set({ lastSeq: sql`${conversations.lastSeq} + 1`, updatedAt: new Date() })
        .where(eq(conversations.id, conversation.id))
        .returning({ seq: conversations.lastSeq }),
    );
    const [row] = await tx
      .with(bumped)
      .insert(messages)
      .values({
        id: randomUUID(),
        conversationId: conversation.id,
        seq: sql`(select ${bumped.seq} from ${bumped})`,
        role: message.role,
        content: message.content,
        name: message.name ?? null,
        toolCalls: message.toolCalls ?? null,
        toolCallId: message.toolCallId ?? null,
        refusal: message.refusal ?? null,
        status: message.status ?? 'complete',
        completionId: message.completionId ?? null,
        summaryOfSeq: message.summaryOfSeq ?? null,
        tokenCount,
      })
      .returning()
      .catch((error: unknown) => {
        // No conversation row to bump: the seq is null (or the reference dangles) and the insert is refused.
        throw isConstraintViolation(error) ? notFound('Conversation', conversation.id) : error;
      });
    if (!row) throw new Error('message insert returned nothing');
    return row;
  }

  async message(id: string): Promise<MessageRow | null> {
    const [row] = await this.db.select().from(messages).where(eq(messages.id, id));
    return row ?? null;
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
}

/** not_null_violation or foreign_key_violation, as PostgreSQL (and PGlite) report them through drizzle. */
function isConstraintViolation(error: unknown): boolean {
  const code =
    (error as { cause?: { code?: string }; code?: string })?.cause?.code ??
    (error as { code?: string })?.code;
  return code === '23502' || code === '23503';
}
