import { Module } from '@nestjs/common';
import { ApiDocsModule } from '@tidemark/runtime';
import { DEDUP_API, DEDUP_OPERATIONS } from './dedup.openapi';
import { ConfigModule } from '@tidemark/config';
import { JetStreamModule } from '@tidemark/jetstream';
import { ObservabilityModule } from '@tidemark/observability';
import { RedisModule } from '@tidemark/state';
import { DedupConsumer } from './dedup.consumer';
import { DedupService } from './dedup.service';

@Module({
  imports: [ConfigModule, ObservabilityModule.forService('dedup'), ApiDocsModule.forService(DEDUP_API, DEDUP_OPERATIONS), JetStreamModule.forService('dedup'), RedisModule],
  controllers: [DedupConsumer],
  providers: [DedupService],
})
export class DedupModule {}
