import { existsSync } from 'node:fs';
import { type Browser, chromium, type Page } from 'playwright-core';
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

const KEY = 'sk-graphiql-walkthrough';

describe.skipIf(!available)('GraphiQL in a browser', () => {
  let server: TestServer;
  let keyServer: TestServer;
  let browser: Browser;
  beforeAll(async () => {
    server = await startTestServer();
    keyServer = await startTestServer({ env: { API_KEYS: `walker:${KEY}`, GRAPHQL_INTROSPECTION: 'true' } });
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
    await keyServer?.close();
  });

  it('opens on the walkthrough, whose operations run in turn as the comments say', async () => {
    const context = await browser.newContext({ permissions: ['clipboard-read', 'clipboard-write'] });
    const page = await context.newPage();
    await page.goto(keyServer.url);
    const editor = page.locator('.graphiql-query-editor');
    await expect.poll(async () => flat(await editor.textContent())).toContain('mutation CreateConversation');
    // The key goes where the walkthrough's comment says: the Headers tab.
    expect(flat(await editor.textContent())).toContain('open the Headers tab below and enter');
    await fillTool(page, 'Headers', `{ "Authorization": "Bearer ${KEY}" }`);

    // The id as GraphiQL received it (the rendered response breaks long strings across elements).
    const reply = page.waitForResponse((response) =>
      (response.request().postData() ?? '').includes('CreateConversation'),
    );
    await run(page, 'CreateConversation', '"createConversation"');
    const { data } = (await (await reply).json()) as { data: { createConversation: { id: string } } };
    const { id } = data.createConversation;
    await fillTool(page, 'Variables', `{ "conversationId": "${id}" }`);

    const sent = await run(page, 'SendMessage', '"status": "COMPLETED"');
    expect(sent).toContain('"content": "Simulated reply to: What is a good budget for groceries?"');
    const streamed = await run(page, 'Chat', '"finishReason": "stop"');
    expect(streamed).toContain('"totalTokens"');
    const purchase = await run(page, 'ProcessTransaction', '"status": "APPROVED"');
    expect(purchase).toContain('"functionName": "validate_transaction"');
    await context.close();
  });

  it('mentions the Headers tab only when the server needs a key', async () => {
    const page = await browser.newPage();
    await page.goto(server.url);
    const editor = page.locator('.graphiql-query-editor');
    await expect.poll(async () => flat(await editor.textContent())).toContain('mutation CreateConversation');
    expect(flat(await editor.textContent())).not.toContain('Headers tab');
    await page.close();
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

/** GraphiQL's editors render spaces as non-breaking ones. */
const flat = (text: string | null) => (text ?? '').replace(/\s+/g, ' ');

/**
 * Pastes into the Variables or Headers editor over what is there, as a user would (typed text would meet the
 * editor's bracket auto-closing).
 */
async function fillTool(page: Page, tab: 'Variables' | 'Headers', text: string) {
  await page.locator('.graphiql-editor-tools').getByRole('button', { name: tab, exact: true }).click();
  const editor = page.locator('.graphiql-editor-tool .graphiql-editor').filter({ visible: true });
  await editor.click();
  await page.keyboard.press('ControlOrMeta+A');
  await page.evaluate((clip) => navigator.clipboard.writeText(clip), text);
  await page.keyboard.press('ControlOrMeta+V');
  await expect.poll(async () => flat(await editor.locator('.view-lines').textContent())).toBe(flat(text));
}

/** Runs one operation of the document from the ▶ button's menu and waits for its response. */
async function run(page: Page, operation: string, expected: string): Promise<string> {
  await page.getByRole('button', { name: /execute query/i }).click();
  await page.getByRole('menuitem', { name: operation, exact: true }).click();
  const response = async () => flat(await page.locator('.graphiql-response').textContent());
  await expect.poll(response, { timeout: 20_000 }).toContain(expected);
  return response();
}
