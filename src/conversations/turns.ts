import { randomUUID } from 'node:crypto';
import { type SQL, sql } from 'drizzle-orm';
import { PgDialect } from 'drizzle-orm/pg-core';
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
  /** The API key the request came with (null in development mode), for its budgets. */
  apiKeyId: string | null;
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

/** The completion's outcome columns, as the runner stores them (unset ones keep their RUNNING defaults). */
export type TurnOutcome = Partial<
  Pick<
    CompletionRow,
    | 'status'
    | 'model'
    | 'attempts'
    | 'finishReason'
    | 'cached'
    | 'promptTokens'
    | 'completionTokens'
    | 'reasoningTokens'
    | 'usageEstimated'
    | 'costUsd'
    | 'latencyMs'
    | 'timeToFirstTokenMs'
    | 'error'
    | 'parsed'
  >
>;

export interface TurnReply {
  role: MessageRow['role'];
  content: string | null;
  refusal?: string | null;
  status?: MessageRow['status'];
  completionId?: string | null;
  tokenCount: number;
}

/** A finished completion with the reply stored with it, so the response's `message` is not read back. */
export type CompletionWithReply = CompletionRow & { reply?: MessageRow | null };

const p = (name: string) => sql.placeholder(name);

/**
 * Stores the user message and the RUNNING completion, and reads the conversation and its context, in one
 * statement: the completion holding an idempotency key never exists without its user message. The casts type
 * the parameters of INSERT ... SELECT, which Postgres cannot infer from the target columns.
 */
const START = sql`
  with conversation as (
    select * from ${conversations} where id = ${p('conversationId')} and owner_id = ${p('ownerId')}
  ), started as (
    insert into ${completions}
      (id, owner_id, conversation_id, status, model, idempotency_key, api_key_id, instance_id, lease_expires_at)
    select ${p('completionId')}::text, owner_id, id, 'running', coalesce(${p('model')}::text, model),
      ${p('idempotencyKey')}::text, ${p('apiKeyId')}::text, ${p('instanceId')}::text,
      ${p('leaseExpiresAt')}::timestamptz
    from conversation
    on conflict (owner_id, idempotency_key) do nothing
    returning *
  ), bumped as (
    update ${conversations} set last_seq = last_seq + 1, updated_at = now()
    where id = ${p('conversationId')} and exists (select from started)
    returning last_seq
  ), added as (
    insert into ${messages} (id, conversation_id, seq, role, content, token_count, completion_id)
    select ${p('messageId')}::text, ${p('conversationId')}::text, last_seq, 'user', ${p('content')}::text,
      ${p('tokenCount')}::int, ${p('completionId')}::text
    from bumped
    returning *
  )
  select
    (select row_to_json(conversation) from conversation) as conversation,
    coalesce(
      (select row_to_json(started) from started),
      (select row_to_json(earlier) from ${completions} earlier
        where owner_id = ${p('ownerId')} and idempotency_key = ${p('idempotencyKey')}::text)
    ) as completion,
    exists (select from started) as created,
    (select json_agg(context order by coalesce(summary_of_seq, seq), seq) from (
      select * from ${messages}
      where conversation_id = ${p('conversationId')} and in_context and exists (select from started)
      union all select * from added
    ) context) as context`;

/**
 * Finishes a completion this instance still holds (RUNNING under its lease) and stores its reply (when
 * `hasReply`), in one statement; no row, writing nothing, when a lease sweep ended it first.
 */
