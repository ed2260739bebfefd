import DataLoader from 'dataloader';
import type { CompletionRow, ConversationRow, MessageRow } from './schema.js';
import { mergeUsage, NO_USAGE, type UsageFilter, type UsageTotals, type usageOf } from './usage.js';

/** A page of one conversation's messages, in the shape resolveCursorConnection asks for. */
export interface MessagePageKey {
  conversationId: string;
  afterSeq: number | null;
  beforeSeq: number | null;
  limit: number;
  /** True for `last`/`before` paging: rows come newest first. */
  inverted: boolean;
}

type UsageStore = { usage: (key: 'conversationId', filter: UsageFilter) => ReturnType<typeof usageOf> };

/** What the loaders read through: each table's own store. */
export interface LoaderStores {
  conversations: {
    byIds(ids: readonly string[]): Promise<ConversationRow[]>;
    messagesByIds(ids: readonly string[]): Promise<MessageRow[]>;
    pages(group: readonly MessagePageKey[]): Promise<MessageRow[]>;
  };
  completions: UsageStore & { byIds(ids: readonly string[]): Promise<CompletionRow[]> };
  summaryRequests: UsageStore;
}

/**
 * One loader set per request: every fan-out (conversations of a list, their messages, completions) becomes
 * one SQL statement per distinct page shape instead of one per parent. Each loader is built on first use: a
 * subscription's context lives as long as the subscription, and an idle one reads nothing.
 */
export class Loaders {
  #conversationById?: DataLoader<string, ConversationRow | null>;
  #completionById?: DataLoader<string, CompletionRow | null>;
  #messageById?: DataLoader<string, MessageRow | null>;
  #messagePage?: DataLoader<MessagePageKey, MessageRow[], string>;
  #conversationUsage?: DataLoader<string, UsageTotals>;

  constructor(
    private readonly stores: LoaderStores,
    private readonly ownerId: string | null,
  ) {}

  get conversationById() {
    this.#conversationById ??= loadById(
      (ids) => this.stores.conversations.byIds(ids),
      (row) => this.isOwned(row),
    );
    return this.#conversationById;
  }

  get completionById() {
    this.#completionById ??= loadById(
      (ids) => this.stores.completions.byIds(ids),
      (row) => this.isOwned(row),
    );
    return this.#completionById;
  }

  get messageById() {
    this.#messageById ??= loadById((ids) => this.stores.conversations.messagesByIds(ids));
    return this.#messageById;
  }

  get messagePage() {
    this.#messagePage ??= new DataLoader<MessagePageKey, MessageRow[], string>(
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
            for (const row of await this.stores.conversations.pages(group)) {
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
    );
    return this.#messagePage;
  }

  get conversationUsage() {
    this.#conversationUsage ??= new DataLoader<string, UsageTotals>(async (ids) => {
      const filter = { conversationIds: ids };
      const byId = mergeUsage(
        ...(await Promise.all([
          this.stores.completions.usage('conversationId', filter),
          this.stores.summaryRequests.usage('conversationId', filter),
        ])),
      );
      return ids.map((id) => byId.get(id) ?? NO_USAGE);
    });
    return this.#conversationUsage;
  }

  private isOwned(row: { ownerId: string }) {
    return this.ownerId === null || row.ownerId === this.ownerId;
  }
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

const pageKey = (key: MessagePageKey) =>
  `${key.conversationId}|${key.afterSeq}|${key.beforeSeq}|${key.limit}|${key.inverted}`;
