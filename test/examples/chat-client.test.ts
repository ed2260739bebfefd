import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createSimulator } from '../../src/simulator/index.js';
import { graphql } from '../gql/index.js';
import { completionIdOf, runExample } from '../support/example.js';
import { startTcpProxy, type TcpProxy } from '../support/proxy.js';
import { startTestServer, type TestServer } from '../support/server.js';

const StoredReply = graphql(`
  query StoredReply($id: ID!) {
    completion(id: $id) {
      status
      message {
        content
      }
    }
  }
`);

describe('the example chat client (examples/chat-client)', () => {
  let server: TestServer;
  let proxy: TcpProxy;

  beforeAll(async () => {
    // A reply of 60 words, 30 ms apart: long enough to drop the connection in the middle of it.
    const simulator = await createSimulator({ replyWords: 60, chunkDelayMs: 30 });
    server = await startTestServer({ simulator, env: { API_KEYS: '' } });
    const { port } = new URL(server.url);
    proxy = await startTcpProxy({ host: '127.0.0.1', port: Number(port) });
    return async () => {
      await server.close();
      await simulator.close();
    };
  });
  afterAll(() => proxy.close());

  it('streams the reply to the terminal exactly as it is stored', async () => {
    const run = await runExample(server.url, ['What is a good budget for groceries?']);
    expect(run.code).toBe(0);
    const stored = await server.data(StoredReply, { id: completionIdOf(run) });
    expect(stored.completion?.status).toBe('COMPLETED');
    expect(run.stdout.trim()).toBe(stored.completion?.message?.content);
    expect(run.stderr).toMatch(/\[done: stop, \d+ tokens/);
  });

  it('resumes after a dropped connection, missing nothing and printing nothing twice', async () => {
    let cut = false;
    const run = await runExample(proxy.url('/graphql'), ['Tell me about saving money'], (stdout) => {
      // Drop the socket once part of the reply has been printed.
      if (!cut && stdout.split(' ').length > 5) {
        cut = true;
        proxy.cut();
      }
    });
    expect(cut).toBe(true);
    expect(run.code).toBe(0);
    expect(run.stderr).toMatch(/connection lost; resuming after event [1-9]\d*/);
    const stored = await server.data(StoredReply, { id: completionIdOf(run) });
    expect(run.stdout.trim()).toBe(stored.completion?.message?.content);
  });

  it('lets the model call a function and shows its execution', async () => {
    const run = await runExample(server.url, [
      '--function',
      'validate_transaction',
      'Can I buy this? $100 purchase from Amazon',
    ]);
    expect(run.code).toBe(0);
    expect(run.stderr).toContain('[validate_transaction: SUCCEEDED]');
    expect(run.stdout.trim().length).toBeGreaterThan(0);
  });
});
