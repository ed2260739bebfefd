import { once } from 'node:events';
import { createServer, type IncomingHttpHeaders } from 'node:http';
import type { AddressInfo } from 'node:net';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { wsClient } from '../support/clients.js';
import { childrenOf, type OtlpReceiver, startOtlpReceiver } from '../support/otlp.js';
import { startTestServer, type TestServer } from '../support/server.js';
import {
  TracedAddMessage,
  TracedChat,
  TracedConversation,
  TracedExecuteFunction,
  TracedRegisterFunction,
  TracedTrim,
  Viewer,
} from './documents.js';

/** A caller's span: W3C trace context as a traced client sends it. */
const CALLER = { traceId: '0af7651916cd43dd8448eb211c80319c', spanId: 'b7ad6b7169203331' };
const TRACEPARENT = `00-${CALLER.traceId}-${CALLER.spanId}-01`;

/** A webhook that answers `{ ok: true }` and keeps the headers of each call. */
async function startHook() {
  const calls: IncomingHttpHeaders[] = [];
  const hook = createServer((req, res) => {
    calls.push(req.headers);
    req.resume().on('end', () => {
      res.writeHead(200, { 'content-type': 'application/json' });
      res.end('{"ok":true}');
    });
  });
  hook.listen(0, '127.0.0.1');
  await once(hook, 'listening');
  return {
    url: `http://127.0.0.1:${(hook.address() as AddressInfo).port}/hook`,
    calls,
    close: () => new Promise<void>((resolve) => hook.close(() => resolve())),
  };
}

describe('OpenTelemetry traces', () => {
  let receiver: OtlpReceiver;
  let server: TestServer;
  let hook: Awaited<ReturnType<typeof startHook>>;

  beforeAll(async () => {
    [receiver, hook] = await Promise.all([startOtlpReceiver(), startHook()]);
    server = await startTestServer({
      env: {
        OTEL_EXPORTER_OTLP_ENDPOINT: receiver.endpoint,
        OTEL_EXPORTER_OTLP_PROTOCOL: 'http/json',
        OTEL_BSP_SCHEDULE_DELAY: '20',
        FUNCTION_WEBHOOK_ALLOWLIST: '127.0.0.1',
      },
    });
  });
  afterAll(async () => {
    await server.close();
    await Promise.all([receiver.close(), hook.close()]);
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

  it('runs a function in an execute_tool span whose traceparent the webhook call carries on', async () => {
    const parameters = { type: 'object', properties: { item: { type: 'string' } }, required: ['item'] };
    const description = 'Place an order for an item';
    await server.data(TracedRegisterFunction, {
      input: { name: 'order_traced', description, parameters, webhookUrl: hook.url },
    });
    await server.data(TracedExecuteFunction, {
      input: { name: 'order_traced', arguments: { item: 'book' } },
    });
    const trace = await receiver.trace('mutation.TracedExecuteFunction', (spans) => spans.length >= 2);
    const [operation] = trace;
    const tool = trace.find((span) => span.name === 'execute_tool order_traced');
    expect(tool).toMatchObject({
      parentSpanId: operation.spanId,
      kind: 1,
      attributes: {
        'gen_ai.operation.name': 'execute_tool',
        'gen_ai.tool.name': 'order_traced',
        'gen_ai.tool.type': 'function',
        'gen_ai.tool.description': description,
      },
    });
    expect(hook.calls.at(-1)?.traceparent).toBe(`00-${tool?.traceId}-${tool?.spanId}-01`);
  });

  it('traces a context trim with its strategy, limit and what it removed', async () => {
    const { createConversation } = await server.data(TracedConversation, { input: { title: 'trim' } });
    const conversationId = createConversation.id;
    for (const content of ['first question '.repeat(40), 'first answer '.repeat(40), 'second question']) {
      await server.data(TracedAddMessage, { input: { conversationId, role: 'USER', content } });
    }
    const { trimContext } = await server.data(TracedTrim, {
      input: { conversationId, maxTokens: 50, strategy: 'DROP_OLDEST' },
    });
    const trace = await receiver.trace('mutation.TracedTrim', (spans) => spans.length >= 2);
    const [operation] = trace;
    const [trim] = childrenOf(trace, operation);
    expect(trim).toMatchObject({
      name: 'trim_context',
      attributes: {
        'agent_platform.context.strategy': 'drop_oldest',
        'agent_platform.context.limit_tokens': 50,
        'agent_platform.context.removed_messages': trimContext.removedCount,
        'agent_platform.context.summarized': false,
        'agent_platform.context.tokens': trimContext.tokenCount,
      },
    });
    expect(trimContext.removedCount).toBeGreaterThan(0);
  });
});
