import { Global, Inject, Module, OnApplicationShutdown } from '@nestjs/common';
import type Redis from 'ioredis';
import { CONFIG, TidemarkConfig } from '@tidemark/config';
import { HealthRegistry } from '@tidemark/observability';
import { connectRedis } from './redis';

/** Injection token for the service's Redis connection. */
export const REDIS = Symbol('TIDEMARK_REDIS');

/** One Redis connection per service (fail fast at boot), a `redis` readiness check, quit on shutdown. */
@Global()
@Module({
  providers: [
    {
      provide: REDIS,
      inject: [CONFIG, HealthRegistry],
      useFactory: async (config: TidemarkConfig, health: HealthRegistry) => {
        const redis = await connectRedis(config.redisUrl, 'tidemark', config.redisTls);
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
  constructor(@Inject(REDIS) private readonly redis: Redis) {}

  async onApplicationShutdown(): Promise<void> {
    await this.redis.quit().catch(() => this.redis.disconnect());
  }
}
