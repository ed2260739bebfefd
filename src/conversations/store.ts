import { randomUUID } from 'node:crypto';
import { and, eq, inArray, sql } from 'drizzle-orm';
import { notFound } from '../errors.js';
import type { Db } from '../storage/db.js';
import { type NewestFirstCursor, newestFirst } from '../storage/newest-first.js';
import {
  type CompletionRow,
  type ConversationRow,
  conversations,
  type MessageRow,
  messages,
  type ToolCallRecord,
} from '../storage/schema.js';
import type { TokenCounter } from '../tokens/index.js';
import { MessageStore } from './message-store.js';
import type { ConversationSettings } from './settings.js';
import {
  type CompletionWithReply,
  type StartedTurn,
  type TurnOutcome,
  type TurnStart,
  TurnStatements,
} from './turns.js';

export type Role = MessageRow['role'];
export type MessageStatus = MessageRow['status'];
export type ContextStrategy = ConversationRow['contextStrategy'];

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

/** How many conversations' immutable fields (owner, model, settings) an instance keeps at hand. */
const KNOWN_CONVERSATIONS = 10_000;

/**
 * Conversations and their messages (the context's reads and trims in MessageStore, a completion's two
 * statements in turns.ts). Every read takes the owner and treats another's row as absent.
 */
export class ConversationStore extends MessageStore {
  /**
   * Conversations this instance created or read: owner, model, settings and strategy never change after
   * creation, so a completion starts without reading them again (its statement still checks the row is there).
   */
  private readonly known = new Map<string, ConversationRow>();
  private readonly turns: TurnStatements;

  constructor(
    db: Db,
    private readonly tokens: TokenCounter,
  ) {
    super(db);
    this.turns = new TurnStatements(db);
  }

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
      this.remember(row);
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
    this.remember(row);
    return row;
  }

  /** The conversation's fields that never change (not lastSeq or updatedAt), read only when not known here. */
  async settled(ownerId: string, id: string): Promise<ConversationRow> {
    const known = this.known.get(id);
    if (!known) return this.get(ownerId, id);
    if (known.ownerId !== ownerId) throw notFound('Conversation', id);
    return known;
  }

  /** Conversations by id, any owner's (the caller checks ownership), in any order. */
  async byIds(ids: readonly string[]): Promise<ConversationRow[]> {
    return this.db
      .select()
      .from(conversations)
      .where(inArray(conversations.id, [...ids]));
  }

  private remember(row: ConversationRow): void {
    if (this.known.size >= KNOWN_CONVERSATIONS) {
      const [oldest] = this.known.keys();
      if (oldest !== undefined) this.known.delete(oldest);
    }
    this.known.set(row.id, row);
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
    this.known.delete(id);
    if (deleted.length === 0) throw notFound('Conversation', id);
  }

  /**
   * A completion's first statement: the user message (counted here, before the statement) and the RUNNING
   * completion stored, the conversation and its context read. NOT_FOUND, writing nothing, when the conversation
   * is absent or another owner's.
   */
  async startTurn(
    conversation: Pick<ConversationRow, 'id' | 'model'>,
    turn: Omit<TurnStart, 'conversationId' | 'tokenCount'>,
  ): Promise<StartedTurn & { conversation: ConversationRow; completion: CompletionRow }> {
    const tokenCount = await this.count({ role: 'user', content: turn.content }, conversation.model);
    const started = await this.turns.begin({ ...turn, conversationId: conversation.id, tokenCount });
    if (!started.conversation) {
      this.known.delete(conversation.id);
      throw notFound('Conversation', conversation.id);
    }
    if (!started.completion) throw new Error('idempotency conflict without an existing completion');
    return { ...started, conversation: started.conversation, completion: started.completion };
  }

  /**
   * A completion's last statement: its outcome and its reply (if any), unless a lease sweep ended it first
   * (then nothing is written: null).
   */
  async finishTurn(
    conversation: Pick<ConversationRow, 'id' | 'model'>,
    held: { completionId: string; instanceId: string },
    outcome: TurnOutcome,
    reply: NewMessage | null,
  ): Promise<CompletionWithReply | null> {
    const tokenCount = reply ? await this.count(reply, conversation.model) : 0;
    return this.turns.end(
      { ...held, conversationId: conversation.id },
      outcome,
      reply && { ...reply, tokenCount },
    );
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

  private async insert(
    tx: Pick<Db, 'with'>,
    conversation: Pick<ConversationRow, 'id' | 'model'>,
    message: NewMessage,
  ): Promise<MessageRow> {
    const tokenCount = await this.count(message, conversation.model);
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

  /** A reply the model refused counts its refusal, which is what is sent back as its text. */
  private count(message: NewMessage, model: string): Promise<number> {
    return this.tokens.countMessage(
      { ...message, content: message.content ?? message.refusal ?? null },
      model,
    );
  }
}

/** not_null_violation or foreign_key_violation, as PostgreSQL (and PGlite) report them through drizzle. */
function isConstraintViolation(error: unknown): boolean {
  const code =
    (error as { cause?: { code?: string }; code?: string })?.cause?.code ??
    (error as { code?: string })?.code;
  return code === '23502' || code === '23503';
}
