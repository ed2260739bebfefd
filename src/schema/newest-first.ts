import { type DefaultConnectionArguments, resolveCursorConnection } from '@pothos/plugin-relay';
import { badInput } from '../errors.js';
import type { NewestFirstCursor } from '../storage/newest-first.js';

/** A forward-only connection over a newest-first list, with opaque (createdAt, id) cursors. */
export function resolveNewestFirst<T extends NewestFirstCursor>(
  args: DefaultConnectionArguments,
  load: (after: NewestFirstCursor | null, limit: number) => Promise<T[]>,
) {
  if (args.last != null || args.before != null)
    throw badInput('last', 'this list pages forward only (first, after)');
  return resolveCursorConnection<Promise<T[]>>(
    { args, toCursor: encodeCursor, defaultSize: 20, maxSize: 100 },
    ({ after, limit }) => load(after ? decodeCursor(after) : null, limit),
  );
}

const encodeCursor = (row: NewestFirstCursor) =>
  Buffer.from(`${row.createdAt.toISOString()}|${row.id}`).toString('base64url');

function decodeCursor(cursor: string): NewestFirstCursor {
  const [createdAt = '', id = ''] = Buffer.from(cursor, 'base64url').toString().split('|');
  const date = new Date(createdAt);
  if (!id || Number.isNaN(date.getTime())) throw badInput('after', `not a cursor of this list: ${cursor}`);
  return { createdAt: date, id };
}
