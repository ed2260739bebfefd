import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { Chat, SendMessage } from '../completions/documents.js';
import { CreateConversation } from '../conversations/documents.js';
import { wsClient } from '../support/clients.js';
import { startTestServer, type TestServer } from '../support/server.js';
import { scrape, simulatorUsage } from './support.js';

type LogLine = Record<string, unknown> & { msg?: string; requestId?: string };

const CLIENT_KEY = 'sk-alice-SECRET-4f9a1c';
const WRONG_KEY = 'sk-wrong-SECRET-77ab2e';
const UPSTREAM_KEY = 'sk-upstream-SECRET-d41d8c';
const METRICS_TOKEN = 'metrics-SECRET-0123456789';
const SECRETS = [CLIENT_KEY, WRONG_KEY, UPSTREAM_KEY, METRICS_TOKEN, 'SECRET'];

describe('logs at debug, with secrets in headers and connectionParams', () => {
  let server: TestServer;
  const written: string[] = [];
  const responses: string[] = [];
  let metrics: string;
  const lines = () =>
    written
      .join('')
      .trim()
      .split('\n')
      .map((line) => JSON.parse(line) as LogLine);

  beforeAll(async () => {
    server = await startTestServer({
      env: {
        API_KEYS: `alice:${CLIENT_KEY}:admin`,
        OPENAI_API_KEY: UPSTREAM_KEY,
        METRICS_TOKEN,
        LOG_LEVEL: 'debug',
        OPENAI_MAX_RETRIES: '0',
      },
      logDestination: { write: (line: string) => void written.push(line) },
    });
    const record = <T>(response: T) => {
      responses.push(JSON.stringify(response));
      return response;
    };
    const alice = { apiKey: CLIENT_KEY, headers: { 'x-request-id': 'trace-http-1' } };
    const { createConversation } = await server.data(CreateConversation, { input: { title: 'x' } }, alice);
    const conversationId = createConversation.id;
    record(await server.request(SendMessage, { input: { conversationId, content: 'Plan my week' } }, alice));
    server.simulator.injectFault({ type: 'bad_request', message: 'Rejected by the simulator' });
    record(await server.request(SendMessage, { input: { conversationId, content: 'Fail this one' } }, alice));
    record(
      await server.request(SendMessage, { input: { conversationId, content: 'x' } }, { apiKey: WRONG_KEY }),
    );
    record(
      await server.request(
        SendMessage,
        { input: { conversationId, content: 'x' } },
        { headers: { authorization: `Basic ${CLIENT_KEY}` } },
      ),
    );

    const client = wsClient(server.wsUrl, CLIENT_KEY);
    record(await client.subscribe(Chat, { input: { conversationId, content: 'Stream this' } }).all());
    await client.close();
    const refused = wsClient(server.wsUrl, WRONG_KEY);
    const failure = await refused
      .subscribe(Chat, { input: { conversationId, content: 'x' } })
      .all()
      .catch((error: unknown) => error);
    responses.push(String(failure), JSON.stringify(failure));
    await refused.close();

    metrics = await (await scrape(server.url, METRICS_TOKEN)).text();
  });
  afterAll(() => server.close());

  it('never writes a key or token to the logs, the responses or /metrics', () => {
    expect(lines().some((line) => line.msg === 'upstream call')).toBe(true);
    expect(metrics).toContain('agent_upstream_requests_total');
    for (const secret of SECRETS) {
      expect(written.join('')).not.toContain(secret);
      expect(responses.join('\n')).not.toContain(secret);
      expect(metrics).not.toContain(secret);
    }
  });

  it('puts the request id on every line of a request, its completion and its upstream call included', () => {
    const ofRequest = lines().filter((line) => line.requestId === 'trace-http-1');
    expect(ofRequest.map((line) => line.msg)).toEqual(
      expect.arrayContaining(['graphql operation', 'upstream call']),
    );
    const completionIds = new Set(ofRequest.map((line) => line.completionId).filter(Boolean));
    expect(completionIds.size).toBe(2);
    const ofCompletions = lines().filter((line) => completionIds.has(line.completionId));
    expect(ofCompletions.every((line) => line.requestId === 'trace-http-1')).toBe(true);
  });

  it('gives every subscription one request id from its start to its end', () => {
    const started = lines().find((line) => line.msg === 'graphql subscription started');
    const ofStream = lines().filter((line) => line.requestId === started?.requestId);
    expect(ofStream.map((line) => line.msg)).toEqual(
      expect.arrayContaining(['graphql subscription started', 'upstream call', 'graphql subscription ended']),
    );
  });

  it('logs message contents and the reply with the upstream call at debug', () => {
    const call = lines().find((line) => line.msg === 'upstream call' && line.requestId === 'trace-http-1');
    expect(JSON.stringify(call?.messages)).toContain('Plan my week');
    expect(call?.reply).toBe('Simulated reply to: Plan my week');
  });
});

describe('LOG_FILE', () => {
  let server: TestServer;
  let directory: string;
  let file: string;

  beforeAll(async () => {
    directory = mkdtempSync(join(tmpdir(), 'agent-platform-log-'));
    file = join(directory, 'openai.log');
    server = await startTestServer({ env: { LOG_FILE: file, OPENAI_MAX_RETRIES: '0' } });
  });
  afterAll(async () => {
    await server.close();
    rmSync(directory, { recursive: true, force: true });
  });

  it('receives one structured line per upstream call, without message contents below debug', async () => {
    const { createConversation } = await server.data(CreateConversation, { input: { title: 'x' } });
    const conversationId = createConversation.id;
    await server.data(SendMessage, { input: { conversationId, content: 'First question' } });
    await server.data(SendMessage, {
      input: { conversationId, content: 'Second question', model: 'gpt-4o' },
    });
    const client = wsClient(server.wsUrl);
    await client.subscribe(Chat, { input: { conversationId, content: 'Streamed question' } }).all();
    await client.close();
    server.simulator.injectFault({ type: 'server_error' });
    await server.request(SendMessage, { input: { conversationId, content: 'Failing question' } });

    const raw = readFileSync(file, 'utf8').trim().split('\n');
    // JSON.parse keeps the last of duplicate keys; the raw line must carry each key once.
    for (const line of raw) expect(line.match(/"service":/g)).toHaveLength(1);
    const lines = raw.map((line) => JSON.parse(line) as LogLine);
    const usages = await simulatorUsage(server.simulator);
    expect(lines.map((line) => [line.msg, line.model, line.stream, line.messageCount, line.status])).toEqual([
      ['upstream call', 'gpt-4.1-mini', false, 1, 'ok'],
      ['upstream call', 'gpt-4o', false, 3, 'ok'],
      ['upstream call', 'gpt-4.1-mini', true, 5, 'ok'],
      ['upstream call', 'gpt-4.1-mini', false, 7, 'UPSTREAM_UNAVAILABLE'],
    ]);
    expect(lines.slice(0, 3).map((line) => [line.promptTokens, line.completionTokens])).toEqual(
      usages.map((usage) => [usage.promptTokens, usage.completionTokens]),
    );
    for (const line of lines) {
      expect(line).toMatchObject({ retries: 0, requestId: expect.any(String) });
      expect(line.latencyMs).toEqual(expect.any(Number));
      expect(line).not.toHaveProperty('messages');
      expect(line).not.toHaveProperty('reply');
    }
  });
});
