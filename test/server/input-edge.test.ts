import { count, eq, sql } from 'drizzle-orm';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { completions, functionExecutions, messages } from '../../src/storage/schema.js';
import { transactions } from '../../src/storage/shopping.js';
import { Chat, SendMessage } from '../completions/documents.js';
import { AddMessage, ConversationMessages, CreateConversation } from '../conversations/documents.js';
import { ExecuteFunction } from '../functions/documents.js';
import { ProcessTransaction } from '../shopping/documents.js';
import { wsClient } from '../support/clients.js';
import { startTestServer, type TestServer } from '../support/server.js';

const MAX_CHARS = 5000;
let server: TestServer;
let conversationId: string;
beforeAll(async () => {
  server = await startTestServer({ env: { MAX_MESSAGE_CHARS: String(MAX_CHARS) } });
  conversationId = (await server.data(CreateConversation, { input: { title: 'edge' } })).createConversation
    .id;
});
afterAll(() => server.close());

/** Rows in every table a refused request could have half-written, and the upstream calls made. */
async function written() {
  const { db } = server.app.services.database;
  const rows = await Promise.all(
    [messages, completions, functionExecutions, transactions].map(async (table) => {
      const [row] = await db.select({ n: count() }).from(table);
      return row?.n;
    }),
  );
  return { rows, upstream: server.simulator.requests.length };
}

const NUL = 'before\u0000after';
const LONE_SURROGATE = 'before\ud83dafter';

describe('strings that cannot be stored are refused at the edge, naming the field, writing nothing', () => {
  const cases = [
    {
      field: 'input.content',
      run: (bad: string) => server.request(SendMessage, { input: { conversationId, content: bad } }),
    },
    {
      field: 'input.idempotencyKey',
      run: (bad: string) =>
        server.request(SendMessage, { input: { conversationId, content: 'hello', idempotencyKey: bad } }),
    },
    {
      field: 'input.content',
      run: (bad: string) =>
        server.request(AddMessage, { input: { conversationId, role: 'USER', content: bad } }),
    },
    {
      field: 'input.systemPrompt',
      run: (bad: string) => server.request(CreateConversation, { input: { title: 'x', systemPrompt: bad } }),
    },
    {
      field: 'input.title',
      run: (bad: string) => server.request(CreateConversation, { input: { title: bad } }),
    },
    {
      field: 'input.merchant',
      run: (bad: string) =>
        server.request(ProcessTransaction, { input: { amount: 5, merchant: bad, category: 'books' } }),
    },
    {
      field: 'input.category',
      run: (bad: string) =>
        server.request(ProcessTransaction, { input: { amount: 5, merchant: 'Amazon', category: bad } }),
    },
    {
      field: 'input.arguments.merchant',
      run: (bad: string) =>
        server.request(ExecuteFunction, {
          input: { name: 'validate_transaction', arguments: { amount: 5, merchant: bad } },
        }),
    },
  ];

  for (const { field, run } of cases) {
    for (const [kind, bad] of [
      ['NUL', NUL],
      ['a lone surrogate', LONE_SURROGATE],
    ] as const) {
      it(`${kind} in ${field}`, async () => {
        const before = await written();
        const { errors } = await run(bad);
        expect(errors?.[0]?.extensions?.code).toBe('BAD_USER_INPUT');
        expect(errors?.[0]?.extensions?.field).toBe(field);
        expect(errors?.[0]?.message).toMatch(kind === 'NUL' ? /NUL/ : /surrogate/);
        expect(await written()).toEqual(before);
      });
    }
  }

  it('NUL in a key of a JSON argument', async () => {
    const before = await written();
    const { errors } = await server.request(ExecuteFunction, {
      input: { name: 'validate_transaction', arguments: { amount: 5, merchant: 'Amazon', [NUL]: 1 } },
    });
    expect(errors?.[0]?.extensions?.code).toBe('BAD_USER_INPUT');
    expect(errors?.[0]?.message).toMatch(/input\.arguments .*NUL/);
    expect(await written()).toEqual(before);
  });

  it('NUL written as a literal in the document', async () => {
    const before = await written();
    const response = await fetch(server.url, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify({
        query: `mutation { addMessage(input: {conversationId: "${conversationId}", role: USER, content: "a\\u0000b"}) { id } }`,
      }),
    });
    const { errors } = (await response.json()) as { errors?: { extensions?: Record<string, unknown> }[] };
    expect(errors?.[0]?.extensions).toMatchObject({ code: 'BAD_USER_INPUT', field: 'input.content' });
    expect(await written()).toEqual(before);
  });

  it('NUL in a chat subscription over WebSocket', async () => {
    const before = await written();
    const ws = wsClient(server.wsUrl);
    try {
      const chat = ws.subscribe(Chat, { input: { conversationId, content: NUL } });
      await expect(chat.completed).rejects.toThrow(
        /BAD_USER_INPUT.*input\.content|input\.content.*BAD_USER_INPUT/,
      );
    } finally {
      await ws.close();
    }
    expect(await written()).toEqual(before);
  });
});

describe('MAX_MESSAGE_CHARS', () => {
  it('refuses a longer message with BAD_USER_INPUT naming the field and the setting', async () => {
    const before = await written();
    const { errors } = await server.request(AddMessage, {
      input: { conversationId, role: 'USER', content: 'a'.repeat(MAX_CHARS + 1) },
    });
    expect(errors?.[0]?.extensions).toMatchObject({ code: 'BAD_USER_INPUT', field: 'input.content' });
    expect(errors?.[0]?.message).toMatch(/longer than 5000 characters \(MAX_MESSAGE_CHARS\)/);
    expect(await written()).toEqual(before);
  });

  it('accepts a message of exactly the limit, and ordinary text with emoji and CJK', async () => {
    const content = `${'a'.repeat(MAX_CHARS - 8)} 🚀 東京`;
    await server.data(AddMessage, { input: { conversationId, role: 'USER', content } });
    const { conversation } = await server.data(ConversationMessages, { id: conversationId, last: 1 });
    expect(conversation?.messages.edges[0]?.node.content).toBe(content);
  });
});

describe('a user message that fails to store', () => {
  it('leaves no completion behind: the completion and its user message are written together or not at all', async () => {
    const { db } = server.app.services.database;
    // A database-side failure after the completion row is written, as a dropped connection would cause.
    await db.execute(sql`
      create function refuse_message() returns trigger language plpgsql as $$
      begin
        if new.content = 'refused by the database' then raise exception 'refused'; end if;
        return new;
      end $$`);
    await db.execute(sql`
      create trigger refuse_message before insert on messages for each row execute function refuse_message()`);
    try {
      const { errors } = await server.request(SendMessage, {
        input: { conversationId, content: 'refused by the database', idempotencyKey: 'refused-once' },
      });
      expect(errors?.[0]?.extensions?.code).toBe('INTERNAL_SERVER_ERROR');
      const rows = await db.select().from(completions).where(eq(completions.idempotencyKey, 'refused-once'));
      // Nothing RUNNING waits for a lease to lapse, and the idempotency key is free for the retry.
      expect(rows).toEqual([]);
    } finally {
      await db.execute(sql`drop trigger refuse_message on messages`);
      await db.execute(sql`drop function refuse_message`);
    }
  });
});
