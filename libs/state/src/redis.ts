import * as fs from 'node:fs';
import Redis, { Cluster } from 'ioredis';
import { redactUrl, redactUrlList, redactUrlsIn, type TlsFiles } from '@tidemark/config';
import type { RedisClient, RedisMode } from './redis-client';

function tlsOptions(tls: TlsFiles | undefined) {
  // rediss:// turns TLS on; these add the CA to trust and a client certificate (docs/security.md "Transport").
  return tls
    ? {
        tls: {
          ...(tls.caFile ? { ca: fs.readFileSync(tls.caFile) } : {}),
          ...(tls.certFile ? { cert: fs.readFileSync(tls.certFile) } : {}),
          ...(tls.keyFile ? { key: fs.readFileSync(tls.keyFile) } : {}),
        },
      }
    : {};
}

/**
 * A Redis connection that fails fast on the first connect (clear error naming the URL) and reconnects
 * with backoff later. Commands issued while disconnected fail after a short while instead of waiting
 * forever, so a batch can be retried whole.
 */
export async function connectRedis(url: string, name: string, tls?: TlsFiles): Promise<Redis> {
  const redis = new Redis(url, {
    // rediss:// turns TLS on; these add the CA to trust and a client certificate (docs/security.md "Transport").
    ...tlsOptions(tls),
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

/** What connectRedisClient needs (TidemarkConfig's redisMode, redisSeeds, redisTls). */
export interface RedisConnectSettings {
  mode: RedisMode;
  /** The URL (standalone) or the seed nodes (cluster); one scheme and one set of credentials. */
  seeds: readonly string[];
  tls?: TlsFiles;
}

/**
 * The service's client: `connectRedis` in standalone mode (unchanged), a `Cluster` over the seed nodes in
 * cluster mode — same credentials and TLS for every node (from the seeds' URLs), reads and writes on masters,
 * fail fast on the first connect, reconnect and follow failovers (MOVED, slot refresh) afterwards.
 */
export async function connectRedisClient(settings: RedisConnectSettings, name: string): Promise<RedisClient> {
  if (settings.mode === 'standalone') return connectRedis(settings.seeds[0], name, settings.tls);
  const urls = settings.seeds.map((s) => new URL(s));
  const first = urls[0];
  const cluster = new Cluster(
    urls.map((u) => ({ host: u.hostname.replace(/^\[|\]$/g, ''), port: u.port ? Number(u.port) : 6379 })),
    {
      lazyConnect: true,
      enableAutoPipelining: false,
      scaleReads: 'master',
      // A failover takes cluster-node-timeout and an election: keep retrying meanwhile, then report.
      clusterRetryStrategy: (times) => Math.min(2000, 50 * 2 ** Math.min(times, 6)),
      retryDelayOnFailover: 200,
      retryDelayOnClusterDown: 200,
      slotsRefreshTimeout: 2000,
      slotsRefreshInterval: 2000,
      redisOptions: {
        ...tlsOptions(first.protocol === 'rediss:' ? (settings.tls ?? {}) : undefined),
        ...(first.username ? { username: decodeURIComponent(first.username) } : {}),
        ...(first.password ? { password: decodeURIComponent(first.password) } : {}),
        connectionName: name,
        maxRetriesPerRequest: 2,
        disconnectTimeout: 200,
      },
    },
  );
  const seeds = redactUrlList(settings.seeds.join(','));
  // Errors reach the commands that fail (retried by their callers); a failover emits some meanwhile.
  cluster.on('error', () => undefined);
  try {
    await cluster.connect();
    await cluster.ping();
  } catch (e) {
    cluster.disconnect();
    throw new Error(`cannot connect to the Redis Cluster at ${seeds}: ${redactUrlsIn((e as Error).message)}`);
  }
  return cluster;
}
