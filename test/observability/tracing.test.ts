import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { wsClient } from '../support/clients.js';
import { type OtlpReceiver, startOtlpReceiver } from '../support/otlp.js';
import { startTestServer, type TestServer } from '../support/server.js';
import { TracedChat, Viewer } from './documents.js';

/** A caller's span: W3C trace context as a traced client sends it. */
const CALLER = { traceId: '0af7651916cd43dd8448eb211c80319c', spanId: 'b7ad6b7169203331' };
const TRACEPARENT = `00-${CALLER.traceId}-${CALLER.spanId}-01`;

describe('OpenTelemetry traces', () => {
  let receiver: OtlpReceiver;
  let server: TestServer;

  beforeAll(async () => {
    receiver = await startOtlpReceiver();
    server = await startTestServer({
      env: {
        OTEL_EXPORTER_OTLP_ENDPOINT: receiver.endpoint,
        OTEL_EXPORTER_OTLP_PROTOCOL: 'http/json',
        OTEL_BSP_SCHEDULE_DELAY: '20',
      },
    });
  });
  afterAll(async () => {
    await server.close();
    await receiver.close();
  });

  it('traces a GraphQL operation as a server span of agent-platform, under the traceparent the client sent', async () => {
    await server.data(Viewer, {}, { headers: { traceparent: TRACEPARENT } });
    const [operation] = await receiver.trace('query.ObservabilityViewer', (trace) => trace.length > 0);
    expect(operation).toMatchObject({
      traceId: CALLER.traceId,
      parentSpanId: CALLER.spanId,
      kind: 2,
      attributes: {
        'graphql.execute.operationName': 'ObservabilityViewer',
        'graphql.execute.operationType': 'query',
      },
      resource: { 'service.name': 'agent-platform' },
    });
  });

  it('takes the traceparent of a graphql-ws operation from the connection params', async () => {
    const client = wsClient(server.wsUrl, undefined, { traceparent: TRACEPARENT });
    await client
      .subscribe(TracedChat, { input: { conversationId: 'nope', content: 'hi' } })
      .completed.catch(() => {});
    await client.close();
    const [operation] = await receiver.trace('subscription.TracedChat', (trace) => trace.length > 0);
    expect(operation).toMatchObject({ traceId: CALLER.traceId, parentSpanId: CALLER.spanId });
  });
});
