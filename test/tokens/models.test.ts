import { describe, expect, it, vi } from 'vitest';
import {
  acceptsSampling,
  costUsd,
  isReasoningModel,
  type ModelInfo,
  ModelTable,
  modelInfoSchema,
} from '../../src/tokens/index.js';

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

  it('takes only a date after a model id as a snapshot of it', () => {
    const table = new ModelTable();
    for (const name of [
      'gpt-4-imaginary',
      'gpt-4-x7',
      'gpt-4o-mini-preview',
      'gpt-4o-20240806',
      'o3-2025-04',
    ]) {
      expect(table.has(name)).toBe(false);
    }
    expect(table.get('gpt-5-mini-2025-08-07').id).toBe('gpt-5-mini');
    expect(table.get('gpt-3.5-turbo-0125').id).toBe('gpt-3.5-turbo');
  });

  it('accepts the models the upstream offers besides its own, and names the new ones once', () => {
    const onUnknown = vi.fn();
    const table = new ModelTable([], onUnknown);
    expect(table.accepts('llama3.1:8b')).toBe(false);
    expect(table.offer(['llama3.1:8b', 'gpt-4o', 'gpt-4o-2024-08-06'])).toEqual(['llama3.1:8b']);
    expect(table.offer(['llama3.1:8b', 'qwen2.5:7b'])).toEqual(['qwen2.5:7b']);
    expect(table.accepts('llama3.1:8b')).toBe(true);
    expect(table.get('llama3.1:8b')).toMatchObject({ id: 'llama3.1:8b', contextWindow: 128_000 });
    expect(onUnknown).not.toHaveBeenCalled();
    expect(table.list().map((model) => model.id)).toEqual(
      expect.arrayContaining(['gpt-4o', 'llama3.1:8b', 'qwen2.5:7b']),
    );
    expect(table.offered()).toContain('gpt-5-mini');
  });

  it('knows which models reason and the efforts each one documents', () => {
    const table = new ModelTable();
    expect(table.get('gpt-5-mini').reasoningEfforts).toEqual(['minimal', 'low', 'medium', 'high']);
    expect(table.get('gpt-5.1').reasoningEfforts).toEqual(['none', 'low', 'medium', 'high']);
    expect(table.get('o3').reasoningEfforts).toEqual(['low', 'medium', 'high']);
    expect(isReasoningModel(table.get('gpt-4.1'))).toBe(false);
    expect(acceptsSampling(table.get('gpt-4.1'), null)).toBe(true);
    expect(acceptsSampling(table.get('gpt-5.1'), null)).toBe(false);
    expect(acceptsSampling(table.get('gpt-5.1'), 'none')).toBe(true);
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

  it('prices prompt tokens served from the prompt cache at the cached-input rate', () => {
    const table = new ModelTable();
    // gpt-5-mini: $0.25 input, $0.025 cached input, $2 output per million.
    const usage = { promptTokens: 1_000_000, cachedPromptTokens: 600_000, completionTokens: 100_000 };
    expect(costUsd(table.get('gpt-5-mini'), usage)).toBeCloseTo(0.4 * 0.25 + 0.6 * 0.025 + 0.1 * 2, 10);
    // No published cached price: the full input price.
    expect(costUsd(table.get('gpt-4'), usage)).toBeCloseTo(30 + 6, 10);
  });
});
