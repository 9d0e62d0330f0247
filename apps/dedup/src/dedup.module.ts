import { Module } from '@nestjs/common';
import { ConfigModule } from '@tidemark/config';
import { JetStreamModule } from '@tidemark/jetstream';
import { ObservabilityModule } from '@tidemark/observability';
import { RedisModule } from '@tidemark/state';
import { DedupConsumer } from './dedup.consumer';
import { DedupService } from './dedup.service';

@Module({
  imports: [ConfigModule, ObservabilityModule.forService('dedup'), JetStreamModule.forService('dedup'), RedisModule],
  controllers: [DedupConsumer],
  providers: [DedupService],
})
export class DedupModule {}
