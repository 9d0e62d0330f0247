import * as fs from 'node:fs';
import Redis from 'ioredis';
import { redactUrl, redactUrlsIn, type TlsFiles } from '@tidemark/config';

/**
 * A Redis connection that fails fast on the first connect (clear error naming the URL) and reconnects
 * with backoff later. Commands issued while disconnected fail after a short while instead of waiting
 * forever, so a batch can be retried whole.
 */
export async function connectRedis(url: string, name: string, tls?: TlsFiles): Promise<Redis> {
  const redis = new Redis(url, {
    // rediss:// turns TLS on; these add the CA to trust and a client certificate (docs/security.md "Transport").
    ...(tls
      ? {
          tls: {
            ...(tls.caFile ? { ca: fs.readFileSync(tls.caFile) } : {}),
            ...(tls.certFile ? { cert: fs.readFileSync(tls.certFile) } : {}),
            ...(tls.keyFile ? { key: fs.readFileSync(tls.keyFile) } : {}),
          },
        }
      : {}),
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
    throw new Error(`cannot connect to Redis at ${redactUrl(url)}: ${redactUrlsIn((e as Error).message)}`);
  }
  return redis;
}
