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
          if (Symbol.asyncIterator in result) setResult(new ReleasingAtEnd(result, end));
          else end();
        },
      };
    },
  };
}

/**
 * The stream, calling `release` once when it completes, is closed, or fails. Envelop's `onEnd` misses the last:
 * a subscription whose resolver threw (a refused input, a missing completion) kept its slot for good. A class,
 * not an object of closures, since every open subscription holds one.
 */
class ReleasingAtEnd<T> implements AsyncIterableIterator<T> {
  private readonly iterator: AsyncIterator<T>;

  constructor(
    stream: AsyncIterable<T>,
    private readonly release: () => void,
  ) {
    this.iterator = stream[Symbol.asyncIterator]();
  }

  [Symbol.asyncIterator]() {
    return this;
  }

  next() {
    return this.settle(this.iterator.next());
  }

  return(value?: unknown) {
    return this.settle(this.iterator.return?.(value) ?? Promise.resolve({ done: true, value }));
  }

  throw(error?: unknown) {
    return this.settle(this.iterator.throw?.(error) ?? Promise.reject(error));
  }

  private settle<R>(step: Promise<IteratorResult<T, R>>) {
    return step.then(
      (result) => {
        if (result.done) this.release();
        return result;
      },
      (error: unknown) => {
        this.release();
        throw error;
      },
    );
  }
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
