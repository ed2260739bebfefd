import { once } from 'node:events';
import { createServer, type IncomingHttpHeaders } from 'node:http';
import type { AddressInfo } from 'node:net';
import { decodeGlobalID } from '@pothos/plugin-relay';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Env } from '../../src/config.js';
import { TrimContext } from '../conversations/context-support.js';
import { AddMessage } from '../conversations/documents.js';
import { CreateToolConversation, ExecuteFunction, RegisterFunction } from '../functions/documents.js';
import { wsClient } from '../support/clients.js';
import { childrenOf, type OtlpReceiver, startOtlpReceiver } from '../support/otlp.js';
import { startTestServer, type TestServer } from '../support/server.js';
import { TracedToolChat, Viewer } from './documents.js';

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

/** A chat that calls validate_transaction once and then answers, over graphql-ws; its completion id and events. */
async function chatWithOneToolCall(server: TestServer) {
  const { createConversation } = await server.data(CreateToolConversation, { input: { title: 'traced' } });
  const client = wsClient(server.wsUrl);
  const events = await client
    .subscribe(TracedToolChat, {
      input: {
        conversationId: createConversation.id,
        content: 'Process a $100 purchase from Amazon',
        functions: ['validate_transaction'],
        functionCall: { name: 'validate_transaction' },
      },
    })
    .all();
  await client.close();
  const done = events.find((event) => event.chat.__typename === 'CompletionDone')?.chat;
  const toolCall = events.find((event) => event.chat.__typename === 'ToolCallDelta')?.chat;
  if (done?.__typename !== 'CompletionDone' || toolCall?.__typename !== 'ToolCallDelta')
    throw new Error(`unexpected events: ${JSON.stringify(events)}`);
  return { conversationId: decodeGlobalID(createConversation.id).id, done, toolCallId: toolCall.toolCallId };
}

/** The spans of a chat with one tool call: operation, run, the two model requests and the execution. */
async function toolChatTrace(receiver: OtlpReceiver, completionId: string) {
  const trace = await receiver.trace('subscription.TracedToolChat', (spans) =>
    spans.some(
      (span) =>
        span.name === 'invoke_agent' && span.attributes['agent_platform.completion.id'] === completionId,
    ),
  );
  const [operation] = trace;
  const [run] = childrenOf(trace, operation);
  if (!run) throw new Error('no run span');
  const chats = childrenOf(trace, run).filter((span) => span.name.startsWith('chat '));
  const [tool] = childrenOf(trace, run).filter((span) => span.name.startsWith('execute_tool '));
  return { operation, run, chats, tool };
}

/**
 * For the tests of a describe block: an OTLP receiver and the real server exporting to it (OTLP/JSON unless `env`
 * says otherwise, every 20 ms, so tests wait on data rather than on a timer).
 */
function tracedServer(env: (endpoint: string) => Partial<Record<keyof Env, string>>) {
  const traced = {} as { receiver: OtlpReceiver; server: TestServer };
  beforeAll(async () => {
    traced.receiver = await startOtlpReceiver();
    traced.server = await startTestServer({
      env: {
        OTEL_EXPORTER_OTLP_ENDPOINT: traced.receiver.endpoint,
        OTEL_EXPORTER_OTLP_PROTOCOL: 'http/json',
        OTEL_BSP_SCHEDULE_DELAY: '20',
        ...env(traced.receiver.endpoint),
      },
    });
  });
  afterAll(async () => {
    await traced.server.close();
    await traced.receiver.close();
  });
  return traced;
}

