import { existsSync } from 'node:fs';
import { type Browser, chromium } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { CreateConversation } from '../conversations/documents.js';
import { startTestServer, type TestServer } from '../support/server.js';

const CHROMIUM = '/usr/bin/chromium';
const available = existsSync(CHROMIUM);
if (!available) {
  if (process.env.CI === 'true')
    throw new Error(`${CHROMIUM} is missing: .ci/run installs it (apt-get install chromium)`);
  console.warn(
    `Skipping the GraphiQL browser test: ${CHROMIUM} is not installed (apt-get install -y chromium)`,
  );
}

describe.skipIf(!available)('GraphiQL in a browser', () => {
  let server: TestServer;
  let browser: Browser;
  beforeAll(async () => {
    server = await startTestServer();
    browser = await chromium.launch({
      executablePath: CHROMIUM,
      args: [
        '--no-sandbox',
        '--disable-gpu',
        '--disable-background-networking',
        '--disable-component-update',
        '--no-first-run',
      ],
    });
  });
  afterAll(async () => {
    await browser?.close();
    await server?.close();
  });

  it('runs a chat subscription over WebSocket and shows the streamed reply', async () => {
    const { createConversation } = await server.data(CreateConversation, {
      input: { title: 'from GraphiQL' },
    });
    const query = `subscription { chat(input: {conversationId: "${createConversation.id}", content: "Hi"}) { __typename seq ... on ContentDelta { text } ... on CompletionDone { completion { message { content } } } } }`;
    const page = await browser.newPage();
    await page.goto(`${server.url}?query=${encodeURIComponent(query)}`);
    await page.getByRole('button', { name: /execute query/i }).click();
    // GraphiQL shows the latest event; its editor renders spaces as non-breaking ones.
    const shown = async () =>
      ((await page.locator('.graphiql-response').textContent()) ?? '').replace(/\s+/g, ' ');
    await expect.poll(shown, { timeout: 20_000 }).toContain('"__typename": "CompletionDone"');
    expect(await shown()).toContain('"content": "Simulated reply to: Hi"');
    await page.close();
  });
});
