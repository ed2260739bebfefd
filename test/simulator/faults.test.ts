import OpenAI, { type APIError } from 'openai';
import type { ChatCompletionChunk } from 'openai/resources/chat/completions';
import { describe, expect, it } from 'vitest';
import { createSimulator } from '../../src/simulator/index.js';
import { useSimulator } from './support.js';

const request = { model: 'gpt-4o', messages: [{ role: 'user' as const, content: 'hello there world' }] };

describe('simulator faults', () => {
  const ctx = useSimulator();

  it('answers a rate_limit fault with 429 and retry-after headers', async () => {
    ctx.sim.injectFault({ type: 'rate_limit', retryAfterSeconds: 2, retryAfterMs: 1500 });
    const error = await ctx.client.chat.completions.create(request).catch((e: unknown) => e);
    expect(error).toBeInstanceOf(OpenAI.RateLimitError);
    const rateLimit = error as InstanceType<typeof OpenAI.RateLimitError>;
    expect(rateLimit.headers.get('retry-after')).toBe('2');
    expect(rateLimit.headers.get('retry-after-ms')).toBe('1500');
    expect(rateLimit.code).toBe('rate_limit_exceeded');
    expect(rateLimit.type).toBe('requests');
  });

  it('answers a server_error fault with 500 by default', async () => {
    ctx.sim.injectFault({ type: 'server_error' });
    const error = await ctx.client.chat.completions.create(request).catch((e: unknown) => e);
    expect(error).toBeInstanceOf(OpenAI.InternalServerError);
    expect((error as APIError).status).toBe(500);
  });

  it('answers a server_error fault with the given 5xx status', async () => {
    ctx.sim.injectFault({ type: 'server_error', status: 503 });
    const error = await ctx.client.chat.completions.create(request).catch((e: unknown) => e);
    expect(error).toBeInstanceOf(OpenAI.InternalServerError);
    expect((error as APIError).status).toBe(503);
  });

  it('answers a bad_request fault with 400 and its message', async () => {
    ctx.sim.injectFault({ type: 'bad_request', message: 'Nope, not today.' });
    const error = await ctx.client.chat.completions.create(request).catch((e: unknown) => e);
    expect(error).toBeInstanceOf(OpenAI.BadRequestError);
    expect((error as APIError).message).toContain('Nope, not today.');
  });

  it('consumes one queued fault per request, in order', async () => {
    ctx.sim.injectFault({ type: 'server_error' }, 2);
    ctx.sim.injectFault({ type: 'bad_request' });
    const outcome = () =>
      ctx.client.chat.completions.create(request).then(
        () => 'ok',
        (e: APIError) => e.status,
      );
    expect([await outcome(), await outcome(), await outcome(), await outcome()]).toEqual([
      500,
      500,
      400,
      'ok',
    ]);
  });

  it('gives a fault for one model only to requests for that model, in order with the others', async () => {
    ctx.sim.injectFault({ type: 'server_error', status: 503 }, 1, 'gpt-4o');
    ctx.sim.injectFault({ type: 'bad_request' });
    const outcome = (model: string) =>
      ctx.client.chat.completions.create({ ...request, model }).then(
        () => 'ok',
        (e: APIError) => e.status,
      );
    expect([await outcome('gpt-4o-mini'), await outcome('gpt-4o-mini'), await outcome('gpt-4o')]).toEqual([
      400,
      'ok',
      503,
    ]);
  });

  it('drops queued faults on clearFaults', async () => {
    ctx.sim.injectFault({ type: 'server_error' }, 3);
    ctx.sim.clearFaults();
    await expect(ctx.client.chat.completions.create(request)).resolves.toBeDefined();
  });

  it('marks the request failed when a fault rejects it', async () => {
    ctx.sim.injectFault({ type: 'server_error' });
    await ctx.client.chat.completions.create(request).catch(() => undefined);
    const logged = await ctx.sim.waitFor((r) => r.status === 'failed');
    expect(logged).toMatchObject({ httpStatus: 500, fault: { type: 'server_error' } });
  });

  it('cuts a stream after the given number of content chunks on a disconnect fault', async () => {
    ctx.sim.injectFault({ type: 'disconnect', afterChunks: 2 });
    const stream = await ctx.client.chat.completions.create({ ...request, stream: true });
    const received: ChatCompletionChunk[] = [];
    const consume = async () => {
      for await (const chunk of stream) received.push(chunk);
    };
    await expect(consume()).rejects.toThrow();
    expect(received.map((chunk) => chunk.choices[0]?.delta.content)).toEqual(['', 'Simulated', ' reply']);
    expect(received.every((chunk) => chunk.choices[0]?.finish_reason === null)).toBe(true);
  });

  it('drops the connection without a response on a disconnect fault for a JSON request', async () => {
    ctx.sim.injectFault({ type: 'disconnect', afterChunks: 0 });
    await expect(ctx.client.chat.completions.create(request)).rejects.toBeInstanceOf(
      OpenAI.APIConnectionError,
    );
  });

  it('keeps a stalled request open until the client aborts, then marks it aborted', async () => {
    ctx.sim.injectFault({ type: 'stall' });
    const controller = new AbortController();
    const pending = ctx.client.chat.completions.create(request, { signal: controller.signal });
    await ctx.sim.waitFor((r) => r.status === 'running');
    controller.abort();
    await expect(pending).rejects.toBeInstanceOf(OpenAI.APIUserAbortError);
    expect((await ctx.sim.waitFor((r) => r.status === 'aborted')).fault).toEqual({ type: 'stall' });
  });

  it('answers normally after a stall with a duration', async () => {
    ctx.sim.injectFault({ type: 'stall', ms: 30 });
    const started = performance.now();
    const completion = await ctx.client.chat.completions.create(request);
    expect(performance.now() - started).toBeGreaterThanOrEqual(25);
    expect(completion.choices[0]?.finish_reason).toBe('stop');
  });

  it('stalls a stream after the given number of content chunks, then finishes it', async () => {
    ctx.sim.injectFault({ type: 'stall', afterChunks: 2, ms: 150 });
    const stream = await ctx.client.chat.completions.create({ ...request, stream: true });
    const arrivals: { content: string | null | undefined; at: number }[] = [];
    for await (const chunk of stream) {
      arrivals.push({ content: chunk.choices[0]?.delta.content, at: performance.now() });
    }
    const gaps = arrivals.slice(1).map((arrival, i) => arrival.at - (arrivals[i]?.at ?? 0));
    expect(arrivals.slice(0, 3).map((arrival) => arrival.content)).toEqual(['', 'Simulated', ' reply']);
    expect(gaps.findIndex((gap) => gap >= 140)).toBe(2);
    expect(arrivals.at(-1)?.content).toBeUndefined();
    expect((await ctx.sim.waitFor((r) => r.status === 'completed')).fault).toMatchObject({ type: 'stall' });
  });

  it('logs the usage of the reply it planned', async () => {
    const completion = await ctx.client.chat.completions.create(request);
    expect((await ctx.sim.waitFor((r) => r.status === 'completed')).usage).toEqual(completion.usage);
  });

  it('marks the request aborted when the SDK aborts a stream mid-way', async () => {
    ctx.sim.setLatency({ chunkDelayMs: 60_000 });
    const stream = await ctx.client.chat.completions.create({ ...request, stream: true });
    for await (const chunk of stream) {
      if (chunk.choices[0]?.delta.content) break;
    }
    const aborted = await ctx.sim.waitFor((r) => r.status === 'aborted');
    expect(aborted.chunksSent).toBe(2);
  });

  it('emits an aborted event when a client goes away', async () => {
    ctx.sim.setLatency({ firstTokenMs: 60_000 });
    const events: string[] = [];
    const abortedEvent = new Promise((resolve) => ctx.sim.on('aborted', resolve));
    ctx.sim.on('request', () => events.push('request'));
    const stream = await ctx.client.chat.completions.create({ ...request, stream: true });
    stream.controller.abort();
    await abortedEvent;
    expect(events).toEqual(['request']);
  });

  it('delays the first token by firstTokenMs', async () => {
    ctx.sim.setLatency({ firstTokenMs: 40 });
    const started = performance.now();
    const stream = await ctx.client.chat.completions.create({ ...request, stream: true });
    for await (const _ of stream) break;
    expect(performance.now() - started).toBeGreaterThanOrEqual(35);
  });
});

