import { and, desc, eq, lt, or, type SQL } from 'drizzle-orm';
import type { PgColumn } from 'drizzle-orm/pg-core';

/** A position in a newest-first list: (createdAt, id), so rows created in the same millisecond keep an order. */
export interface NewestFirstCursor {
  createdAt: Date;
  id: string;
}

/** The WHERE part (rows after the cursor) and ORDER BY part of a newest-first page over a table's columns. */
export function newestFirst(columns: { createdAt: PgColumn; id: PgColumn }, after: NewestFirstCursor | null) {
  const where: SQL | undefined = after
    ? or(
        lt(columns.createdAt, after.createdAt),
        and(eq(columns.createdAt, after.createdAt), lt(columns.id, after.id)),
      )
    : undefined;
  return { where, orderBy: [desc(columns.createdAt), desc(columns.id)] as const };
}
