import { describe, expect, it, vi } from 'vitest';
import { costUsd, type ModelInfo, ModelTable, modelInfoSchema } from '../../src/tokens/index.js';

describe('ModelTable', () => {
  it('resolves known models exactly', () => {
    const table = new ModelTable();
    expect(table.get('gpt-4')).toMatchObject({ contextWindow: 8192, encoding: 'cl100k_base' });
    expect(table.get('gpt-4o')).toMatchObject({ contextWindow: 128_000, encoding: 'o200k_base' });
    expect(table.get('gpt-4.1')).toMatchObject({ contextWindow: 1_047_576, encoding: 'o200k_base' });
    expect(table.get('o3-mini')).toMatchObject({ contextWindow: 200_000, inputUsdPerMillion: 1.1 });
  });

  it('resolves a dated snapshot to the longest matching model id', () => {
    const table = new ModelTable();
    expect(table.get('gpt-4o-2024-08-06').id).toBe('gpt-4o');
    expect(table.get('gpt-4o-mini-2024-07-18').id).toBe('gpt-4o-mini');
    expect(table.get('gpt-4-turbo-2024-04-09').id).toBe('gpt-4-turbo');
    expect(table.get('gpt-4-0613').id).toBe('gpt-4');
    expect(table.get('o3-mini-2025-01-31').id).toBe('o3-mini');
  });

  it('does not treat a different model family sharing a prefix as a snapshot', () => {
    const table = new ModelTable();
    expect(table.has('gpt-4.5-preview')).toBe(false);
    expect(table.has('gpt-4o-2024-08-06')).toBe(true);
  });

  it('falls back for unknown models and reports each unknown model once', () => {
    const onUnknown = vi.fn();
    const table = new ModelTable([], onUnknown);
    const fallback = table.get('llama-3-70b');
    table.get('llama-3-70b');
    expect(fallback).toEqual({
      id: 'llama-3-70b',
      contextWindow: 128_000,
      maxOutputTokens: 16_384,
      encoding: 'o200k_base',
      inputUsdPerMillion: 0,
      outputUsdPerMillion: 0,
    });
    expect(onUnknown).toHaveBeenCalledTimes(1);
    expect(onUnknown).toHaveBeenCalledWith('llama-3-70b', fallback);
  });

  it('lets extra entries override and extend the built-in table', () => {
    const custom: ModelInfo = {
      id: 'my-model',
      contextWindow: 4096,
      maxOutputTokens: 1024,
      encoding: 'cl100k_base',
      inputUsdPerMillion: 1,
      outputUsdPerMillion: 2,
    };
    const table = new ModelTable([custom, { ...custom, id: 'gpt-4o', contextWindow: 64_000 }]);
    expect(table.get('my-model')).toEqual(custom);
    expect(table.get('gpt-4o').contextWindow).toBe(64_000);
    expect(table.list().filter((model) => model.id === 'gpt-4o')).toHaveLength(1);
    expect(table.list().map((model) => model.id)).toContain('my-model');
  });

  it('validates config entries with modelInfoSchema', () => {
    expect(
      modelInfoSchema.safeParse({
        id: 'x',
        contextWindow: 1000,
        maxOutputTokens: 100,
        encoding: 'o200k_base',
        inputUsdPerMillion: 0,
        outputUsdPerMillion: 0,
      }).success,
    ).toBe(true);
    expect(modelInfoSchema.safeParse({ id: 'x', contextWindow: 1000, encoding: 'p50k_base' }).success).toBe(
      false,
    );
  });
});

describe('costUsd', () => {
  it('prices prompt and completion tokens per million', () => {
    const table = new ModelTable();
    expect(costUsd(table.get('gpt-4'), { promptTokens: 1000, completionTokens: 1000 })).toBe(0.09);
    expect(costUsd(table.get('gpt-4o'), { promptTokens: 1000, completionTokens: 500 })).toBe(0.0075);
    expect(costUsd(table.get('unknown-model'), { promptTokens: 1000, completionTokens: 500 })).toBe(0);
  });
});
