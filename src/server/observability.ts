import { type DocumentNode, type GraphQLError, getOperationAST, Kind } from 'graphql';
import { isAsyncIterable, type Plugin, useErrorHandler } from 'graphql-yoga';
import { AppError, ErrorCode } from '../errors.js';
import type { Metrics } from '../observability/metrics.js';
import type { Context } from '../schema/builder.js';

type Phase = Parameters<Parameters<typeof useErrorHandler>[0]>[0]['phase'];

/**
 * Counts, times and logs every GraphQL operation on both transports (Yoga's HTTP and SSE, and graphql-ws, which
 * runs through the same envelop), keeps the open-subscriptions gauge, and counts errors by code in every phase.
 */
export function useObservability(metrics: Metrics): Plugin<Context> {
  return {
    onPluginInit({ addPlugin }) {
      addPlugin(
        useErrorHandler(({ errors, phase }) => {
          for (const error of errors) metrics.errors.inc({ code: errorCode(error, phase) });
        }),
      );
    },
    onExecute({ args }) {
      const labels = operationLabels(args.document, args.operationName);
      const context = args.contextValue as Context;
      const started = performance.now();
      return {
        onExecuteDone({ result }) {
          const durationMs = performance.now() - started;
          metrics.graphqlOperations.inc(labels);
          metrics.graphqlDuration.observe(labels, durationMs / 1000);
          const errors = isAsyncIterable(result) ? [] : (result.errors ?? []);
          context.logger.info(
            {
              ...labels,
              durationMs: Math.round(durationMs),
              errors: errors.map((error) => errorCode(error, 'execution')),
            },
            'graphql operation',
          );
        },
      };
    },
    onSubscribe({ args }) {
      const labels = operationLabels(args.document, args.operationName);
      const context = args.contextValue as Context;
      const started = performance.now();
      metrics.graphqlOperations.inc(labels);
      metrics.activeSubscriptions.inc();
      context.logger.info(labels, 'graphql subscription started');
      let open = true;
      const ended = () => {
        if (!open) return;
        open = false;
        metrics.activeSubscriptions.dec();
        context.logger.info(
          { ...labels, durationMs: Math.round(performance.now() - started) },
          'graphql subscription ended',
        );
      };
      return {
        onSubscribeResult: ({ result }) => (isAsyncIterable(result) ? { onEnd: ended } : ended()),
        onSubscribeError: ended,
      };
    },
  };
}

/** `type` and `operation` labels: the operation type and its root fields, which the schema bounds. */
function operationLabels(document: DocumentNode, operationName: string | null | undefined) {
  const operation = getOperationAST(document, operationName);
  const fields = new Set<string>();
  for (const selection of operation?.selectionSet.selections ?? []) {
    if (selection.kind === Kind.FIELD) fields.add(selection.name.value);
  }
  return { type: operation?.operation ?? 'unknown', operation: [...fields].sort().join(',') || 'unknown' };
}

function errorCode(error: GraphQLError | Error, phase: Phase): string {
  const code = 'extensions' in error ? error.extensions?.code : undefined;
  if (typeof code === 'string') return code;
  const original = 'originalError' in error ? error.originalError : undefined;
  if (original instanceof AppError) return original.code;
  if (phase === 'parse') return 'GRAPHQL_PARSE_FAILED';
  if (phase === 'validate') return 'GRAPHQL_VALIDATION_FAILED';
  return ErrorCode.INTERNAL_SERVER_ERROR;
}
