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
    await new SimulatorClient(ctx.sim.url).setLatency({ firstTokenMs: 300, chunkDelayMs: 150 });
    const startedAt = performance.now();
    const stream = await ctx.client.chat.completions.create({ ...request, stream: true });
    const contentAt: number[] = [];
    for await (const chunk of stream) {
      if (chunk.choices[0]?.delta.content) contentAt.push(performance.now());
      if (contentAt.length === 3) break;
    }
    // Lower bounds only: a loaded machine may be slower, never faster.
    expect((contentAt[0] ?? 0) - startedAt).toBeGreaterThanOrEqual(290);
    expect((contentAt[1] ?? 0) - (contentAt[0] ?? 0)).toBeGreaterThanOrEqual(140);
    expect((contentAt[2] ?? 0) - (contentAt[1] ?? 0)).toBeGreaterThanOrEqual(140);
    await ctx.sim.waitFor((r) => r.status === 'aborted');
  });

  it('omits usage in JSON and in streams after POST /_simulator/usage, and sends it again when told', async () => {
    const control = new SimulatorClient(ctx.sim.url);
    await control.setOmitUsage(true);
    const json = await ctx.client.chat.completions.create(request);
    expect(json.choices[0]?.message.content).toBeTruthy();
    expect(json).not.toHaveProperty('usage');
    const chunks = [];
    const stream = await ctx.client.chat.completions.create({
      ...request,
      stream: true,
      stream_options: { include_usage: true },
    });
    for await (const chunk of stream) chunks.push(chunk);
    expect(chunks.at(-1)?.choices[0]?.finish_reason).toBe('stop');
    expect(chunks.some((chunk) => 'usage' in chunk)).toBe(false);
    await control.setOmitUsage(false);
    expect((await ctx.client.chat.completions.create(request)).usage?.prompt_tokens).toBeGreaterThan(0);
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
    expect(logged?.headers.authorization).toBe('[redacted]');
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
