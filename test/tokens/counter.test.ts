import { describe, expect, it } from 'vitest';
import { ModelTable, TokenCounter, type ToolDefinitionLike } from '../../src/tokens/index.js';

const counter = new TokenCounter(new ModelTable());

const weatherTool: ToolDefinitionLike = {
  name: 'get_weather',
  description: 'Get the current weather for a city.',
  parameters: {
    type: 'object',
    properties: {
      city: { type: 'string', description: 'The city name.' },
      unit: { type: 'string', enum: ['celsius', 'fahrenheit'] },
    },
    required: ['city'],
  },
};

describe('TokenCounter.countText', () => {
  it('counts known strings like tiktoken', async () => {
    expect(await counter.countText('hello world', 'gpt-4')).toBe(2);
    expect(await counter.countText('What is the capital of France?', 'gpt-4o')).toBe(7);
    expect(await counter.countText('', 'gpt-4o')).toBe(0);
  });

  it('uses cl100k_base or o200k_base according to the model', async () => {
    const text = 'Ünïcödé 🚀 text';
    expect(await counter.countText(text, 'gpt-4')).toBe(11);
    expect(await counter.countText(text, 'gpt-3.5-turbo-0125')).toBe(11);
    expect(await counter.countText(text, 'gpt-4o')).toBe(8);
    expect(await counter.countText(text, 'some-unknown-model')).toBe(8);
  });

  it('counts special-token text as ordinary text instead of throwing', async () => {
    expect(await counter.countText('<|endoftext|>', 'gpt-4')).toBe(7);
  });
});

describe('TokenCounter.countMessage', () => {
  it('adds 3 tokens per message plus the role and content tokens', async () => {
    expect(await counter.countMessage({ role: 'user', content: 'hello world' }, 'gpt-4o')).toBe(3 + 1 + 2);
    expect(
      await counter.countMessage({ role: 'system', content: 'You are a helpful assistant.' }, 'gpt-4o'),
    ).toBe(10);
  });

  it('adds the name tokens plus one', async () => {
    expect(
      await counter.countMessage({ role: 'user', content: 'hello world', name: 'alice' }, 'gpt-4o'),
    ).toBe(6 + 1 + 1);
  });

  it('counts each tool call as 3 + name + arguments tokens', async () => {
    const message = {
      role: 'assistant' as const,
      content: null,
      toolCalls: [{ id: 'call_1', functionName: 'get_weather', arguments: '{"city":"Paris"}' }],
    };
    expect(await counter.countMessage(message, 'gpt-4o')).toBe(3 + 1 + (3 + 2 + 5));
  });

  it('does not count the name of a tool message, which is not sent', async () => {
    const named = {
      role: 'tool' as const,
      content: '{"city":"Paris"}',
      name: 'get_weather',
      toolCallId: 'call_1',
    };
    expect(await counter.countMessage(named, 'gpt-4o')).toBe(3 + 1 + 5);
  });

  it('does not count the tool_call_id of a tool message', async () => {
    const withId = {
      role: 'tool' as const,
      content: '{"city":"Paris"}',
      toolCallId: 'call_abcdefghijklmnop',
    };
    expect(await counter.countMessage(withId, 'gpt-4o')).toBe(3 + 1 + 5);
  });
});

describe('TokenCounter.countTools', () => {
  it('applies the cookbook function-definition formula', async () => {
    // 12 end + 7 init + 9 "get_weather:Get the current weather for a city" + 3 properties
    // + city (3 + 5) + unit (3 - 3 enum + (3 + 2) + (3 + 2) + 3 "unit:string:")
    expect(await counter.countTools([weatherTool], 'gpt-4o')).toBe(52);
    expect(await counter.countTools([weatherTool], 'gpt-4')).toBe(55);
  });

  it('counts nothing for no tools', async () => {
    expect(await counter.countTools([], 'gpt-4o')).toBe(0);
  });
});

describe('TokenCounter.countRequest', () => {
  const messages = [
    { role: 'system' as const, content: 'You are a helpful assistant.' },
    { role: 'user' as const, content: 'What is the capital of France?' },
  ];

  it('sums the messages and adds 3 tokens of reply priming', async () => {
    expect(await counter.countRequest({ model: 'gpt-4o', messages })).toBe(10 + 11 + 3);
  });

  it('adds the tool definitions when tools are offered', async () => {
    expect(await counter.countRequest({ model: 'gpt-4o', messages, tools: [weatherTool] })).toBe(24 + 52);
    expect(await counter.countRequest({ model: 'gpt-4o', messages, tools: [] })).toBe(24);
  });
});

describe('TokenCounter.completionTokens', () => {
  it('counts the content plus each tool call, without the message wrapper', async () => {
    expect(await counter.completionTokens('hello world', null, 'gpt-4o')).toBe(2);
    const call = { id: 'call_1', functionName: 'get_weather', arguments: '{"city":"Paris"}' };
    expect(await counter.completionTokens(null, [call], 'gpt-4o')).toBe(3 + 2 + 5);
  });
});
