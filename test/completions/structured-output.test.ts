import { Ajv } from 'ajv';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { CreateConversation } from '../conversations/documents.js';
import { wsClient } from '../support/clients.js';
import { startTestServer, type TestServer } from '../support/server.js';
import { ChatStructured, Messages, SendStructured } from './documents.js';

let server: TestServer;
beforeAll(async () => {
  server = await startTestServer({ env: { OPENAI_MAX_RETRIES: '0' } });
});
afterAll(() => server.close());
afterEach(() => server.simulator.clearFaults());

const schema = {
  type: 'object',
  properties: {
    merchant: { type: 'string' },
    amount: { type: 'number' },
    approved: { type: 'boolean' },
  },
  required: ['merchant', 'amount', 'approved'],
  additionalProperties: false,
};
const jsonSchema = { type: 'JSON_SCHEMA' as const, jsonSchema: { name: 'decision', schema, strict: true } };

const newConversation = async () =>
  (await server.data(CreateConversation, { input: { title: 'structured' } })).createConversation.id;

describe('responseFormat JSON_SCHEMA', () => {
  it('sends response_format upstream and exposes the validated reply as Completion.parsed', async () => {
    const conversationId = await newConversation();
    const { sendMessage } = await server.data(SendStructured, {
      input: { conversationId, content: 'Decide on the Amazon order', responseFormat: jsonSchema },
    });
    expect(sendMessage.status).toBe('COMPLETED');
    expect(sendMessage.parsed).toEqual(JSON.parse(sendMessage.message?.content ?? ''));
    expect(new Ajv().validate(schema, sendMessage.parsed)).toBe(true);
    expect(sendMessage.refusal).toBeNull();
    const upstream = server.simulator.requests.at(-1);
    expect(upstream?.body.response_format).toEqual({
      type: 'json_schema',
      json_schema: { name: 'decision', schema, strict: true },
    });
  });

  it('streams the reply as text deltas in chat and ends with the parsed value', async () => {
    const conversationId = await newConversation();
    const client = wsClient(server.wsUrl);
    const events = (
      await client
        .subscribe(ChatStructured, {
          input: { conversationId, content: 'Stream a decision', responseFormat: jsonSchema },
        })
        .all()
    ).map((event) => event.chat);
    await client.close();
    const text = events.map((event) => (event.__typename === 'ContentDelta' ? event.text : '')).join('');
    const done = events.at(-1);
    if (done?.__typename !== 'CompletionDone') throw new Error(`ended with ${done?.__typename}`);
    expect(events.filter((event) => event.__typename === 'ContentDelta').length).toBeGreaterThan(1);
    expect(done.completion.parsed).toEqual(JSON.parse(text));
  });

  it('refuses a schema that is not a JSON Schema with BAD_USER_INPUT, storing nothing', async () => {
    const conversationId = await newConversation();
    for (const [bad, field] of [
      [
        { type: 'object', properties: { amount: { type: 'money' } } },
        'input.responseFormat.jsonSchema.schema',
      ],
      [{ type: 'array', items: {} }, 'input.responseFormat.jsonSchema.schema'],
      [
        { type: 'object', properties: { code: { type: 'string', pattern: '^(a+)+$' } } },
        'input.responseFormat.jsonSchema.schema',
      ],
    ] as const) {
      const response = await server.request(SendStructured, {
        input: {
          conversationId,
          content: 'x',
          responseFormat: { type: 'JSON_SCHEMA', jsonSchema: { name: 'x', schema: bad } },
        },
      });
      expect(response.errors?.[0]?.extensions).toMatchObject({ code: 'BAD_USER_INPUT', field });
    }
    const missing = await server.request(SendStructured, {
      input: { conversationId, content: 'x', responseFormat: { type: 'JSON_SCHEMA' } },
    });
    expect(missing.errors?.[0]?.extensions).toMatchObject({
      code: 'BAD_USER_INPUT',
      field: 'input.responseFormat.jsonSchema',
    });
    const { conversation } = await server.data(Messages, { id: conversationId });
    expect(conversation.messages.edges).toHaveLength(0);
  });

  it('fails a reply that does not validate with INVALID_STRUCTURED_OUTPUT, keeping the stored reply', async () => {
    const conversationId = await newConversation();
    // Too few tokens for the whole object: the reply is cut short (finish_reason length), so it is not JSON.
    const response = await server.request(SendStructured, {
      input: { conversationId, content: 'A long decision, please', responseFormat: jsonSchema, maxTokens: 6 },
    });
    expect(response.errors?.[0]?.extensions?.code).toBe('INVALID_STRUCTURED_OUTPUT');
    expect(response.errors?.[0]?.message).toMatch(/not valid JSON/);
    const { conversation } = await server.data(Messages, { id: conversationId });
    const reply = conversation.messages.edges.at(-1)?.node;
    expect(reply).toMatchObject({ role: 'ASSISTANT', status: 'COMPLETE' });
    expect(reply?.content?.startsWith('{')).toBe(true);
  });

  it('passes the upstream refusal of a strict schema it cannot honour on as UPSTREAM_INVALID_REQUEST', async () => {
    const conversationId = await newConversation();
    const open = { ...schema, additionalProperties: true };
    const response = await server.request(SendStructured, {
      input: {
        conversationId,
        content: 'x',
        responseFormat: { type: 'JSON_SCHEMA', jsonSchema: { name: 'decision', schema: open, strict: true } },
      },
    });
    expect(response.errors?.[0]?.extensions?.code).toBe('UPSTREAM_INVALID_REQUEST');
    expect(response.errors?.[0]?.message).toContain("'additionalProperties' is required to be supplied");
  });
});

