import { Ajv } from 'ajv';
import OpenAI from 'openai';
import { describe, expect, it } from 'vitest';
import { useSimulator } from './support.js';

const schema = {
  type: 'object',
  properties: {
    city: { type: 'string' },
    nights: { type: 'integer', minimum: 2 },
    tags: { type: 'array', items: { type: 'string' }, minItems: 2 },
    tier: { enum: ['budget', 'luxury'] },
  },
  required: ['city', 'nights', 'tags', 'tier'],
  additionalProperties: false,
};
const messages = [{ role: 'user' as const, content: 'Plan a trip to Lisbon' }];
const jsonSchema = (extra: Record<string, unknown> = {}) => ({
  type: 'json_schema' as const,
  json_schema: { name: 'trip', schema, strict: true, ...extra },
});

async function badRequest(promise: Promise<unknown>) {
  const error = await promise.then(
    () => null,
    (caught: unknown) => caught,
  );
  expect(error).toBeInstanceOf(OpenAI.BadRequestError);
  return (error as InstanceType<typeof OpenAI.BadRequestError>).error as Record<string, unknown>;
}

describe('simulator response_format', () => {
  const ctx = useSimulator();

  it('replies with JSON that follows a json_schema, in JSON and in streams alike', async () => {
    const request = { model: 'gpt-4o', messages, response_format: jsonSchema() };
    const completion = await ctx.client.chat.completions.create(request);
    const content = completion.choices[0]?.message.content ?? '';
    const reply = JSON.parse(content);
    expect(new Ajv().validate(schema, reply)).toBe(true);
    expect(reply.tags).toHaveLength(2);
    const stream = await ctx.client.chat.completions.create({ ...request, stream: true });
    let streamed = '';
    for await (const chunk of stream) streamed += chunk.choices[0]?.delta.content ?? '';
    expect(streamed).toBe(content);
  });

  it('wraps the reply in a JSON object in JSON mode, when the messages mention JSON', async () => {
    const completion = await ctx.client.chat.completions.create({
      model: 'gpt-4o',
      messages: [{ role: 'user', content: 'Answer in JSON: plan a trip' }],
      response_format: { type: 'json_object' },
    });
    expect(JSON.parse(completion.choices[0]?.message.content ?? '')).toEqual({
      reply: 'Simulated reply to: Answer in JSON: plan a trip',
    });
  });

  it('refuses JSON mode when no message mentions JSON, as OpenAI does', async () => {
    const error = await badRequest(
      ctx.client.chat.completions.create({
        model: 'gpt-4o',
        messages,
        response_format: { type: 'json_object' },
      }),
    );
    expect(error).toMatchObject({
      message:
        "'messages' must contain the word 'json' in some form, to use 'response_format' of type 'json_object'.",
      type: 'invalid_request_error',
      param: 'messages',
    });
  });

  it('refuses an unknown type, a missing json_schema and a bad name with the param named', async () => {
    const create = (responseFormat: unknown) =>
      ctx.client.chat.completions.create({
        model: 'gpt-4o',
        messages,
        response_format: responseFormat as { type: 'text' },
      });
    expect(await badRequest(create({ type: 'object' }))).toMatchObject({
      message: "Invalid value: 'object'. Supported values are: 'json_object', 'json_schema', and 'text'.",
      param: 'response_format.type',
      code: 'invalid_value',
    });
    expect(await badRequest(create({ type: 'json_schema' }))).toMatchObject({
      param: 'response_format.json_schema',
      code: 'missing_required_parameter',
    });
    expect(await badRequest(create(jsonSchema({ name: 'trip plan' })))).toMatchObject({
      param: 'response_format.json_schema.name',
      code: 'invalid_value',
    });
  });

  it("refuses a strict schema that leaves additionalProperties open or a property optional, in OpenAI's words", async () => {
    const open = { ...schema, additionalProperties: undefined };
    expect(
      await badRequest(
        ctx.client.chat.completions.create({
          model: 'gpt-4o',
          messages,
          response_format: jsonSchema({ schema: open }),
        }),
      ),
    ).toMatchObject({
      message:
        "Invalid schema for response_format 'trip': In context=(), 'additionalProperties' is required to be supplied and to be false.",
      param: 'response_format',
    });
    const optional = { ...schema, required: ['city'] };
    const error = await badRequest(
      ctx.client.chat.completions.create({
        model: 'gpt-4o',
        messages,
        response_format: jsonSchema({ schema: optional }),
      }),
    );
    expect(error.message).toMatch(/'required' is required to be supplied .* Missing 'nights'\.$/);
    const loose = await ctx.client.chat.completions.create({
      model: 'gpt-4o',
      messages,
      response_format: jsonSchema({ schema: optional, strict: false }),
    });
    expect(loose.choices[0]?.message.content).toBeTruthy();
  });

  it('refuses with message.refusal, and delta.refusal in streams, under the refusal fault', async () => {
    ctx.sim.injectFault({ type: 'refusal' }, 2);
    const completion = await ctx.client.chat.completions.create({ model: 'gpt-4o', messages });
    expect(completion.choices[0]?.message).toMatchObject({
      content: null,
      refusal: "I'm sorry, but I can't help with that request.",
    });
    expect(completion.usage?.completion_tokens).toBeGreaterThan(0);
    const stream = await ctx.client.chat.completions.create({ model: 'gpt-4o', messages, stream: true });
    let refusal = '';
    let content = '';
    for await (const chunk of stream) {
      refusal += chunk.choices[0]?.delta.refusal ?? '';
      content += chunk.choices[0]?.delta.content ?? '';
    }
    expect(refusal).toBe(completion.choices[0]?.message.refusal);
    expect(content).toBe('');
  });
});
