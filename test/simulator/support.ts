import OpenAI from 'openai';
import { afterEach, beforeEach } from 'vitest';
import { createSimulator, type Simulator, type SimulatorOptions } from '../../src/simulator/index.js';

export interface SimulatorContext {
  sim: Simulator;
  client: OpenAI;
}

/** A fresh simulator on an ephemeral port and a real openai SDK client for every test. */
export function useSimulator(options: SimulatorOptions = {}): SimulatorContext {
  const context = {} as SimulatorContext;
  beforeEach(async () => {
    context.sim = await createSimulator(options);
    context.client = new OpenAI({ apiKey: 'test', baseURL: context.sim.url, maxRetries: 0 });
  });
  afterEach(async () => {
    await context.sim.close();
  });
  return context;
}

export const purchaseTool = {
  type: 'function' as const,
  function: {
    name: 'process_transaction',
    description: 'Process a purchase for the user.',
    parameters: {
      type: 'object',
      properties: {
        amount: { type: 'number', description: 'Amount in dollars' },
        merchant: { type: 'string' },
      },
      required: ['amount', 'merchant'],
    },
  },
};

export const weatherTool = {
  type: 'function' as const,
  function: {
    name: 'get_weather',
    description: 'Get the current weather for a city.',
    parameters: { type: 'object', properties: { city: { type: 'string' } }, required: ['city'] },
  },
};
