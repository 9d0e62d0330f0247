import { Global, Inject, Module, OnApplicationShutdown } from '@nestjs/common';
import { CONFIG, TidemarkConfig } from '@tidemark/config';
import { HealthRegistry } from '@tidemark/observability';
import { connectRedisClient } from './redis';
import type { RedisClient, WaitPolicy } from './redis-client';

/** Injection token for the service's Redis client (a `Redis`, or a `Cluster` with REDIS_MODE=cluster). */
export const REDIS = Symbol('TIDEMARK_REDIS');

/** The WAIT after durable writes: in cluster mode with REDIS_WAIT_REPLICAS > 0, else none. */
export function waitPolicyOf(config: Pick<TidemarkConfig, 'redisMode' | 'redisWait'>): WaitPolicy | undefined {
  return config.redisMode === 'cluster' && config.redisWait.replicas > 0 ? config.redisWait : undefined;
}

/** One Redis client per service (fail fast at boot), a `redis` readiness check, quit on shutdown. */
@Global()
@Module({
  providers: [
    {
      provide: REDIS,
      inject: [CONFIG, HealthRegistry],
      useFactory: async (config: TidemarkConfig, health: HealthRegistry) => {
        const redis = await connectRedisClient({ mode: config.redisMode, seeds: config.redisSeeds, ...(config.redisTls ? { tls: config.redisTls } : {}) }, 'tidemark');
        health.register('redis', async () => {
          await redis.ping();
        });
        return redis;
      },
    },
  ],
  exports: [REDIS],
})
export class RedisModule implements OnApplicationShutdown {
  constructor(@Inject(REDIS) private readonly redis: RedisClient) {}

  async onApplicationShutdown(): Promise<void> {
    await this.redis.quit().catch(() => this.redis.disconnect());
  }
}