const FINISH = sql`
  with finished as (
    update ${completions}
    set status = ${p('status')}, model = coalesce(${p('model')}::text, model),
      attempts = coalesce(${p('attempts')}::jsonb, attempts), message_id = ${p('messageId')}, finish_reason = ${p('finishReason')},
      cached = ${p('cached')}, prompt_tokens = ${p('promptTokens')}, completion_tokens = ${p('completionTokens')},
      reasoning_tokens = ${p('reasoningTokens')}, usage_estimated = ${p('usageEstimated')},
      cost_usd = ${p('costUsd')}, latency_ms = ${p('latencyMs')},
      time_to_first_token_ms = ${p('timeToFirstTokenMs')}, error = ${p('error')}::jsonb,
      parsed = ${p('parsed')}::jsonb, finished_at = now()
    where id = ${p('completionId')} and status = 'running' and instance_id = ${p('instanceId')}
    returning *
  ), bumped as (
    update ${conversations} set last_seq = last_seq + 1, updated_at = now()
    where id = ${p('conversationId')} and ${p('hasReply')}::boolean and exists (select from finished)
    returning last_seq
  ), added as (
    insert into ${messages} (id, conversation_id, seq, role, content, refusal, status, completion_id, token_count)
    select ${p('messageId')}::text, ${p('conversationId')}::text, last_seq, ${p('role')}::text,
      ${p('content')}::text, ${p('refusal')}::text, ${p('replyStatus')}::text, ${p('replyCompletionId')}::text,
      ${p('tokenCount')}::int
    from bumped
    returning *
  )
  select row_to_json(finished) as completion, (select row_to_json(added) from added) as reply
  from finished`;

type Prepared = { execute(values: Record<string, unknown>): Promise<unknown> };

/**
 * A turn's two statements, prepared once per database (named server-side statements on PostgreSQL): a
 * completion pays neither query building nor, after a connection's first use, parsing and planning.
 */
export class TurnStatements {
  private readonly start: Prepared;
  private readonly finish: Prepared;

  constructor(db: Db) {
    const dialect = new PgDialect();
    const prepare = (query: SQL, name: string) =>
      db._.session.prepareQuery(dialect.sqlToQuery(query), undefined, name, false);
    this.start = prepare(START, 'turn_start');
    this.finish = prepare(FINISH, 'turn_finish');
  }

  async begin(turn: TurnStart): Promise<StartedTurn> {
    const [row] = rowsOf(
      await this.start.execute({
        ...turn,
        completionId: randomUUID(),
        messageId: randomUUID(),
        leaseExpiresAt: turn.leaseExpiresAt.toISOString(),
      }),
    );
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

  async end(
    turn: { completionId: string; instanceId: string; conversationId: string },
    outcome: TurnOutcome,
    reply: TurnReply | null,
  ): Promise<CompletionWithReply | null> {
    const [row] = rowsOf(
      await this.finish.execute({
        ...turn,
        status: outcome.status ?? 'running',
        model: outcome.model ?? null,
        attempts: outcome.attempts ? JSON.stringify(outcome.attempts) : null,
        finishReason: outcome.finishReason ?? null,
        cached: outcome.cached ?? false,
        promptTokens: outcome.promptTokens ?? 0,
        completionTokens: outcome.completionTokens ?? 0,
        reasoningTokens: outcome.reasoningTokens ?? 0,
        usageEstimated: outcome.usageEstimated ?? false,
        costUsd: outcome.costUsd ?? 0,
        latencyMs: outcome.latencyMs ?? null,
        timeToFirstTokenMs: outcome.timeToFirstTokenMs ?? null,
        error: outcome.error ? JSON.stringify(outcome.error) : null,
        parsed:
          outcome.parsed === undefined || outcome.parsed === null ? null : JSON.stringify(outcome.parsed),
        hasReply: reply !== null,
        messageId: reply ? randomUUID() : null,
        role: reply?.role ?? null,
        content: reply?.content ?? null,
        refusal: reply?.refusal ?? null,
        replyStatus: reply?.status ?? 'complete',
        replyCompletionId: reply?.completionId ?? null,
        tokenCount: reply?.tokenCount ?? 0,
      }),
    );
    const completion = parsedJson<Record<string, unknown>>(row?.completion);
    if (!completion) return null;
    const stored = parsedJson<Record<string, unknown>>(row?.reply);
    return { ...rowFromJson(completions, completion), reply: stored && rowFromJson(messages, stored) };
  }
}

/** node-postgres returns a QueryResult, PGlite its Results: both carry `rows`. */
function rowsOf(result: unknown): Record<string, unknown>[] {
  return (result as { rows: Record<string, unknown>[] }).rows;
}
