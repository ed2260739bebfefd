import type { ChatCompletionChunk, ChatCompletionMessageParam } from 'openai/resources/chat/completions';
import { describe, expect, it } from 'vitest';
import { purchaseTool, useSimulator, weatherTool } from './support.js';

const purchase = [{ role: 'user' as const, content: 'Process a $100 purchase from Amazon' }];

describe('simulator tool calls', () => {
  const ctx = useSimulator();

  function callsOf(completion: Awaited<ReturnType<typeof ctx.client.chat.completions.create>>) {
    if (!('choices' in completion)) throw new Error('expected a JSON completion');
    return (completion.choices[0]?.message.tool_calls ?? []).map((call) => {
      if (call.type !== 'function') throw new Error('expected a function call');
      return { id: call.id, name: call.function.name, arguments: JSON.parse(call.function.arguments) };
    });
  }

  it('calls a forced tool with arguments read from the user text', async () => {
    const completion = await ctx.client.chat.completions.create({
      model: 'gpt-4o',
      messages: purchase,
      tools: [weatherTool, purchaseTool],
      tool_choice: { type: 'function', function: { name: 'process_transaction' } },
    });
    expect(completion.choices[0]?.finish_reason).toBe('tool_calls');
    expect(completion.choices[0]?.message.content).toBeNull();
    expect(callsOf(completion)).toEqual([
      {
        id: expect.stringMatching(/^call_/),
        name: 'process_transaction',
        arguments: { amount: 100, merchant: 'Amazon' },
      },
    ]);
  });

  it('calls a tool in auto mode when a description keyword is in the user text', async () => {
    const completion = await ctx.client.chat.completions.create({
      model: 'gpt-4o',
      messages: purchase,
      tools: [weatherTool, purchaseTool],
    });
    expect(callsOf(completion).map((call) => call.name)).toEqual(['process_transaction']);
  });

  it('calls a tool in auto mode when its name with spaces is in the user text', async () => {
    const completion = await ctx.client.chat.completions.create({
      model: 'gpt-4o',
      messages: [{ role: 'user', content: 'Please get weather in Paris' }],
      tools: [purchaseTool, weatherTool],
    });
    expect(callsOf(completion)).toEqual([
      { id: expect.stringMatching(/^call_/), name: 'get_weather', arguments: { city: 'Paris' } },
    ]);
  });

  it('calls every matching tool in parallel with distinct ids', async () => {
    const completion = await ctx.client.chat.completions.create({
      model: 'gpt-4o',
      messages: [
        { role: 'user', content: 'Process a $100 purchase from Amazon and tell me the weather in Berlin' },
      ],
      tools: [purchaseTool, weatherTool],
    });
    const calls = callsOf(completion);
    expect(calls.map((call) => [call.name, call.arguments])).toEqual([
      ['process_transaction', { amount: 100, merchant: 'Amazon' }],
      ['get_weather', { city: 'Berlin' }],
    ]);
    expect(new Set(calls.map((call) => call.id)).size).toBe(2);
  });

  it('replies with text in auto mode when no tool matches', async () => {
    const completion = await ctx.client.chat.completions.create({
      model: 'gpt-4o',
      messages: [{ role: 'user', content: 'Tell me a joke' }],
      tools: [purchaseTool, weatherTool],
    });
    expect(completion.choices[0]?.message.tool_calls).toBeUndefined();
    expect(completion.choices[0]?.finish_reason).toBe('stop');
  });

  it('never calls a tool when tool_choice is none', async () => {
    const completion = await ctx.client.chat.completions.create({
      model: 'gpt-4o',
      messages: purchase,
      tools: [purchaseTool],
      tool_choice: 'none',
    });
    expect(completion.choices[0]?.message.tool_calls).toBeUndefined();
  });

  it('calls the first tool when tool_choice is required and nothing matches', async () => {
    const completion = await ctx.client.chat.completions.create({
      model: 'gpt-4o',
      messages: [{ role: 'user', content: 'Tell me a joke' }],
      tools: [weatherTool, purchaseTool],
      tool_choice: 'required',
    });
    expect(callsOf(completion).map((call) => [call.name, call.arguments])).toEqual([['get_weather', {}]]);
  });

  it('streams each tool call as an opening delta followed by argument pieces', async () => {
    const stream = await ctx.client.chat.completions.create({
      model: 'gpt-4o',
      messages: purchase,
      tools: [purchaseTool],
      tool_choice: 'required',
      stream: true,
    });
    const deltas: NonNullable<ChatCompletionChunk.Choice.Delta['tool_calls']> = [];
    let finishReason: string | null | undefined;
    for await (const chunk of stream) {
      deltas.push(...(chunk.choices[0]?.delta.tool_calls ?? []));
      finishReason = chunk.choices[0]?.finish_reason ?? finishReason;
    }
    const [opening, ...pieces] = deltas;
    expect(opening).toEqual({
      index: 0,
      id: expect.stringMatching(/^call_/),
      type: 'function',
      function: { name: 'process_transaction', arguments: '' },
    });
    expect(pieces.length).toBeGreaterThan(1);
    expect(
      pieces.every((piece) => piece.index === 0 && piece.id === undefined && !piece.function?.name),
    ).toBe(true);
    expect(JSON.parse(pieces.map((piece) => piece.function?.arguments).join(''))).toEqual({
      amount: 100,
      merchant: 'Amazon',
    });
    expect(finishReason).toBe('tool_calls');
  });

  it('reassembles parallel streamed tool calls with the SDK stream helper', async () => {
    const final = await ctx.client.chat.completions
      .stream({
        model: 'gpt-4o',
        messages: [
          { role: 'user', content: 'Process a $25.50 purchase from Best Buy, and the weather in Rome' },
        ],
        tools: [purchaseTool, weatherTool],
      })
      .finalChatCompletion();
    const calls = final.choices[0]?.message.tool_calls ?? [];
    expect(
      calls.map((call) => (call.type === 'function' ? JSON.parse(call.function.arguments) : null)),
    ).toEqual([{ amount: 25.5, merchant: 'Best Buy' }, { city: 'Rome' }]);
  });

  it('answers tool results with a final reply naming each tool and its result', async () => {
    const messages: ChatCompletionMessageParam[] = [
      ...purchase,
      {
        role: 'assistant',
        content: null,
        tool_calls: [
          { id: 'call_a', type: 'function', function: { name: 'process_transaction', arguments: '{}' } },
          { id: 'call_b', type: 'function', function: { name: 'get_weather', arguments: '{}' } },
        ],
      },
      { role: 'tool', tool_call_id: 'call_a', content: '{"approved":true}' },
      { role: 'tool', tool_call_id: 'call_b', content: 'sunny' },
    ];
    const completion = await ctx.client.chat.completions.create({
      model: 'gpt-4o',
      messages,
      tools: [purchaseTool, weatherTool],
      tool_choice: 'required',
    });
    expect(completion.choices[0]?.message.tool_calls).toBeUndefined();
    expect(completion.choices[0]?.message.content).toBe(
      'Function results: process_transaction returned {"approved":true}; get_weather returned sunny.',
    );
  });

  it('sends the raw arguments of a tool_arguments fault', async () => {
    ctx.sim.injectFault({ type: 'tool_arguments', arguments: '{"amount": 100,' });
    const completion = await ctx.client.chat.completions.create({
      model: 'gpt-4o',
      messages: purchase,
      tools: [purchaseTool],
    });
    const call = completion.choices[0]?.message.tool_calls?.[0];
    expect(call?.type === 'function' && call.function.arguments).toBe('{"amount": 100,');
  });
});
