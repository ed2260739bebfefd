import { mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { loadConfig } from '../../src/config.js';
import { TrustedDocuments } from '../../src/server/trusted-documents.js';
import { graphql } from '../gql/index.js';
import { wsClient } from '../support/clients.js';
import { completionIdOf, runExample } from '../support/example.js';
import { startTestServer, TEST_ENV, type TestServer } from '../support/server.js';

/** Written by `npm run codegen` (codegen.ts: the example client's `persistedDocuments`). */
const MANIFEST = 'examples/chat-client/gql/persisted-documents.json';
const KEY = 'sk-trusted-000000';

const Models = graphql(`
  query TrustedDocumentsModels {
    models {
      id
    }
  }
`);

const Reply = graphql(`
  query TrustedDocumentsReply($id: ID!) {
    completion(id: $id) {
      message {
        content
      }
    }
  }
`);

async function post(server: TestServer, body: unknown) {
  const response = await fetch(server.url, {
    method: 'POST',
    headers: { 'content-type': 'application/json', authorization: `Bearer ${KEY}` },
    body: JSON.stringify(body),
  });
  return (await response.json()) as { data?: unknown; errors?: { extensions?: { code?: string } }[] };
}

describe('trusted documents only (PERSISTED_DOCUMENTS_ONLY)', () => {
  let server: TestServer;

  beforeAll(async () => {
    server = await startTestServer({
      env: { API_KEYS: `alice:${KEY}`, PERSISTED_DOCUMENTS: MANIFEST, PERSISTED_DOCUMENTS_ONLY: 'true' },
    });
  });
  afterAll(() => server.close());

  it('runs the example client, which sends only document ids, over HTTP and WebSocket', async () => {
    const run = await runExample(server.url, ['--trusted', 'What is a good budget?'], undefined, {
      AGENT_PLATFORM_API_KEY: KEY,
    });
    expect(run.stderr).toContain('[done: stop');
    expect(run.code).toBe(0);
    // The stored reply can only be read with a document outside the manifest: the trusted server refuses that.
    const stored = await server.request(Reply, { id: completionIdOf(run) }, { apiKey: KEY });
    expect(stored.errors?.[0]?.extensions?.code).toBe('PERSISTED_DOCUMENT_REQUIRED');
    expect(run.stdout.trim().split(' ').length).toBeGreaterThan(3);
  });

  it('refuses a document sent as text over HTTP, with a code', async () => {
    const body = await post(server, { query: Models.toString() });
    expect(body.data).toBeUndefined();
    expect(body.errors?.[0]?.extensions?.code).toBe('PERSISTED_DOCUMENT_REQUIRED');
  });

  it('refuses an id that is not in the manifest', async () => {
    const body = await post(server, { documentId: `sha256:${'0'.repeat(64)}` });
    expect(body.errors?.[0]?.extensions?.code).toBe('PERSISTED_DOCUMENT_NOT_FOUND');
  });

  it('refuses a document sent as text over WebSocket', async () => {
    const ws = wsClient(server.wsUrl, KEY);
    const subscription = ws.subscribe(Models);
    await expect(subscription.completed).rejects.toThrow(/PERSISTED_DOCUMENT_REQUIRED/);
    await ws.close();
  });
});

describe('trusted documents beside arbitrary ones (PERSISTED_DOCUMENTS alone)', () => {
  let server: TestServer;

  beforeAll(async () => {
    server = await startTestServer({ env: { API_KEYS: `alice:${KEY}`, PERSISTED_DOCUMENTS: MANIFEST } });
  });
  afterAll(() => server.close());

  it('runs a document by id and a document sent as text', async () => {
    const manifest = JSON.parse(await readFile(MANIFEST, 'utf8')) as Record<string, string>;
    const [id] =
      Object.entries(manifest).find(([, document]) => document.includes('createConversation')) ?? [];
    const byId = await post(server, { documentId: id, variables: { input: { title: 'by id' } } });
    expect(byId.errors).toBeUndefined();
    expect(byId.data).toMatchObject({ createConversation: { id: expect.any(String) } });
    const byText = await server.request(Models, undefined, { apiKey: KEY });
    expect(byText.errors).toBeUndefined();
  });
});

describe('trusted documents in development mode', () => {
  it('still runs arbitrary documents, so GraphiQL works', async () => {
    const server = await startTestServer({
      env: { API_KEYS: '', PERSISTED_DOCUMENTS: MANIFEST, PERSISTED_DOCUMENTS_ONLY: 'true' },
    });
    try {
      const response = await server.request(Models);
      expect(response.errors).toBeUndefined();
      expect(response.data?.models.length).toBeGreaterThan(0);
    } finally {
      await server.close();
    }
  });
});

describe('trusted document manifests', () => {
  let directory: string;
  beforeAll(async () => {
    directory = await mkdtemp(join(tmpdir(), 'trusted-documents-'));
  });
  afterAll(() => rm(directory, { recursive: true, force: true }));

  it('refuses a manifest whose sha256 id does not match its document', async () => {
    const path = join(directory, 'tampered.json');
    await writeFile(path, JSON.stringify({ [`sha256:${'a'.repeat(64)}`]: '{ models { id } }' }));
    await expect(TrustedDocuments.load([path], true)).rejects.toThrow(/does not have that hash/);
  });

  it('refuses PERSISTED_DOCUMENTS_ONLY without a manifest', () => {
    expect(() => loadConfig({ ...TEST_ENV, PERSISTED_DOCUMENTS_ONLY: 'true' })).toThrow(
      /needs PERSISTED_DOCUMENTS/,
    );
  });
});
