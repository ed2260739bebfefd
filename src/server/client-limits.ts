import { type DocumentNode, type FragmentDefinitionNode, getOperationAST, Kind } from 'graphql';
import type { Plugin } from 'graphql-yoga';
import { AppError } from '../errors.js';
import type { ClientLimits } from '../limits/index.js';
import type { Context } from '../schema/builder.js';

/**
 * Applies the client limits to every operation: queries and mutations count against the rate, subscriptions
 * against it and hold a stream slot until they end. Unauthenticated operations are left to the schema to refuse.
 */
export function useClientLimits(limits: ClientLimits): Plugin<Context> {
  return {
    onExecute: async ({ args, setResultAndStopExecution }) => {
      const principal = args.contextValue.principal;
      if (!principal) return;
      try {
        await limits.admit(principal.id, rootFieldCount(args.document, args.operationName));
      } catch (error) {
        if (!(error instanceof AppError)) throw error;
        setResultAndStopExecution({ errors: [error] });
      }
    },
    onSubscribe: async ({ args, setResultAndStopExecution }) => {
      const principal = args.contextValue.principal;
      if (!principal) return;
      let release: () => Promise<void>;
      try {
        await limits.admit(principal.id);
        release = await limits.openStream(principal.id);
      } catch (error) {
        if (!(error instanceof AppError)) throw error;
        setResultAndStopExecution({ errors: [error] });
        return;
      }
      const end = () => void release().catch(() => undefined);
      return {
        onSubscribeResult: ({ result, setResult }) => {
          if (Symbol.asyncIterator in result) setResult(releasingAtEnd(result, end));
          else end();
        },
      };
    },
  };
}

/**
 * The stream, calling `release` once when it completes, is closed, or fails. Envelop's `onEnd` misses the last:
 * a subscription whose resolver threw (a refused input, a missing completion) kept its slot for good.
 */
function releasingAtEnd<T>(stream: AsyncIterable<T>, release: () => void): AsyncIterableIterator<T> {
  const iterator = stream[Symbol.asyncIterator]();
  const settle = <R>(step: Promise<IteratorResult<T, R>>) =>
    step.then(
      (result) => {
        if (result.done) release();
        return result;
      },
      (error: unknown) => {
        release();
        throw error;
      },
    );
  return {
    [Symbol.asyncIterator]() {
      return this;
    },
    next: () => settle(iterator.next()),
    return: (value?: unknown) => settle(iterator.return?.(value) ?? Promise.resolve({ done: true, value })),
    throw: (error?: unknown) => settle(iterator.throw?.(error) ?? Promise.reject(error)),
  };
}

/** The operation's root fields, through fragments and aliases alike; at least 1. */
function rootFieldCount(document: DocumentNode, operationName: string | null | undefined): number {
  const fragments = new Map(
    document.definitions
      .filter(
        (definition): definition is FragmentDefinitionNode => definition.kind === Kind.FRAGMENT_DEFINITION,
      )
      .map((fragment) => [fragment.name.value, fragment]),
  );
  const pending = [...(getOperationAST(document, operationName)?.selectionSet.selections ?? [])];
  const spread = new Set<string>();
  let count = 0;
  for (let selection = pending.pop(); selection; selection = pending.pop()) {
    if (selection.kind === Kind.FIELD) count += 1;
    else if (selection.kind === Kind.INLINE_FRAGMENT) pending.push(...selection.selectionSet.selections);
    else if (!spread.has(selection.name.value)) {
      spread.add(selection.name.value);
      pending.push(...(fragments.get(selection.name.value)?.selectionSet.selections ?? []));
    }
  }
  return Math.max(1, count);
}