describe('simulator response headers', () => {
  const ctx = useSimulator({ rateLimitHeaders: { requests: 100, tokens: 10_000 } });

  it('sends x-request-id and x-ratelimit headers that count down', async () => {
    const first = await ctx.client.chat.completions.create(request).withResponse();
    const second = await ctx.client.chat.completions.create(request).withResponse();
    const total = first.data.usage?.total_tokens ?? 0;
    expect(first.response.headers.get('x-request-id')).toMatch(/^req_/);
    expect(first.response.headers.get('x-ratelimit-limit-requests')).toBe('100');
    expect(first.response.headers.get('x-ratelimit-remaining-requests')).toBe('99');
    expect(second.response.headers.get('x-ratelimit-remaining-requests')).toBe('98');
    expect(first.response.headers.get('x-ratelimit-limit-tokens')).toBe('10000');
    expect(second.response.headers.get('x-ratelimit-remaining-tokens')).toBe(String(10_000 - 2 * total));
    expect(first.response.headers.get('x-ratelimit-reset-requests')).toMatch(/^\d+(\.\d+)?m?s$/);
  });
});

describe('simulator shutdown', () => {
  it('closes with a stream still open', async () => {
    const sim = await createSimulator({ chunkDelayMs: 60_000 });
    const client = new OpenAI({ apiKey: 'test', baseURL: sim.url, maxRetries: 0 });
    const stream = await client.chat.completions.create({ ...request, stream: true });
    const consumed = (async () => {
      for await (const _ of stream);
    })();
    await sim.waitFor((r) => r.chunksSent > 0);
    await sim.close();
    await expect(consumed).rejects.toThrow();
    expect(sim.requests[0]?.status).toBe('aborted');
  });
});
