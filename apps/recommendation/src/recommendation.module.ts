import { Module } from '@nestjs/common';
import { ApiDocsModule } from '@tidemark/runtime';
import { RECOMMENDATION_API, RECOMMENDATION_OPERATIONS, RECOMMENDATION_SCHEMAS } from './recommendation.openapi';
import { CONFIG, ConfigModule, TidemarkConfig } from '@tidemark/config';
import { JetStreamModule } from '@tidemark/jetstream';
import { ObservabilityModule } from '@tidemark/observability';
import { REDIS, type RedisClient, RedisModule, waitPolicyOf } from '@tidemark/state';
import { REC_STORE } from './recommendation.constants';
import { RecommendationConsumer } from './recommendation.consumer';
import { RecommendationService } from './recommendation.service';
import { RecsController } from './recs.controller';
import { RecsQueryService } from './recs-query.service';
import { RecsRpc } from './recs.rpc';
import { RedisRecStore } from './redis-rec.store';

@Module({
  imports: [ConfigModule, ObservabilityModule.forService('recommendation'), ApiDocsModule.forService(RECOMMENDATION_API, RECOMMENDATION_OPERATIONS, RECOMMENDATION_SCHEMAS), JetStreamModule.forService('recommendation'), RedisModule],
  controllers: [RecommendationConsumer, RecsController],
  providers: [
    {
      provide: REC_STORE,
      inject: [REDIS, CONFIG],
      useFactory: async (redis: RedisClient, config: TidemarkConfig) => {
        const store = new RedisRecStore(redis, {
          params: config.recs.params,
          sessionTtlMs: config.recs.sessionTtlMs,
          userTtlMs: config.recs.userTtlMs,
          itemTtlMs: config.recs.itemTtlMs,
          partitions: config.partitions,
          wait: waitPolicyOf(config),
        });
        // Fences of the layout before the hash tags get their tagged names once, before the first restore.
        await store.migrateLegacyKeys();
        return store;
      },
    },
    RecommendationService,
    RecsQueryService,
    RecsRpc,
  ],
})
export class RecommendationModule {}
