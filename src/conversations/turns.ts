import { randomUUID } from 'node:crypto';
import { getTableColumns, type SQL, sql } from 'drizzle-orm';
import type { Db } from '../storage/db.js';
import { parsedJson, rowFromJson } from '../storage/json-rows.js';
import {
  type CompletionRow,
  type ConversationRow,
  completions,
  conversations,
  type MessageRow,
  messages,
} from '../storage/schema.js';

/**
 * A turn is one completion of a conversation: the user message and the RUNNING completion before the upstream
 * request, the reply and the completion's outcome after it. Each end is ONE statement (data-modifying CTEs,
 * atomic on their own, no transaction round trips), so a plain completion costs two statements in all.
 */

export interface TurnStart {
  ownerId: string;
  conversationId: string;
  content: string;
  /** The user message's stored count, computed before the statement (counting never holds the database). */
  tokenCount: number;
  /** The completion's model; null takes the conversation's. */
  model: string | null;
  idempotencyKey: string | null;
  instanceId: string;
  leaseExpiresAt: Date;
}

export interface StartedTurn {
  /** Null when the conversation is absent or another owner's: nothing was written. */
  conversation: ConversationRow | null;
  completion: CompletionRow | null;
  /** False when the idempotency key was seen before: `completion` is the earlier one, nothing was written. */
  created: boolean;
  /** What the context holds now, in context order, the new user message last (empty unless created). */
  context: MessageRow[];
}

/**
 * Stores the user message and the RUNNING completion, and reads the conversation and its context, in one
 * statement: the completion holding an idempotency key never exists without its user message.
 */
export async function startTurn(db: Db, turn: TurnStart): Promise<StartedTurn> {
  const completionId = randomUUID();
  const result = await db.execute<Record<string, unknown>>(sql`
    with conversation as (
      select * from ${conversations} where id = ${turn.conversationId} and owner_id = ${turn.ownerId}
    ), started as (
      insert into ${completions}
        (id, owner_id, conversation_id, status, model, idempotency_key, instance_id, lease_expires_at)
      select ${completionId}::text, owner_id, id, 'running', coalesce(${turn.model}::text, model),
        ${turn.idempotencyKey}::text, ${turn.instanceId}::text, ${turn.leaseExpiresAt.toISOString()}::timestamptz
      from conversation
      on conflict (owner_id, idempotency_key) do nothing
      returning *
    ), bumped as (
      update ${conversations} set last_seq = last_seq + 1, updated_at = now()
      where id = ${turn.conversationId} and exists (select from started)
      returning last_seq
    ), added as (
      insert into ${messages} (id, conversation_id, seq, role, content, token_count, completion_id)
      select ${randomUUID()}::text, ${turn.conversationId}::text, last_seq, 'user', ${turn.content}::text,
        ${turn.tokenCount}::int, ${completionId}::text
      from bumped
      returning *
    )
    select
      (select row_to_json(conversation) from conversation) as conversation,
      coalesce(
        (select row_to_json(started) from started),
        (select row_to_json(earlier) from ${completions} earlier
          where owner_id = ${turn.ownerId} and idempotency_key = ${turn.idempotencyKey}::text)
      ) as completion,
      exists (select from started) as created,
      (select json_agg(context order by coalesce(summary_of_seq, seq), seq) from (
        select * from ${messages}
        where conversation_id = ${turn.conversationId} and in_context and exists (select from started)
        union all select * from added
      ) context) as context`);
  const [row] = rowsOf(result);
  const conversation = parsedJson<Record<string, unknown>>(row?.conversation);
  const completion = parsedJson<Record<string, unknown>>(row?.completion);
  return {
    conversation: conversation && rowFromJson(conversations, conversation),
    completion: completion && rowFromJson(completions, completion),
    created: row?.created === true,
    context: (parsedJson<Record<string, unknown>[]>(row?.context) ?? []).map((message) =>
      rowFromJson(messages, message),
    ),
  };
}

/** The completion's outcome columns, as the runner and the lease keeper store them. */
export type TurnOutcome = Partial<Omit<CompletionRow, 'id' | 'ownerId' | 'conversationId' | 'createdAt'>>;

export interface TurnReply {
  role: MessageRow['role'];
  content: string | null;
  refusal?: string | null;
  status?: MessageRow['status'];
  completionId?: string | null;
  tokenCount: number;
}

/**
 * Finishes a completion this instance still holds (RUNNING under its lease) and stores its reply, in one
 * statement; null, writing nothing, when a lease sweep ended it first.
 */
export async function finishTurn(
  db: Db,
  turn: { completionId: string; instanceId: string; conversationId: string },
  outcome: TurnOutcome,
  reply: TurnReply | null,
): Promise<CompletionWithReply | null> {
  const messageId = reply ? randomUUID() : null;
  const store = reply
    ? sql`, bumped as (
        update ${conversations} set last_seq = last_seq + 1, updated_at = now()
        where id = ${turn.conversationId} and exists (select from finished)
        returning last_seq
      ), added as (
        insert into ${messages} (id, conversation_id, seq, role, content, refusal, status, completion_id, token_count)
        select ${messageId}::text, ${turn.conversationId}::text, last_seq, ${reply.role}::text, ${reply.content}::text,
          ${reply.refusal ?? null}::text, ${reply.status ?? 'complete'}::text, ${reply.completionId ?? null}::text,
          ${reply.tokenCount}::int
        from bumped
        returning *
      )`
    : sql``;
  const result = await db.execute<Record<string, unknown>>(sql`
    with finished as (
      update ${completions}
      set ${outcomeColumns({ ...outcome, ...(messageId ? { messageId } : {}) })}, finished_at = now()
      where id = ${turn.completionId} and status = 'running' and instance_id = ${turn.instanceId}
      returning *
    )${store}
    select row_to_json(finished) as completion, ${reply ? sql`(select row_to_json(added) from added)` : sql`null`} as reply
    from finished`);
  const [row] = rowsOf(result);
  const completion = parsedJson<Record<string, unknown>>(row?.completion);
  if (!completion) return null;
  const stored = parsedJson<Record<string, unknown>>(row?.reply);
  return { ...rowFromJson(completions, completion), reply: stored && rowFromJson(messages, stored) };
}

/** A finished completion with the reply stored with it, so the response's `message` is not read back. */
export type CompletionWithReply = CompletionRow & { reply?: MessageRow | null };

const completionColumns = getTableColumns(completions);

/** `column = value, ...` for an UPDATE of completions, each value mapped as Drizzle maps it (jsonb as JSON). */
function outcomeColumns(outcome: TurnOutcome): SQL {
  const assignments = Object.entries(outcome).flatMap(([field, value]) => {
    const column = completionColumns[field as keyof typeof completionColumns];
    if (!column || value === undefined) return [];
    return [sql`${sql.identifier(column.name)} = ${sql.param(value, column)}`];
  });
  return sql.join(assignments, sql`, `);
}

/** node-postgres returns a QueryResult, PGlite its Results: both carry `rows`. */
function rowsOf(result: unknown): Record<string, unknown>[] {
  return (result as { rows: Record<string, unknown>[] }).rows;
}
