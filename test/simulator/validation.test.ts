import OpenAI, { type APIError } from 'openai';
import type { ChatCompletionCreateParamsNonStreaming } from 'openai/resources/chat/completions';
import { describe, expect, it } from 'vitest';
import { purchaseTool, useSimulator } from './support.js';

describe('simulator request validation', () => {
  const ctx = useSimulator();

  async function rejection(body: unknown): Promise<APIError> {
    const error = await ctx.client.chat.completions
      .create(body as ChatCompletionCreateParamsNonStreaming)
      .catch((e: unknown) => e);
    expect(error).toBeInstanceOf(OpenAI.BadRequestError);
    return error as APIError;
  }

  const assistantCall = {
    role: 'assistant',
    content: null,
    tool_calls: [
      { id: 'call_1', type: 'function', function: { name: 'process_transaction', arguments: '{}' } },
    ],
  };

  it('rejects a tool message that does not follow an assistant tool call', async () => {
    const error = await rejection({
      model: 'gpt-4o',
      messages: [
        { role: 'user', content: 'hi' },
        { role: 'tool', tool_call_id: 'call_1', content: 'orphan' },
      ],
    });
    expect(error.message).toContain("messages with role 'tool' must be a response to a preceeding message");
    expect(error.param).toBe('messages[1].role');
    expect(error.type).toBe('invalid_request_error');
  });

  it('rejects a tool message whose id is not among the preceding tool calls', async () => {
    const error = await rejection({
      model: 'gpt-4o',
      messages: [
        { role: 'user', content: 'hi' },
        assistantCall,
        { role: 'tool', tool_call_id: 'call_1', content: 'ok' },
        { role: 'tool', tool_call_id: 'call_2', content: 'ok' },
      ],
    });
    expect(error.param).toBe('messages[3].tool_call_id');
  });

  it('rejects an assistant tool call without a tool result', async () => {
    const error = await rejection({
      model: 'gpt-4o',
      messages: [{ role: 'user', content: 'hi' }, assistantCall, { role: 'user', content: 'again' }],
    });
    expect(error.message).toContain('did not have response messages: call_1');
    expect(error.param).toBe('messages[1].role');
  });

  it('rejects a request without a model', async () => {
    const error = await rejection({ messages: [{ role: 'user', content: 'hi' }] });
    expect(error.message).toContain('you must provide a model parameter');
  });

  it('rejects a request without messages', async () => {
    const error = await rejection({ model: 'gpt-4o' });
    expect(error.message).toContain("Missing required parameter: 'messages'");
    expect(error.code).toBe('missing_required_parameter');
  });

  it('rejects an empty messages array', async () => {
    const error = await rejection({ model: 'gpt-4o', messages: [] });
    expect(error.code).toBe('empty_array');
    expect(error.param).toBe('messages');
  });

  it('rejects an unknown role', async () => {
    const error = await rejection({ model: 'gpt-4o', messages: [{ role: 'robot', content: 'hi' }] });
    expect(error.param).toBe('messages[0].role');
  });

  it('rejects a tool_choice naming a function that is not in tools', async () => {
    const error = await rejection({
      model: 'gpt-4o',
      messages: [{ role: 'user', content: 'hi' }],
      tools: [purchaseTool],
      tool_choice: { type: 'function', function: { name: 'missing_tool' } },
    });
    expect(error.param).toBe('tool_choice');
    expect(error.message).toContain("function 'missing_tool' not found");
  });

  it('rejects a tool_choice without tools', async () => {
    const error = await rejection({
      model: 'gpt-4o',
      messages: [{ role: 'user', content: 'hi' }],
      tool_choice: 'auto',
    });
    expect(error.param).toBe('tool_choice');
  });

  it('rejects a request longer than the model context window', async () => {
    const error = await rejection({
      model: 'gpt-4',
      messages: [{ role: 'user', content: 'word '.repeat(9000) }],
    });
    expect(error.code).toBe('context_length_exceeded');
    expect(error.message).toContain("This model's maximum context length is 8192 tokens");
  });

  it('rejects a body that is not JSON', async () => {
    const response = await fetch(`${ctx.sim.url}/chat/completions`, { method: 'POST', body: '{not json' });
    expect(response.status).toBe(400);
    expect(await response.json()).toMatchObject({ error: { type: 'invalid_request_error' } });
  });

  it('answers unknown routes with an OpenAI-style 404', async () => {
    const response = await fetch(`${ctx.sim.url}/embeddings`, { method: 'POST', body: '{}' });
    expect(response.status).toBe(404);
    expect(await response.json()).toMatchObject({ error: { message: 'Invalid URL (POST /v1/embeddings)' } });
  });

  it('accepts a complete tool exchange', async () => {
    const completion = await ctx.client.chat.completions.create({
      model: 'gpt-4o',
      messages: [
        { role: 'user', content: 'hi' },
        {
          role: 'assistant',
          content: null,
          tool_calls: [
            { id: 'call_1', type: 'function', function: { name: 'process_transaction', arguments: '{}' } },
          ],
        },
        { role: 'tool', tool_call_id: 'call_1', content: 'done' },
      ],
    });
    expect(completion.choices[0]?.message.content).toBe(
      'Function results: process_transaction returned done.',
    );
  });
});
