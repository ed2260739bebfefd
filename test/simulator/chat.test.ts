import type { ChatCompletionChunk } from 'openai/resources/chat/completions';
import { describe, expect, it } from 'vitest';
import { ModelTable, TokenCounter } from '../../src/tokens/index.js';
import { NAMED_MESSAGES, WEATHER_TOOL_CALL, WEATHER_TOOL_REQUEST } from '../tokens/cookbook.js';
import { useSimulator } from './support.js';

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

  it('ends the stream with a usage chunk counting the prompt and the streamed reply', async () => {
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
    expect(text).toBe('Simulated reply to: What is the capital of France?');
    // (3 + 1 + 6) + (3 + 1 + 7) + 3 of reply priming; the reply is 12 o200k tokens.
    expect(last?.usage).toEqual({ prompt_tokens: 24, completion_tokens: 12, total_tokens: 36 });
  });

  it('sends no usage chunk unless include_usage is set', async () => {
    const chunks = await collect(
      await ctx.client.chat.completions.create({ model: 'gpt-4o', messages, stream: true }),
    );
    expect(chunks.every((chunk) => chunk.choices.length === 1 && !chunk.usage)).toBe(true);
  });

  it.each(['gpt-4', 'gpt-4o'] as const)(
    'counts prompt tokens with names as the OpenAI API did in the cookbook (%s)',
    async (model) => {
      const completion = await ctx.client.chat.completions.create({
        model,
        messages: [...NAMED_MESSAGES.messages],
      });
      expect(completion.usage?.prompt_tokens).toBe(NAMED_MESSAGES.promptTokens[model]);
    },
  );

  it.each(['gpt-4', 'gpt-4o'] as const)(
    'counts prompt tokens with a tool definition as the OpenAI API did in the cookbook (%s)',
    async (model) => {
      const tools = [{ type: 'function' as const, function: WEATHER_TOOL_REQUEST.tool }];
      const request = {
        model,
        messages: [...WEATHER_TOOL_REQUEST.messages],
        tools,
        tool_choice: 'none' as const,
      };
      const completion = await ctx.client.chat.completions.create(request);
      expect(completion.usage?.prompt_tokens).toBe(WEATHER_TOOL_REQUEST.promptTokens[model]);

      const { call, result, tokens } = WEATHER_TOOL_CALL;
      const withCall = await ctx.client.chat.completions.create({
        ...request,
        messages: [
          ...request.messages,
          {
            role: 'assistant',
            content: null,
            tool_calls: [
              {
                id: call.id,
                type: 'function',
                function: { name: call.functionName, arguments: call.arguments },
              },
            ],
          },
          { role: 'tool', tool_call_id: call.id, content: result },
        ],
      });
      expect(withCall.usage?.prompt_tokens).toBe(
        WEATHER_TOOL_REQUEST.promptTokens[model] + tokens.call + tokens.result,
      );
    },
  );

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
    expect(request.headers['content-type']).toBe('application/json');
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
