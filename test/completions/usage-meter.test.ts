import { describe, expect, it } from 'vitest';
import { ModelTable, TokenCounter } from '../../src/tokens/index.js';
import { UsageMeter } from '../../src/upstream/index.js';

const tokens = new TokenCounter(new ModelTable());
const request = { model: 'gpt-4o', promptTokens: 42 };

describe('UsageMeter', () => {
  it('reports nothing for a request the server never answered', async () => {
    expect(await new UsageMeter(tokens, request).usage()).toBeNull();
  });

  it('passes on the usage the server reported', async () => {
    const meter = new UsageMeter(tokens, request);
    meter.answer();
    meter.saw({ type: 'content', text: 'Hello there' });
    meter.report({ promptTokens: 40, completionTokens: 3 });
    expect(await meter.usage()).toEqual({ promptTokens: 40, completionTokens: 3 });
  });

  it('estimates the prompt and what arrived (text, refusal, tool-call names and arguments) when none came', async () => {
    const meter = new UsageMeter(tokens, request);
    meter.answer();
    meter.saw({ type: 'content', text: 'Checking. ' });
    meter.saw({ type: 'refusal', text: 'No.' });
    meter.saw({ type: 'toolCall', index: 0, functionName: 'lookup', argumentsDelta: '{"q":' });
    meter.saw({ type: 'toolCall', index: 0, argumentsDelta: '"x"}' });
    const completionTokens = await tokens.completionTokens(
      'Checking. No.',
      [{ id: '', functionName: 'lookup', arguments: '{"q":"x"}' }],
      'gpt-4o',
    );
    expect(await meter.usage()).toEqual({ promptTokens: 42, completionTokens, estimated: true });
  });

  it('takes a report of zero tokens for no report', async () => {
    const meter = new UsageMeter(tokens, request);
    meter.answer();
    meter.saw({ type: 'content', text: 'Hello there' });
    meter.report({ promptTokens: 0, completionTokens: 0 });
    expect(await meter.usage()).toMatchObject({ promptTokens: 42, estimated: true });
  });
});
