import { randomBytes } from 'node:crypto';
import { Redis } from 'ioredis';
import { serviceAvailable } from './services.js';

export const TEST_REDIS_URL = process.env.TEST_REDIS_URL ?? 'redis://127.0.0.1:6379';

export const redisAvailable = () =>
  serviceAvailable('Redis', async () => {
    const redis = new Redis(TEST_REDIS_URL, {
      lazyConnect: true,
      connectTimeout: 2000,
      maxRetriesPerRequest: 0,
    });
    try {
      await redis.connect();
      await redis.ping();
    } finally {
      redis.disconnect();
    }
  });

/** A key prefix of one suite's own; `drop()` deletes every key under it. */
export function testRedisPrefix(): { prefix: string; drop(): Promise<void> } {
  const prefix = `agent-platform-test:${randomBytes(6).toString('hex')}:`;
  return {
    prefix,
    drop: async () => {
      const redis = new Redis(TEST_REDIS_URL);
      try {
        for await (const keys of redis.scanStream({ match: `${prefix}*`, count: 500 })) {
          if ((keys as string[]).length > 0) await redis.del(...(keys as string[]));
        }
      } finally {
        await redis.quit();
      }
    },
  };
}
