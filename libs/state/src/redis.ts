import Redis from 'ioredis';

/**
 * A Redis connection that fails fast on the first connect (clear error naming the URL) and reconnects
 * with backoff later. Commands issued while disconnected fail after a short while instead of waiting
 * forever, so a batch can be retried whole.
 */
export async function connectRedis(url: string, name: string): Promise<Redis> {
  const redis = new Redis(url, {
    connectionName: name,
    lazyConnect: true,
    maxRetriesPerRequest: 2,
    enableAutoPipelining: false,
    disconnectTimeout: 200,
    retryStrategy: (times) => Math.min(2000, 50 * 2 ** Math.min(times, 6)),
  });
  try {
    await redis.connect();
    await redis.ping();
  } catch (e) {
    redis.disconnect();
    throw new Error(`cannot connect to Redis at ${url}: ${(e as Error).message}`);
  }
  return redis;
}
