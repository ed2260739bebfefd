import { Redis } from 'ioredis';
import type { Logger } from '../observability/logger.js';

/**
 * A Redis connection (REDIS_URL), for the limits and anything else shared across instances. While Redis is
 * unreachable a command fails after one reconnect attempt instead of waiting without bound; the connection
 * keeps reconnecting in the background and says so in the log. Close it with `quit()`.
 */
export function connectRedis(url: string, logger: Logger): Redis {
  const redis = new Redis(url, { maxRetriesPerRequest: 1 });
  redis.on('error', (error: Error) => logger.warn({ err: error }, 'Redis connection error'));
  return redis;
}
