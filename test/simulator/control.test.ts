import OpenAI from 'openai';
import { describe, expect, it } from 'vitest';
import { SimulatorClient } from '../../src/simulator/index.js';
import { useSimulator } from './support.js';

const request = { model: 'gpt-4o', messages: [{ role: 'user' as const, content: 'hello' }] };

describe('simulator control API over HTTP', () => {
  const ctx = useSimulator();

  it('injects faults with POST /_simulator/faults', async () => {
    await new SimulatorClient(ctx.sim.url).injectFault({ type: 'rate_limit', retryAfterSeconds: 1 }, 2);
    await expect(ctx.client.chat.completions.create(request)).rejects.toBeInstanceOf(OpenAI.RateLimitError);
    await expect(ctx.client.chat.completions.create(request)).rejects.toBeInstanceOf(OpenAI.RateLimitError);
    await expect(ctx.client.chat.completions.create(request)).resolves.toBeDefined();
  });

  it('clears faults with DELETE /_simulator/faults', async () => {
    const control = new SimulatorClient(ctx.sim.url);
    await control.injectFault({ type: 'server_error' });
    await control.clearFaults();
    await expect(ctx.client.chat.completions.create(request)).resolves.toBeDefined();
  });

  it('rejects an invalid fault', async () => {
    const response = await fetch(ctx.sim.url.replace(/\/v1$/, '/_simulator/faults'), {
      method: 'POST',
      body: JSON.stringify({ fault: { type: 'meteor_strike' } }),
    });
    expect(response.status).toBe(400);
  });

  it('sets latency with POST /_simulator/latency', async () => {
    await new SimulatorClient(ctx.sim.url).setLatency({ chunkDelayMs: 60_000 });
    const stream = await ctx.client.chat.completions.create({ ...request, stream: true });
    for await (const chunk of stream) if (chunk.choices[0]?.delta.content) break;
    await ctx.sim.waitFor((r) => r.status === 'aborted');
  });

  it('lists and resets the request log with GET and DELETE /_simulator/requests', async () => {
    const control = new SimulatorClient(`${ctx.sim.url}/`);
    await ctx.client.chat.completions.create(request);
    const [logged] = await control.requests();
    expect(logged).toMatchObject({
      id: expect.stringMatching(/^chatcmpl-/),
      status: 'completed',
      stream: false,
    });
    expect(logged?.body).toMatchObject(request);
    // The key stays in the process (tests read ctx.sim.requests) but never goes out over HTTP.
    expect(logged?.headers.authorization).toBe('[redacted]');
    expect(ctx.sim.requests[0]?.headers.authorization).toBe('Bearer test');
    await control.clearRequests();
    expect(await control.requests()).toEqual([]);
    expect(ctx.sim.requests).toEqual([]);
  });

  it('leaves big bodies out of the listed log', async () => {
    await ctx.client.chat.completions.create({
      model: 'gpt-4o',
      messages: [{ role: 'user', content: 'x '.repeat(20_000) }],
    });
    const [logged] = await new SimulatorClient(ctx.sim.url).requests();
    expect(logged?.body).toBeUndefined();
    expect(logged?.bodyBytes).toBeGreaterThan(16 * 1024);
  });
});
