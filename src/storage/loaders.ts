import DataLoader from 'dataloader';
import { and, asc, desc, getTableColumns, gt, inArray, lt, sql } from 'drizzle-orm';
import type { Db } from './db.js';
import {
  type CompletionRow,
  type ConversationRow,
  completions,
  conversations,
  type MessageRow,
  messages,
  summaryRequests,
} from './schema.js';

/** A page of one conversation's messages, in the shape resolveCursorConnection asks for. */
export interface MessagePageKey {
  conversationId: string;
  afterSeq: number | null;
  beforeSeq: number | null;
  limit: number;
  /** True for `last`/`before` paging: rows come newest first. */
  inverted: boolean;
}

export type Loaders = ReturnType<typeof createLoaders>;

/**
 * One loader set per request: every fan-out (conversations of a list, their messages, completions) becomes
 * one SQL statement per distinct page shape instead of one per parent.
 */
export function createLoaders(db: Db, ownerId: string | null) {
  const isOwned = (row: { ownerId: string }) => ownerId === null || row.ownerId === ownerId;

  return {
    conversationById: loadById<ConversationRow>(
      (ids) => db.select().from(conversations).where(inArray(conversations.id, ids)),
      isOwned,
    ),
    completionById: loadById<CompletionRow>(
      (ids) => db.select().from(completions).where(inArray(completions.id, ids)),
      isOwned,
    ),
    messageById: loadById<MessageRow>((ids) => db.select().from(messages).where(inArray(messages.id, ids))),
    messagePage: new DataLoader<MessagePageKey, MessageRow[], string>(
      async (keys) => {
        const groups = new Map<string, MessagePageKey[]>();
        for (const key of keys) {
          const shape = `${key.afterSeq}|${key.beforeSeq}|${key.limit}|${key.inverted}`;
          groups.set(shape, [...(groups.get(shape) ?? []), key]);
        }
        const pages = new Map<string, MessageRow[]>();
        await Promise.all(
          [...groups.values()].map(async (group) => {
            const byConversation = new Map<string, MessageRow[]>();
            for (const row of await selectPages(db, group)) {
              byConversation.set(row.conversationId, [
                ...(byConversation.get(row.conversationId) ?? []),
                row,
              ]);
            }
            for (const key of group) pages.set(pageKey(key), byConversation.get(key.conversationId) ?? []);
          }),
        );
        return keys.map((key) => pages.get(pageKey(key)) ?? []);
      },
      { cacheKeyFn: pageKey },
    ),
    conversationUsage: new DataLoader<string, UsageTotals>(async (ids) => {
      const usage = usageRows(db);
      const rows = await db
        .select({ conversationId: usage.conversationId, ...usageTotals(usage) })
        .from(usage)
        .where(inArray(usage.conversationId, [...ids]))
        .groupBy(usage.conversationId);
      const byId = new Map(rows.map((row) => [row.conversationId, row]));
      return ids.map((id) => byId.get(id) ?? NO_USAGE);
    }),
  };
}

/** Rows by primary key, one statement per batch; a row `visible` refuses (another owner's) loads as null. */
function loadById<T extends { id: string }>(
  select: (ids: string[]) => Promise<T[]>,
  visible: (row: T) => boolean = () => true,
) {
  return new DataLoader<string, T | null>(async (ids) => {
    const byId = new Map((await select([...ids])).map((row) => [row.id, row]));
    return ids.map((id) => {
      const row = byId.get(id);
      return row && visible(row) ? row : null;
    });
  });
}

export interface UsageTotals {
  completions: number;
  promptTokens: number;
  completionTokens: number;
  reasoningTokens: number;
  costUsd: number;
  /** Some of the tokens are our estimate: the upstream sent no usage for them. */
  estimated: boolean;
}

export const NO_USAGE: UsageTotals = {
  completions: 0,
  promptTokens: 0,
  completionTokens: 0,
  reasoningTokens: 0,
  costUsd: 0,
  estimated: false,
};

/**
 * Every usage-bearing row as one set: the completions and SUMMARIZE's own requests (`completion` is 1 for a
 * completion, 0 for a summary request), so every sum counts each model request once.
 */
export function usageRows(db: Db) {
  const columns = (table: typeof completions | typeof summaryRequests) => ({
    ownerId: table.ownerId,
    conversationId: table.conversationId,
    model: table.model,
    createdAt: table.createdAt,
    promptTokens: table.promptTokens,
    completionTokens: table.completionTokens,
    reasoningTokens: table.reasoningTokens,
    usageEstimated: table.usageEstimated,
    costUsd: table.costUsd,
  });
  return db
    .select({
      ...columns(completions),
      apiKeyId: completions.apiKeyId,
      completion: sql<number>`1`.as('completion'),
    })
    .from(completions)
    .unionAll(
      db
        .select({
          ...columns(summaryRequests),
          // Not made with a key of their own: they count against their owner's budgets only.
          apiKeyId: sql<string | null>`null`.as('api_key_id'),
          completion: sql<number>`0`.as('completion'),
        })
        .from(summaryRequests),
    )
    .as('usage_rows');
}

type UsageRows = ReturnType<typeof usageRows>;

/** Sums over usageRows, for a select next to a group-by; Postgres sums integers as bigint (text). */
export const usageTotals = (rows: UsageRows) => ({
  completions: sql<number>`coalesce(sum(${rows.completion}), 0)`.mapWith(Number),
  promptTokens: sql<number>`coalesce(sum(${rows.promptTokens}), 0)`.mapWith(Number),
  completionTokens: sql<number>`coalesce(sum(${rows.completionTokens}), 0)`.mapWith(Number),
  reasoningTokens: sql<number>`coalesce(sum(${rows.reasoningTokens}), 0)`.mapWith(Number),
  costUsd: sql<number>`coalesce(sum(${rows.costUsd}), 0)`.mapWith(Number),
  estimated: sql<boolean>`coalesce(bool_or(${rows.usageEstimated}), false)`.mapWith(Boolean),
});

const pageKey = (key: MessagePageKey) =>
  `${key.conversationId}|${key.afterSeq}|${key.beforeSeq}|${key.limit}|${key.inverted}`;

/** The first `limit` messages of each conversation after/before a seq, in one statement (row_number window). */
async function selectPages(db: Db, group: MessagePageKey[]): Promise<MessageRow[]> {
  const [shape] = group;
  if (!shape) return [];
  const conversationIds = group.map((key) => key.conversationId);
  const order = shape.inverted ? desc(messages.seq) : asc(messages.seq);
  const ranked = db
    .select({
      ...getTableColumns(messages),
      rank: sql<number>`row_number() over (partition by ${messages.conversationId} order by ${order})`.as(
        'rank',
      ),
    })
    .from(messages)
    .where(
      and(
        inArray(messages.conversationId, conversationIds),
        shape.afterSeq === null ? undefined : gt(messages.seq, shape.afterSeq),
        shape.beforeSeq === null ? undefined : lt(messages.seq, shape.beforeSeq),
      ),
    )
    .as('ranked');
  const rows = await db
    .select()
    .from(ranked)
    .where(sql`${ranked.rank} <= ${shape.limit}`)
    .orderBy(ranked.conversationId, shape.inverted ? desc(ranked.seq) : asc(ranked.seq));
  return rows.map(({ rank: _rank, ...row }) => row);
}
