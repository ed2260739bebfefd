import type { ChatCompletionChunk } from 'openai/resources/chat/completions';
import { describe, expect, it } from 'vitest';
import { ModelTable, TokenCounter } from '../../src/tokens/index.js';
import { purchaseTool, useSimulator } from './support.js';

const counter = new TokenCounter(new ModelTable());
const messages = [
  { role: 'system' as const, content: 'You are a helpful assistant.' },
  { role: 'user' as const, content: 'What is the capital of France?' },
];

async function collect(stream: AsyncIterable<ChatCompletionChunk>): Promise<ChatCompletionChunk[]> {
  const chunks: ChatCompletionChunk[] = [];
  for await (const chunk of stream) chunks.push(chunk);
  return chunks;
}

describe('simulator chat completions', () => {
  const ctx = useSimulator();

  it('replies with text derived from the last user message', async () => {
    const completion = await ctx.client.chat.completions.create({ model: 'gpt-4o', messages });
    expect(completion.object).toBe('chat.completion');
    expect(completion.id).toMatch(/^chatcmpl-/);
    expect(completion.model).toBe('gpt-4o');
    expect(completion.choices[0]?.message.content).toBe('Simulated reply to: What is the capital of France?');
    expect(completion.choices[0]?.finish_reason).toBe('stop');
  });

  it('gives the same reply to the same request', async () => {
    const first = await ctx.client.chat.completions.create({ model: 'gpt-4o', messages });
    const second = await ctx.client.chat.completions.create({ model: 'gpt-4o', messages });
    expect(second.choices[0]?.message.content).toBe(first.choices[0]?.message.content);
  });

  it('streams the same text as the JSON response', async () => {
    const completion = await ctx.client.chat.completions.create({ model: 'gpt-4o', messages });
    const chunks = await collect(
      await ctx.client.chat.completions.create({ model: 'gpt-4o', messages, stream: true }),
    );
    const streamed = chunks.map((chunk) => chunk.choices[0]?.delta.content ?? '').join('');
    expect(streamed).toBe(completion.choices[0]?.message.content);
  });

  it('streams a role chunk, several content chunks and a final chunk with finish_reason', async () => {
    const chunks = await collect(
      await ctx.client.chat.completions.create({ model: 'gpt-4o', messages, stream: true }),
    );
    expect(chunks[0]?.object).toBe('chat.completion.chunk');
    expect(chunks[0]?.choices[0]?.delta).toEqual({ role: 'assistant', content: '' });
    const content = chunks.filter((chunk) => chunk.choices[0]?.delta.content);
    expect(content.length).toBeGreaterThan(3);
    expect(chunks.at(-1)?.choices[0]).toMatchObject({ delta: {}, finish_reason: 'stop' });
    expect(new Set(chunks.map((chunk) => chunk.id)).size).toBe(1);
  });

  it('ends the stream with a usage chunk whose prompt_tokens equal TokenCounter.countRequest', async () => {
    const chunks = await collect(
      await ctx.client.chat.completions.create({
        model: 'gpt-4o',
        messages,
        stream: true,
        stream_options: { include_usage: true },
      }),
    );
    const last = chunks.at(-1);
    const text = chunks.map((chunk) => chunk.choices[0]?.delta.content ?? '').join('');
    expect(last?.choices).toEqual([]);
    expect(last?.usage).toEqual({
      prompt_tokens: await counter.countRequest({ model: 'gpt-4o', messages }),
      completion_tokens: await counter.countText(text, 'gpt-4o'),
      total_tokens:
        (await counter.countRequest({ model: 'gpt-4o', messages })) +
        (await counter.countText(text, 'gpt-4o')),
    });
  });

  it('sends no usage chunk unless include_usage is set', async () => {
    const chunks = await collect(
      await ctx.client.chat.completions.create({ model: 'gpt-4o', messages, stream: true }),
    );
    expect(chunks.every((chunk) => chunk.choices.length === 1 && !chunk.usage)).toBe(true);
  });

  it('counts prompt tokens with the tool definitions like TokenCounter.countRequest', async () => {
    const completion = await ctx.client.chat.completions.create({
      model: 'gpt-4',
      messages,
      tools: [purchaseTool],
      tool_choice: 'none',
    });
    const tools = [{ ...purchaseTool.function }];
    expect(completion.usage?.prompt_tokens).toBe(
      await counter.countRequest({ model: 'gpt-4', messages, tools }),
    );
  });

  it('truncates the reply to max_tokens with finish_reason length', async () => {
    const completion = await ctx.client.chat.completions.create({ model: 'gpt-4o', messages, max_tokens: 4 });
    expect(completion.choices[0]?.finish_reason).toBe('length');
    const content = completion.choices[0]?.message.content ?? '';
    expect(content.length).toBeGreaterThan(0);
    expect('Simulated reply to: What is the capital of France?'.startsWith(content)).toBe(true);
    expect(completion.usage?.completion_tokens).toBe(await counter.countText(content, 'gpt-4o'));
    expect(completion.usage?.completion_tokens).toBeLessThanOrEqual(4);
  });

  it('honours max_completion_tokens in streams too', async () => {
    const chunks = await collect(
      await ctx.client.chat.completions.create({
        model: 'gpt-4o',
        messages,
        max_completion_tokens: 2,
        stream: true,
      }),
    );
    expect(chunks.at(-1)?.choices[0]?.finish_reason).toBe('length');
  });

  it('logs each request with its body, stream flag, headers and final status', async () => {
    await ctx.client.chat.completions.create({ model: 'gpt-4o', messages, stream: true }).then(collect);
    const request = await ctx.sim.waitFor((r) => r.status === 'completed');
    expect(request.body).toMatchObject({ model: 'gpt-4o', messages, stream: true });
    expect(request.stream).toBe(true);
    expect(request.headers.authorization).toBe('Bearer test');
    expect(request.chunksSent).toBeGreaterThan(3);
  });

  it('lists the model table at GET /v1/models', async () => {
    const ids: string[] = [];
    for await (const model of ctx.client.models.list()) ids.push(model.id);
    expect(ids).toEqual(expect.arrayContaining(['gpt-4o', 'gpt-4o-mini', 'gpt-4', 'o3-mini']));
  });
});

describe('simulator with replyWords', () => {
  const ctx = useSimulator({ replyWords: 50 });

  it('replies with exactly that many words, one chunk each', async () => {
    const chunks = await collect(
      await ctx.client.chat.completions.create({ model: 'gpt-4o', messages, stream: true }),
    );
    const content = chunks.map((chunk) => chunk.choices[0]?.delta.content).filter(Boolean);
    expect(content).toHaveLength(50);
    expect(content.join('').split(' ')).toHaveLength(50);
  });

  it('derives the words from the prompt', async () => {
    const reply = async (content: string) =>
      (await ctx.client.chat.completions.create({ model: 'gpt-4o', messages: [{ role: 'user', content }] }))
        .choices[0]?.message.content;
    expect(await reply('first prompt')).toBe(await reply('first prompt'));
    expect(await reply('first prompt')).not.toBe(await reply('second prompt'));
  });
});
