import { count, eq } from 'drizzle-orm';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createSimulator, type Simulator } from '../../src/simulator/index.js';
import { messages } from '../../src/storage/schema.js';
import { CreateConversation } from '../conversations/documents.js';
import { redisAvailable, TEST_REDIS_URL, testRedisPrefix } from '../support/redis.js';
import { startTestServer, type TestServer } from '../support/server.js';
import { CachedSendMessage } from './documents.js';

const ALICE = 'sk-alice-0123456789';
const BOB = 'sk-bob-0123456789';
// 10 requests per 3 s: a burst of 10, then one request every 300 ms.
const REQUESTS = 10;
const WINDOW_MS = 3000;
const FLOOD = 24;

const stores = [
  { name: 'memory', env: {}, available: true },
  { name: 'Redis', env: { REDIS_URL: TEST_REDIS_URL }, available: await redisAvailable() },
];

for (const store of stores) {
  describe.skipIf(!store.available)(
    `the upstream queue (${store.name} buckets) serves principals in turn`,
    () => {
      const prefix = testRedisPrefix();
      let simulator: Simulator;
      let server: TestServer;
      beforeAll(async () => {
        simulator = await createSimulator();
        server = await startTestServer({
          simulator,
          env: {
            ...store.env,
            REDIS_KEY_PREFIX: prefix.prefix,
            API_KEYS: `alice:${ALICE},bob:${BOB}`,
            RATE_LIMIT_RPM: String(REQUESTS),
            RATE_LIMIT_WINDOW_MS: String(WINDOW_MS),
            RATE_LIMIT_MAX_WAIT: '30000',
            SHUTDOWN_GRACE_MS: '0',
          },
        });
      });
      afterAll(async () => {
        await server.close();
        await simulator.close();
        await prefix.drop();
      });

      const conversation = async (apiKey: string) =>
        (await server.data(CreateConversation, { input: { title: 'fair' } }, { apiKey })).createConversation
          .id;
      const send = (apiKey: string, conversationId: string, content: string) =>
        server.data(CachedSendMessage, { input: { conversationId, content } }, { apiKey });
      const storedUserMessages = async () => {
        const [row] = await server.app.services.database.db
          .select({ n: count() })
          .from(messages)
          .where(eq(messages.role, 'user'));
        return row?.n ?? 0;
      };
      const upstreamIndex = (content: string) =>
        simulator.requests.findIndex((request) => JSON.stringify(request.body.messages).includes(content));

      it(`while one principal floods, another's request waits its turn, not behind the flood`, async () => {
        const aliceConversations = await Promise.all(
          Array.from({ length: FLOOD }, () => conversation(ALICE)),
        );
        const bobConversation = await conversation(BOB);
        // Not awaited: what is left of the flood once Bob is answered is cancelled at close.
        void Promise.allSettled(aliceConversations.map((id, i) => send(ALICE, id, `flood ${i}`)));
        // Every flood message is stored and the burst is spent: the rest of the flood is waiting in the queue.
        while ((await storedUserMessages()) < FLOOD || simulator.requests.length <= REQUESTS) {
          await new Promise((resolve) => setTimeout(resolve, 20));
        }

        const sentAt = simulator.requests.length;
        const answered = send(BOB, bobConversation, 'just one question');
        // Bob's request joins the queue once his message is stored. How long storing takes depends on the
        // machine's load, so his turn is counted from there, in requests sent, not in time.
        while ((await storedUserMessages()) <= FLOOD) {
          await new Promise((resolve) => setTimeout(resolve, 20));
        }
        const queuedAt = simulator.requests.length;
        await answered;

        // Two principals take turns: one of Alice's requests goes ahead of Bob's once his is queued, one or two
        // more while his context is read after storing. A FIFO sent the whole queued flood first: about
        // FLOOD - REQUESTS = 14 requests, 4 s.
        const queuedFlood = FLOOD - sentAt;
        expect(queuedFlood).toBeGreaterThanOrEqual(10);
        expect(upstreamIndex('just one question') - queuedAt).toBeLessThanOrEqual(3);
      }, 30_000);
    },
  );
}
