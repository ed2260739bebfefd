import { type ChildProcess, spawn } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { setTimeout as delay } from 'node:timers/promises';

/** What the mock says when the tool results come back. */
export const TOOL_ANSWER = 'The purchase was checked.';

/**
 * Rules for @dwmkerr/mock-llm (last match wins): echo the last message, call validate_transaction when the user
 * mentions a purchase, answer once the tool result is back. Like many compatible servers it sends no `usage`,
 * and it ignores `stream_options.include_usage`.
 */
const CONFIG = `
streaming:
  chunkSize: 6
  chunkIntervalMs: 25
rules:
  - path: "/v1/chat/completions"
    method: "POST"
    match: "@"
    response:
      status: 200
      content: |
        {"id": "chatcmpl-{{timestamp}}", "object": "chat.completion", "created": 1, "model": "{{jmes request body.model}}",
         "choices": [{"index": 0, "message": {"role": "assistant", "content": "Echo: {{jmes request body.messages[-1].content}}"}, "finish_reason": "stop"}]}
  - path: "/v1/chat/completions"
    method: "POST"
    match: "body.messages[-1].role == 'user' && contains(body.messages[-1].content, 'purchase')"
    response:
      status: 200
      content: |
        {"id": "chatcmpl-{{timestamp}}", "object": "chat.completion", "created": 1, "model": "{{jmes request body.model}}",
         "choices": [{"index": 0, "message": {"role": "assistant", "content": null, "tool_calls": [
           {"id": "call_mock_1", "type": "function", "function": {"name": "validate_transaction", "arguments": "{\\"amount\\": 100, \\"merchant\\": \\"Amazon\\"}"}}]},
           "finish_reason": "tool_calls"}]}
  - path: "/v1/chat/completions"
    method: "POST"
    match: "body.messages[-1].role == 'tool'"
    response:
      status: 200
      content: |
        {"id": "chatcmpl-{{timestamp}}", "object": "chat.completion", "created": 1, "model": "{{jmes request body.model}}",
         "choices": [{"index": 0, "message": {"role": "assistant", "content": "${TOOL_ANSWER}"}, "finish_reason": "stop"}]}
`;

export interface MockLlm {
  /** Base URL ending in /v1, for OPENAI_BASE_URL. */
  url: string;
  close(): Promise<void>;
}

/** Starts mock-llm in its own process, as users run it, on a free port; resolves once it answers /health. */
export async function startMockLlm(): Promise<MockLlm> {
  const dir = mkdtempSync(join(tmpdir(), 'mock-llm-'));
  const config = join(dir, 'mock-llm.yaml');
  writeFileSync(config, CONFIG);
  const port = await freePort();
  const main = createRequire(import.meta.url).resolve('@dwmkerr/mock-llm/dist/main.js');
  const child = spawn(process.execPath, [main, '--config', config], {
    cwd: dir,
    env: { ...process.env, HOST: '127.0.0.1', PORT: String(port) },
    stdio: 'ignore',
  });
  const exited = new Promise<void>((resolve) => child.once('exit', () => resolve()));
  const root = `http://127.0.0.1:${port}`;
  await waitForHealth(root, child);
  return {
    url: `${root}/v1`,
    close: async () => {
      child.kill('SIGTERM');
      await exited;
      rmSync(dir, { recursive: true, force: true });
    },
  };
}

async function waitForHealth(root: string, child: ChildProcess): Promise<void> {
  for (let attempt = 0; attempt < 200; attempt++) {
    if (child.exitCode !== null) throw new Error(`mock-llm exited with ${child.exitCode}`);
    const healthy = await fetch(`${root}/health`).then(
      (response) => response.ok,
      () => false,
    );
    if (healthy) return;
    await delay(50);
  }
  throw new Error('mock-llm did not answer /health within 10 s');
}

function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const server = createServer();
    server.once('error', reject);
    server.listen(0, '127.0.0.1', () => {
      const address = server.address();
      server.close(() =>
        typeof address === 'object' && address ? resolve(address.port) : reject(new Error('no port')),
      );
    });
  });
}
