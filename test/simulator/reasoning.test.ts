import { describe, expect, it } from 'vitest';
import { BUILTIN_MODELS, isReasoningModel } from '../../src/tokens/index.js';
import { useSimulator } from './support.js';

const REASONING_MODELS = BUILTIN_MODELS.filter(isReasoningModel).map((model) => model.id);
const messages = [{ role: 'user', content: 'What is the capital of France?' }];

describe('simulator: reasoning models', () => {
  const ctx = useSimulator();

  const post = async (body: Record<string, unknown>) => {
    const response = await fetch(`${ctx.sim.url}/chat/completions`, {
      method: 'POST',
      headers: { 'content-type': 'application/json', authorization: 'Bearer test' },
      body: JSON.stringify(body),
    });
    return { status: response.status, body: (await response.json()) as Record<string, unknown> };
  };

  it.each(REASONING_MODELS)(
    'refuses the old request shape (max_tokens, temperature) for %s as OpenAI does',
    async (model) => {
      const refused = await post({ model, messages, max_tokens: 2000, temperature: 0.7 });
      expect(refused).toEqual({
        status: 400,
        body: {
          error: {
            message:
              "Unsupported parameter: 'max_tokens' is not supported with this model. Use 'max_completion_tokens' instead.",
            type: 'invalid_request_error',
            param: 'max_tokens',
            code: 'unsupported_parameter',
          },
        },
      });
    },
  );

  it.each(REASONING_MODELS)(
    'refuses a non-default temperature for %s with the API wording',
    async (model) => {
      const refused = await post({ model, messages, max_completion_tokens: 2000, temperature: 0.7 });
      expect(refused).toEqual({
        status: 400,
        body: {
          error: {
            message:
              "Unsupported value: 'temperature' does not support 0.7 with this model. Only the default (1) value is supported.",
            type: 'invalid_request_error',
            param: 'temperature',
            code: 'unsupported_value',
          },
        },
      });
    },
  );

  it('refuses non-default top_p and penalties, and accepts their defaults', async () => {
    for (const [param, value] of [
      ['top_p', 0.5],
      ['frequency_penalty', 0.5],
      ['presence_penalty', -1],
    ] as const) {
      const refused = await post({ model: 'o3', messages, [param]: value });
      expect(refused.status).toBe(400);
      expect(refused.body.error).toMatchObject({ param, code: 'unsupported_value' });
    }
    const accepted = await post({ model: 'o3', messages, temperature: 1, top_p: 1, presence_penalty: 0 });
    expect(accepted.status).toBe(200);
  });

  it('accepts sampling parameters at reasoning effort none', async () => {
    const accepted = await post({ model: 'gpt-5.1', messages, reasoning_effort: 'none', temperature: 0.2 });
    expect(accepted.status).toBe(200);
  });

  it('refuses an undocumented effort, listing the supported values', async () => {
    const refused = await post({ model: 'gpt-5.1', messages, reasoning_effort: 'minimal' });
    expect(refused).toEqual({
      status: 400,
      body: {
        error: {
          message:
            "Unsupported value: 'minimal' is not supported with the 'gpt-5.1' model. Supported values are: " +
            "'none', 'low', 'medium', and 'high'.",
          type: 'invalid_request_error',
          param: 'reasoning_effort',
          code: 'unsupported_value',
        },
      },
    });
  });

  it('refuses reasoning_effort for a model that does not reason', async () => {
    const refused = await post({ model: 'gpt-4o', messages, reasoning_effort: 'low' });
    expect(refused.status).toBe(400);
    expect(refused.body.error).toMatchObject({ param: 'reasoning_effort', code: 'unsupported_parameter' });
  });

  it('still takes max_tokens and sampling parameters from models that do not reason', async () => {
    const accepted = await post({ model: 'gpt-4o', messages, max_tokens: 50, temperature: 0.7 });
    expect(accepted.status).toBe(200);
    expect(accepted.body.usage).not.toHaveProperty('completion_tokens_details');
  });

  it('reports reasoning tokens as part of the completion tokens, in JSON and in streams', async () => {
    const json = await ctx.client.chat.completions.create({
      model: 'o4-mini',
      messages: [{ role: 'user', content: 'Plan a trip' }],
      reasoning_effort: 'high',
    });
    const reasoning = json.usage?.completion_tokens_details?.reasoning_tokens ?? 0;
    expect(reasoning).toBeGreaterThan(0);
    expect(json.usage?.completion_tokens).toBeGreaterThan(reasoning);

    const stream = await ctx.client.chat.completions.create({
      model: 'o4-mini',
      messages: [{ role: 'user', content: 'Plan a trip' }],
      reasoning_effort: 'high',
      stream: true,
      stream_options: { include_usage: true },
    });
    let streamed: number | undefined;
    for await (const chunk of stream) streamed ??= chunk.usage?.completion_tokens_details?.reasoning_tokens;
    expect(streamed).toBe(reasoning);
  });

  it('counts reasoning against max_completion_tokens: a limit the reasoning uses up leaves no text', async () => {
    const response = await ctx.client.chat.completions.create({
      model: 'o3',
      messages: [{ role: 'user', content: 'Plan a trip' }],
      reasoning_effort: 'high',
      max_completion_tokens: 100,
    });
    expect(response.choices[0]?.finish_reason).toBe('length');
    expect(response.choices[0]?.message.content).toBe('');
    expect(response.usage?.completion_tokens_details?.reasoning_tokens).toBeGreaterThan(0);
  });

  it('lists the model table on GET /v1/models', async () => {
    const ids: string[] = [];
    for await (const model of ctx.client.models.list()) ids.push(model.id);
    expect(ids).toEqual(BUILTIN_MODELS.map((model) => model.id));
  });
});
