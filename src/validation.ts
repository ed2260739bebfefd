import type { z } from 'zod';
import { badInput } from './errors.js';

/** Parses an input with its zod schema; the first problem becomes a BAD_USER_INPUT naming the field. */
export function parseInput<S extends z.ZodType>(schema: S, value: unknown, prefix = 'input'): z.output<S> {
  const result = schema.safeParse(value);
  if (result.success) return result.data;
  const issue = result.error.issues[0];
  const path = [prefix, ...(issue?.path ?? [])].join('.');
  throw badInput(path, issue?.message ?? 'invalid value');
}

/** Drops null and undefined entries, so optional GraphQL inputs never override defaults with "nothing". */
export function withoutNullish<T extends Record<string, unknown>>(
  value: T,
): { [K in keyof T]?: NonNullable<T[K]> } {
  return Object.fromEntries(Object.entries(value).filter(([, entry]) => entry != null)) as never;
}
