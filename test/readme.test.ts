import { readFileSync } from 'node:fs';
import { type OperationDefinitionNode, parse, print } from 'graphql';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { TypedDocumentString } from './gql/graphql.js';
import { wsClient } from './support/clients.js';
import { startTestServer, type TestServer } from './support/server.js';

/** Every operation of every ```graphql block of the README, in the order a reader meets them. */
function readmeOperations(): OperationDefinitionNode[] {
  const readme = readFileSync(new URL('../README.md', import.meta.url), 'utf8');
  const blocks = [...readme.matchAll(/^```graphql\n([\s\S]*?)^```/gm)].map((match) => match[1] ?? '');
  return blocks.flatMap((block) =>
    parse(block).definitions.map((definition) => {
      if (definition.kind !== 'OperationDefinition')
        throw new Error(`README block holds a ${definition.kind}`);
      return definition;
    }),
  );
}

type Result = { data?: Record<string, unknown> | null; errors?: unknown[] };

describe('the README examples', () => {
  let server: TestServer;
  const operations = readmeOperations();
  // The README says: `<id>` is the id createConversation returned; `<completion-id>` and `<tool-call-id>` are
  // those of the call waiting for approval in the reply before.
  let conversationId = '';
  let waiting = { completionId: '', toolCallId: '' };
  const results = new Map<number, Result>();

  beforeAll(async () => {
    // As the README's registerFunction example says: webhooks to a local receiver need the allow-list.
    server = await startTestServer({ env: { FUNCTION_WEBHOOK_ALLOWLIST: '127.0.0.1' } });
  });
  afterAll(async () => {
    await server.close();
  });

  it('covers the README: conversations, streaming, functions, shopping, usage and context', () => {
    const fields = operations.map((operation) => {
      const first = operation.selectionSet.selections[0];
      return first?.kind === 'Field' ? first.name.value : '';
    });
    expect(operations.length).toBeGreaterThanOrEqual(15);
    for (const field of ['createConversation', 'sendMessage', 'chat', 'registerFunction', 'usage']) {
      expect(fields).toContain(field);
    }
  });

  it.each(operations.map((operation, index) => [index, firstLine(operation), operation] as const))(
    'runs example %i as written: %s',
    async (index, _name, operation) => {
      const written = print(operation);
      if (written.includes('<id>') && !conversationId) throw new Error('<id> before any createConversation');
      const text = written
        .replaceAll('<id>', conversationId)
        .replaceAll('<completion-id>', waiting.completionId)
        .replaceAll('<tool-call-id>', waiting.toolCallId);
      const document = new TypedDocumentString<Record<string, unknown>, Record<string, never>>(text);
      let result: Result;
      if (operation.operation === 'subscription') {
        const client = wsClient(server.wsUrl);
        const events = await client.subscribe(document).all();
        await client.close();
        expect(events.length).toBeGreaterThan(1);
        result = { data: events.at(-1) ?? null };
      } else {
        result = await server.request(document);
      }
      expect(result.errors).toBeUndefined();
      expect(result.data).toBeTruthy();
      results.set(index, result);
      const created = result.data?.createConversation as { id?: string } | undefined;
      if (created?.id && !conversationId) conversationId = created.id;
      const sent = result.data?.sendMessage as
        | { id: string; toolApprovals?: { toolCallId: string }[] }
        | undefined;
      const call = sent?.toolApprovals?.[0];
      if (sent && call) waiting = { completionId: sent.id, toolCallId: call.toolCallId };
    },
  );

  it('shows, in the usage example, the completions the examples before it ran', () => {
    const index = operations.findIndex((operation) => firstLine(operation).startsWith('usage'));
    const usage = results.get(index)?.data?.usage as { completions: number; total: { totalTokens: number } };
    expect(usage.completions).toBeGreaterThan(0);
    expect(usage.total.totalTokens).toBeGreaterThan(0);
  });
});

function firstLine(operation: OperationDefinitionNode): string {
  return print(operation.selectionSet).split('\n')[1]?.trim().slice(0, 60) ?? '';
}
