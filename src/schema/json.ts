import { GraphQLScalarType } from 'graphql';
import { JSONResolver } from 'graphql-scalars';
import { AppError, ErrorCode } from '../errors.js';

/** JSON inputs nest at most this deep: deeper values would overflow recursive code (JSON.stringify, ajv, SQL). */
export const MAX_JSON_DEPTH = 32;

/** graphql-scalars' JSON, refusing values nested deeper than MAX_JSON_DEPTH before anything recurses into them. */
export const BoundedJSON = new GraphQLScalarType({
  ...JSONResolver.toConfig(),
  parseValue: (value) => JSONResolver.parseValue(bounded(value)),
  // Object literals written in a document come out of graphql-scalars without a prototype, which the database
  // drivers and ajv do not take; values from variables are already plain.
  parseLiteral: (ast, variables) => toPlainJson(bounded(JSONResolver.parseLiteral(ast, variables))),
});

/** Bounded by MAX_JSON_DEPTH already, so the recursion is too. */
function toPlainJson(value: unknown): unknown {
  if (Array.isArray(value)) return value.map(toPlainJson);
  if (value !== null && typeof value === 'object')
    return Object.fromEntries(Object.entries(value).map(([key, entry]) => [key, toPlainJson(entry)]));
  return value;
}

function bounded(value: unknown): unknown {
  // A walk with an explicit stack: the value may be nested far deeper than the call stack allows.
  const pending: [unknown, number][] = [[value, 0]];
  for (let entry = pending.pop(); entry; entry = pending.pop()) {
    const [node, depth] = entry;
    if (typeof node !== 'object' || node === null) continue;
    if (depth >= MAX_JSON_DEPTH)
      throw new AppError(ErrorCode.BAD_USER_INPUT, `JSON nests deeper than ${MAX_JSON_DEPTH} levels`);
    for (const child of Object.values(node)) pending.push([child, depth + 1]);
  }
  return value;
}
