import { type DocumentNode, Kind, type ValueNode, visit } from 'graphql';
import type { Plugin } from 'graphql-yoga';
import { type AppError, badInput } from '../errors.js';

/** NUL (PostgreSQL text and jsonb refuse it) and unpaired surrogates (not encodable as UTF-8). */
const UNSTORABLE = /[\0\p{Cs}]/u;

/**
 * Refuses, before any resolver runs, string inputs that would fail later: NUL and unpaired surrogates, which
 * PostgreSQL refuses after earlier rows of the same request were written, and strings longer than
 * `maxChars`. Every string counts wherever it is: variables (JSON values and their keys included) and
 * literals in the document, over HTTP, SSE and WebSocket alike.
 */
export function useInputCheck(maxChars: number): Plugin {
  const check = (args: { document: DocumentNode; variableValues?: unknown }) =>
    literalProblem(args.document, maxChars) ?? jsonValueProblem(args.variableValues, maxChars);
  return {
    onExecute({ args, setResultAndStopExecution }) {
      const problem = check(args);
      if (problem) setResultAndStopExecution({ errors: [problem] });
    },
    onSubscribe({ args, setResultAndStopExecution }) {
      const problem = check(args);
      if (problem) setResultAndStopExecution({ errors: [problem] });
    },
  };
}

function stringProblem(value: string, path: string, maxChars: number): AppError | null {
  if (value.length > maxChars) {
    return badInput(path, `is longer than ${maxChars} characters (MAX_MESSAGE_CHARS)`);
  }
  const bad = UNSTORABLE.exec(value);
  if (!bad) return null;
  return badInput(
    path,
    bad[0] === '\0'
      ? 'contains a NUL character (\\u0000), which cannot be stored'
      : 'contains an unpaired UTF-16 surrogate, which is not valid Unicode',
  );
}

/** Walks the variables without recursion: a value nested thousands deep must not overflow the stack. */
export function jsonValueProblem(variables: unknown, maxChars: number): AppError | null {
  if (typeof variables !== 'object' || variables === null) return null;
  const pending: [unknown, string][] = Object.entries(variables).map(([name, value]) => [value, name]);
  for (let next = pending.pop(); next; next = pending.pop()) {
    const [value, path] = next;
    if (typeof value === 'string') {
      const problem = stringProblem(value, path, maxChars);
      if (problem) return problem;
    } else if (Array.isArray(value)) {
      for (const [index, item] of value.entries()) pending.push([item, `${path}.${index}`]);
    } else if (typeof value === 'object' && value !== null) {
      for (const [key, item] of Object.entries(value)) {
        const problem = stringProblem(key, `${path} (a key)`, maxChars);
        if (problem) return problem;
        pending.push([item, `${path}.${key}`]);
      }
    }
  }
  return null;
}

function literalProblem(document: DocumentNode, maxChars: number): AppError | null {
  let problem: AppError | null = null;
  visit(document, {
    Argument(node) {
      const pending: [ValueNode, string][] = [[node.value, node.name.value]];
      for (let next = pending.pop(); next && !problem; next = pending.pop()) {
        const [value, path] = next;
        if (value.kind === Kind.STRING) problem = stringProblem(value.value, path, maxChars);
        else if (value.kind === Kind.LIST) {
          for (const [index, item] of value.values.entries()) pending.push([item, `${path}.${index}`]);
        } else if (value.kind === Kind.OBJECT) {
          for (const field of value.fields) pending.push([field.value, `${path}.${field.name.value}`]);
        }
      }
      return false;
    },
  });
  return problem;
}
