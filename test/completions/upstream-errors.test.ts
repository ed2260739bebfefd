import { once } from 'node:events';
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { CreateConversation } from '../conversations/documents.js';
import { startTestServer, type TestServer } from '../support/server.js';
import { SendMessage } from './documents.js';

/** Not sk-shaped, so only redacting the configured key itself can hide it. */
const UPSTREAM_KEY = 'azure-SECRET-0f3c9a71';

/** A hostile upstream: it answers 400 with our own request echoed back, in the shape the test asks for. */
async function startEchoingUpstream() {
  let shape: 'openai' | 'no-error-field' | 'text' = 'openai';
  const server: Server = createServer((req, res) => {
    const echo = { ECHOED: true, url: req.url, headers: req.headers };
    if (shape === 'text') {
      res.writeHead(400, { 'content-type': 'text/plain' });
      return res.end(`ECHOED ${JSON.stringify(req.headers)}`);
    }
    const body =
      shape === 'openai'
        ? {
            error: {
              message: `Unsupported value, sent with authorization: ${req.headers.authorization}`,
              type: 'invalid_request_error',
              param: 'temperature',
              code: 'unsupported_value',
              echo,
            },
            echo,
          }
        : echo;
    res.writeHead(400, { 'content-type': 'application/json' });
    res.end(JSON.stringify(body));
  });
  server.listen(0, '127.0.0.1');
  await once(server, 'listening');
  return {
    url: `http://127.0.0.1:${(server.address() as AddressInfo).port}/v1`,
    answerAs: (next: typeof shape) => {
      shape = next;
    },
    close: () => new Promise<void>((resolve) => server.close(() => resolve())),
  };
}

let upstream: Awaited<ReturnType<typeof startEchoingUpstream>>;
let server: TestServer;
beforeAll(async () => {
  upstream = await startEchoingUpstream();
  server = await startTestServer({ env: { OPENAI_BASE_URL: upstream.url, OPENAI_API_KEY: UPSTREAM_KEY } });
});
afterAll(async () => {
  await server.close();
  await upstream.close();
});

async function sendAndReadError() {
  const { createConversation } = await server.data(CreateConversation, { input: { title: 'echo' } });
  const response = await server.request(SendMessage, {
    input: { conversationId: createConversation.id, content: 'Hello' },
  });
  const text = JSON.stringify(response);
  expect(text).toMatch(/UPSTREAM_INVALID_REQUEST/);
  expect(text).not.toMatch(/SECRET|ECHOED|authorization: Bearer a/i);
  return text;
}

describe('an upstream 4xx reaches clients as its error fields only, secrets redacted', () => {
  it("passes the error's message, type, param and code", async () => {
    upstream.answerAs('openai');
    const text = await sendAndReadError();
    expect(text).toContain(
      'The model API rejected the request: 400 Unsupported value, sent with authorization: [redacted] ' +
        '(type: invalid_request_error, param: temperature, code: unsupported_value)',
    );
  });

  it('passes nothing of a JSON body without an error object', async () => {
    upstream.answerAs('no-error-field');
    expect(await sendAndReadError()).toContain('The model API rejected the request: 400 no error message');
  });

  it('passes nothing of a text body', async () => {
    upstream.answerAs('text');
    expect(await sendAndReadError()).toContain('The model API rejected the request: 400 no error message');
  });
});
