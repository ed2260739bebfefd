import { request as httpRequest } from 'node:http';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import WebSocket from 'ws';
import { startTestServer, type TestServer } from '../support/server.js';

const EVIL = 'https://evil.example';

/** A raw request, so the Host header can be anything a DNS-rebinding page would send. */
function send(url: string, options: { method?: string; headers?: Record<string, string>; body?: string }) {
  return new Promise<{
    status: number;
    headers: Record<string, string | string[] | undefined>;
    body: string;
  }>((resolve, reject) => {
    const req = httpRequest(url, { method: options.method ?? 'GET', headers: options.headers }, (res) => {
      let body = '';
      res.setEncoding('utf8');
      res.on('data', (chunk: string) => {
        body += chunk;
      });
      res.on('end', () => resolve({ status: res.statusCode ?? 0, headers: res.headers, body }));
    });
    req.on('error', reject);
    req.end(options.body);
  });
}

const preflight = (server: TestServer, origin: string) =>
  send(server.url, {
    method: 'OPTIONS',
    headers: {
      origin,
      'access-control-request-method': 'POST',
      'access-control-request-headers': 'content-type',
    },
  });

/** Resolves with the HTTP status of a refused upgrade, or 101 when the socket opens. */
function upgrade(server: TestServer, headers: { origin?: string; host?: string }) {
  return new Promise<number>((resolve, reject) => {
    const socket = new WebSocket(server.wsUrl, 'graphql-transport-ws', {
      origin: headers.origin,
      headers: headers.host ? { host: headers.host } : {},
    });
    socket.on('open', () => {
      socket.close();
      resolve(101);
    });
    socket.on('unexpected-response', (_req, res) => {
      resolve(res.statusCode ?? 0);
      socket.terminate();
    });
    socket.on('error', reject);
  });
}

const VIEWER = JSON.stringify({ query: '{ viewer { name } }' });

describe('development mode (no API_KEYS) answers only loopback pages and names', () => {
  let server: TestServer;
  beforeAll(async () => {
    server = await startTestServer();
  });
  afterAll(() => server.close());

  it('gives a foreign origin no CORS headers, so its page cannot call the API', async () => {
    const { headers } = await preflight(server, EVIL);
    expect(headers['access-control-allow-origin']).toBeUndefined();
    expect(headers['access-control-allow-credentials']).toBeUndefined();
  });

  it('allows a loopback origin', async () => {
    const { headers } = await preflight(server, 'http://localhost:5173');
    expect(headers['access-control-allow-origin']).toBe('http://localhost:5173');
  });

  it('refuses a foreign Host name (DNS rebinding) with 403 FORBIDDEN, and answers loopback ones', async () => {
    const post = (host: string) =>
      send(server.url, {
        method: 'POST',
        headers: { host, 'content-type': 'application/json' },
        body: VIEWER,
      });
    const rebound = await post('evil.example');
    expect(rebound.status).toBe(403);
    expect(JSON.parse(rebound.body).errors[0].extensions.code).toBe('FORBIDDEN');
    const port = new URL(server.url).port;
    for (const host of [`localhost:${port}`, `127.0.0.1:${port}`, `[::1]:${port}`]) {
      const { status, body } = await post(host);
      expect(status).toBe(200);
      expect(JSON.parse(body).data.viewer.name).toBe('dev');
    }
  });

  it('refuses WebSockets from a foreign origin or Host, and accepts loopback ones and non-browser clients', async () => {
    expect(await upgrade(server, { origin: EVIL })).toBe(403);
    expect(await upgrade(server, { host: 'evil.example' })).toBe(403);
    expect(await upgrade(server, { origin: 'http://127.0.0.1:3000' })).toBe(101);
    expect(await upgrade(server, {})).toBe(101);
  });
});

describe('with API keys, cross-origin pages come only from CORS_ORIGINS', () => {
  let server: TestServer;
  beforeAll(async () => {
    server = await startTestServer({
      env: { API_KEYS: 'alice:sk-alice-0123456789', CORS_ORIGINS: 'https://app.example' },
    });
  });
  afterAll(() => server.close());

  it('answers a listed origin and not another', async () => {
    expect((await preflight(server, 'https://app.example')).headers['access-control-allow-origin']).toBe(
      'https://app.example',
    );
    expect((await preflight(server, EVIL)).headers['access-control-allow-origin']).toBeUndefined();
  });

  it('serves any Host name and refuses WebSockets from unlisted origins', async () => {
    const { status, body } = await send(server.url, {
      method: 'POST',
      headers: {
        host: 'api.example.com',
        'content-type': 'application/json',
        authorization: 'Bearer sk-alice-0123456789',
      },
      body: VIEWER,
    });
    expect(status).toBe(200);
    expect(JSON.parse(body).data.viewer.name).toBe('alice');
    expect(await upgrade(server, { origin: EVIL })).toBe(403);
    expect(await upgrade(server, { origin: 'https://app.example' })).toBe(101);
  });
});