describe('OpenTelemetry traces', () => {
  const traced = tracedServer(() => ({ FUNCTION_WEBHOOK_ALLOWLIST: '127.0.0.1' }));
  let hook: Awaited<ReturnType<typeof startHook>>;
  beforeAll(async () => {
    hook = await startHook();
  });
  afterAll(() => hook.close());

  it('traces a GraphQL operation as a server span of agent-platform, under the traceparent the client sent', async () => {
    const { server, receiver } = traced;
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
    const { server, receiver } = traced;
    const client = wsClient(server.wsUrl, undefined, { traceparent: TRACEPARENT });
    await client
      .subscribe(TracedToolChat, { input: { conversationId: 'nope', content: 'hi' } })
      .completed.catch(() => {});
    await client.close();
    const [operation] = await receiver.trace(
      'subscription.TracedToolChat',
      ([root]) => root?.traceId === CALLER.traceId,
    );
    expect(operation).toMatchObject({ traceId: CALLER.traceId, parentSpanId: CALLER.spanId });
  });

  it('runs a function in an execute_tool span whose traceparent the webhook call carries on', async () => {
    const { server, receiver } = traced;
    const parameters = { type: 'object', properties: { item: { type: 'string' } }, required: ['item'] };
    const description = 'Place an order for an item';
    await server.data(RegisterFunction, {
      input: { name: 'order_traced', description, parameters, webhookUrl: hook.url },
    });
    await server.data(ExecuteFunction, {
      input: { name: 'order_traced', arguments: { item: 'book' } },
    });
    const trace = await receiver.trace('mutation.ExecuteFunction', (spans) => spans.length >= 2);
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
    const { server, receiver } = traced;
    const { createConversation } = await server.data(CreateToolConversation, { input: { title: 'trim' } });
    const conversationId = createConversation.id;
    for (const content of ['first question '.repeat(40), 'first answer '.repeat(40), 'second question']) {
      await server.data(AddMessage, { input: { conversationId, role: 'USER', content } });
    }
    const { trimContext } = await server.data(TrimContext, {
      input: { conversationId, maxTokens: 50, strategy: 'DROP_OLDEST' },
    });
    const trace = await receiver.trace('mutation.TrimContext', (spans) => spans.length >= 2);
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

  it("holds SUMMARIZE's own model request in the trim_context span", async () => {
    const { server, receiver } = traced;
    const { createConversation } = await server.data(CreateToolConversation, { input: { title: 'summary' } });
    const conversationId = createConversation.id;
    for (const content of [
      'an old question '.repeat(200),
      'an old answer '.repeat(200),
      'the newest question',
    ]) {
      await server.data(AddMessage, { input: { conversationId, role: 'USER', content } });
    }
    const { trimContext } = await server.data(TrimContext, {
      input: { conversationId, maxTokens: 700, strategy: 'SUMMARIZE' },
    });
    expect(trimContext.summary).not.toBeNull();
    const trace = await receiver.trace('mutation.TrimContext', (spans) =>
      spans.some((span) => span.name.startsWith('chat ')),
    );
    const [trim] = childrenOf(trace, trace[0]);
    expect(trim?.attributes['agent_platform.context.summarized']).toBe(true);
    expect(childrenOf(trace, trim ?? trace[0])).toEqual([
      expect.objectContaining({
        name: 'chat gpt-4.1-mini',
        attributes: expect.objectContaining({ 'gen_ai.operation.name': 'chat' }),
      }),
    ]);
  });

  it('traces a chat with one tool call as operation, invoke_agent run, two chat requests and one execute_tool', async () => {
    const { server, receiver } = traced;
    const { conversationId, done, toolCallId } = await chatWithOneToolCall(server);
    const completionId = decodeGlobalID(done.completion.id).id;
    const { operation, run, chats, tool } = await toolChatTrace(receiver, completionId);
    expect(operation).toMatchObject({ name: 'subscription.TracedToolChat', kind: 2, parentSpanId: '' });
    expect(run).toMatchObject({
      name: 'invoke_agent',
      kind: 1,
      attributes: {
        'gen_ai.operation.name': 'invoke_agent',
        'gen_ai.provider.name': 'openai',
        'gen_ai.request.model': 'gpt-4.1-mini',
        'gen_ai.conversation.id': conversationId,
        'gen_ai.usage.input_tokens': done.usage.promptTokens,
        'gen_ai.usage.output_tokens': done.usage.completionTokens,
        'gen_ai.response.finish_reasons': ['stop'],
      },
      status: { code: 0 },
    });
    expect(tool).toMatchObject({
      name: 'execute_tool validate_transaction',
      attributes: { 'gen_ai.tool.name': 'validate_transaction', 'gen_ai.tool.call.id': toolCallId },
    });
    const simulator = new URL(server.simulator.url);
    expect(chats).toHaveLength(2);
    for (const chat of chats) {
      expect(chat).toMatchObject({
        name: 'chat gpt-4.1-mini',
        kind: 3,
        attributes: {
          'gen_ai.operation.name': 'chat',
          'gen_ai.provider.name': 'openai',
          'gen_ai.system': 'openai',
          'gen_ai.request.model': 'gpt-4.1-mini',
          'gen_ai.response.model': expect.stringMatching(/^gpt-4\.1-mini/),
          'gen_ai.response.id': expect.any(String),
          'gen_ai.request.max_tokens': 2000,
          'gen_ai.request.temperature': 0.7,
          'gen_ai.request.stream': true,
          'gen_ai.conversation.id': conversationId,
          'server.address': simulator.hostname,
          'server.port': Number(simulator.port),
        },
      });
    }
    // The model asked for the call first, then answered with its result.
    const byStart = chats.map((chat) => chat.attributes['gen_ai.response.finish_reasons']);
    expect(byStart.sort()).toEqual([['stop'], ['tool_calls']]);
    const sum = (key: string) => chats.reduce((total, chat) => total + Number(chat.attributes[key]), 0);
    expect(sum('gen_ai.usage.input_tokens')).toBe(done.usage.promptTokens);
    expect(sum('gen_ai.usage.output_tokens')).toBe(done.usage.completionTokens);
  });

  it('records no message contents, tool arguments or results by default', async () => {
    const { server, receiver } = traced;
    const { done } = await chatWithOneToolCall(server);
    const { chats, tool } = await toolChatTrace(receiver, decodeGlobalID(done.completion.id).id);
    const recorded = [...chats, tool].flatMap((span) => Object.keys(span?.attributes ?? {}));
    expect(recorded).not.toContain('gen_ai.input.messages');
    expect(recorded).not.toContain('gen_ai.output.messages');
    expect(recorded).not.toContain('gen_ai.tool.call.arguments');
    expect(recorded).not.toContain('gen_ai.tool.call.result');
    expect(JSON.stringify([...chats, tool])).not.toContain('Amazon');
  });
});

describe('OpenTelemetry traces with OTEL_INSTRUMENTATION_GENAI_CAPTURE_MESSAGE_CONTENT=true', () => {
  const traced = tracedServer(() => ({ OTEL_INSTRUMENTATION_GENAI_CAPTURE_MESSAGE_CONTENT: 'true' }));

  it('records the messages sent and received, the tool arguments and the result', async () => {
    const { server, receiver } = traced;
    const { done, toolCallId } = await chatWithOneToolCall(server);
    const { chats, tool } = await toolChatTrace(receiver, decodeGlobalID(done.completion.id).id);
    const first = chats.find(
      (chat) => chat.attributes['gen_ai.response.finish_reasons']?.toString() === 'tool_calls',
    );
    const input = JSON.parse(String(first?.attributes['gen_ai.input.messages']));
    expect(input.at(-1)).toEqual({
      role: 'user',
      parts: [{ type: 'text', content: 'Process a $100 purchase from Amazon' }],
    });
    const output = JSON.parse(String(first?.attributes['gen_ai.output.messages']));
    expect(output).toEqual([
      {
        role: 'assistant',
        parts: [
          {
            type: 'tool_call',
            id: toolCallId,
            name: 'validate_transaction',
            arguments: { amount: 100, merchant: 'Amazon', currency: 'USD' },
          },
        ],
        finish_reason: 'tool_calls',
      },
    ]);
    // As the function got them: validated, with the schema's defaults filled in.
    expect(JSON.parse(String(tool?.attributes['gen_ai.tool.call.arguments']))).toEqual({
      amount: 100,
      merchant: 'Amazon',
      currency: 'USD',
      category: 'general',
    });
    expect(JSON.parse(String(tool?.attributes['gen_ai.tool.call.result']))).toHaveProperty('approved');
  });
});

describe('OpenTelemetry traces with the default protocol', () => {
  const traced = tracedServer((endpoint) => ({
    OTEL_EXPORTER_OTLP_PROTOCOL: '',
    OTEL_EXPORTER_OTLP_TRACES_ENDPOINT: `${endpoint}/ingest/traces`,
    OTEL_EXPORTER_OTLP_HEADERS: 'Authorization=Basic%20cGstbGY6c2stbGY=',
  }));

  it('POSTs OTLP protobuf to the traces endpoint as given, with OTEL_EXPORTER_OTLP_HEADERS', async () => {
    const { server, receiver } = traced;
    await server.data(Viewer, {});
    const sent = await receiver.firstExport();
    expect(sent).toMatchObject({
      path: '/ingest/traces',
      contentType: 'application/x-protobuf',
      headers: { authorization: 'Basic cGstbGY6c2stbGY=' },
    });
    // Protobuf keeps strings as UTF-8 bytes: the span and service names are there as written.
    expect(sent.body.includes('query.ObservabilityViewer')).toBe(true);
    expect(sent.body.includes('agent-platform')).toBe(true);
  });
});