describe('responseFormat JSON_OBJECT', () => {
  it('parses a JSON object reply', async () => {
    const conversationId = await newConversation();
    const { sendMessage } = await server.data(SendStructured, {
      input: { conversationId, content: 'Reply in JSON please', responseFormat: { type: 'JSON_OBJECT' } },
    });
    expect(sendMessage.parsed).toEqual({ reply: 'Simulated reply to: Reply in JSON please' });
  });
});

describe('a refusal', () => {
  it('is shown as Completion.refusal and Message.refusal, not as content, in sendMessage', async () => {
    server.simulator.injectFault({ type: 'refusal' });
    const conversationId = await newConversation();
    const { sendMessage } = await server.data(SendStructured, {
      input: { conversationId, content: 'Something refusable', responseFormat: jsonSchema },
    });
    expect(sendMessage).toMatchObject({
      status: 'COMPLETED',
      parsed: null,
      refusal: "I'm sorry, but I can't help with that request.",
      message: { content: null, refusal: "I'm sorry, but I can't help with that request." },
    });
  });

  it('streams no content deltas in chat and ends with the refusal', async () => {
    server.simulator.injectFault({ type: 'refusal' });
    const conversationId = await newConversation();
    const client = wsClient(server.wsUrl);
    const events = (
      await client.subscribe(ChatStructured, { input: { conversationId, content: 'Refuse this' } }).all()
    ).map((event) => event.chat);
    await client.close();
    expect(events.map((event) => event.__typename)).toEqual(['CompletionDone']);
    const [done] = events;
    if (done?.__typename !== 'CompletionDone') throw new Error('no CompletionDone');
    expect(done.completion).toMatchObject({
      refusal: expect.stringMatching(/^I'm sorry/),
      message: { content: null },
    });
  });

  it('goes back upstream as the earlier reply, so the conversation continues', async () => {
    server.simulator.injectFault({ type: 'refusal' });
    const conversationId = await newConversation();
    await server.data(SendStructured, { input: { conversationId, content: 'First ask' } });
    const { sendMessage } = await server.data(SendStructured, {
      input: { conversationId, content: 'Second ask' },
    });
    expect(sendMessage.status).toBe('COMPLETED');
    const sent = server.simulator.requests.at(-1)?.body.messages as { role: string; content: string }[];
    expect(sent.at(-2)).toEqual({
      role: 'assistant',
      content: "I'm sorry, but I can't help with that request.",
    });
  });
});

describe('the README example', () => {
  it('works as written, with the schema as an inline literal in the document', async () => {
    const conversationId = await newConversation();
    const query = `mutation {
      sendMessage(input: {
        conversationId: "${conversationId}"
        content: "Should I approve the $120 Amazon order?"
        responseFormat: { type: JSON_SCHEMA, jsonSchema: { name: "decision", strict: true, schema: {
          type: "object", additionalProperties: false, required: ["approve", "reason"]
          properties: { approve: { type: "boolean" }, reason: { type: "string" } } } } }
      }) { status parsed refusal }
    }`;
    const response = await fetch(server.url, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify({ query }),
    });
    const body = (await response.json()) as { data?: { sendMessage: unknown }; errors?: unknown };
    expect(body.errors).toBeUndefined();
    expect(body.data?.sendMessage).toEqual({
      status: 'COMPLETED',
      parsed: { approve: true, reason: expect.any(String) },
      refusal: null,
    });
  });
});
