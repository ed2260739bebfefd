import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { SimulatorClient } from '../../src/simulator/index.js';
import { SendMessage } from '../completions/documents.js';
import { CreateConversation } from '../conversations/documents.js';
import { startTestServer, type TestServer } from '../support/server.js';

/** The upstream key the server sends to the simulator as `Authorization: Bearer <key>`. */
const UPSTREAM_KEY = 'sk-upstream-SECRET-7d41c2e9';

describe('the simulator request log', () => {
  let server: TestServer;
  beforeAll(async () => {
    server = await startTestServer({ env: { OPENAI_API_KEY: UPSTREAM_KEY } });
  });
  afterAll(async () => {
    await server.close();
  });

  it('never holds the bearer key the server sent, in the process or over the control API', async () => {
    const { createConversation } = await server.data(CreateConversation, { input: { title: 'keys' } });
    await server.data(SendMessage, { input: { conversationId: createConversation.id, content: 'Hello' } });
    const listed = await new SimulatorClient(server.simulator.url).requests();
    const inProcess = server.simulator.requests;
    expect(listed).toHaveLength(1);
    // The header arrived (redaction marks it) and nothing of the key is left anywhere in either view.
    expect(inProcess[0]?.headers.authorization).toBe('[redacted]');
    expect(listed[0]?.headers.authorization).toBe('[redacted]');
    expect(JSON.stringify(inProcess)).not.toContain('SECRET');
    expect(JSON.stringify(listed)).not.toContain('SECRET');
  });
});
