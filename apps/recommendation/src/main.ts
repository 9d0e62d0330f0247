import { durables, streams, subjects } from '@tidemark/contracts';
import { partitionConsumers } from '@tidemark/jetstream';
import { framedBatches, startService } from '@tidemark/runtime';
import { RecommendationModule } from './recommendation.module';
import { RecommendationService } from './recommendation.service';
import { RECOMMENDATION_GROUP } from './redis-rec.store';

/**
 * Consumes events.clean.<p> for the owned partitions (OWNED_PARTITIONS, or the leases it wins with
 * PARTITION_ASSIGNMENT=group) into Redis; answers recommendations over HTTP and NATS.
 */
export function bootstrap() {
  return startService({
    name: 'recommendation',
    module: RecommendationModule,
    port: (c) => c.ports.recommendation,
    partitioned: {
      group: RECOMMENDATION_GROUP,
      consumers: (c, partitions) =>
        partitionConsumers({ stream: streams.clean, durable: durables.recommendation, subject: subjects.clean, partitions, ackWaitMs: c.ackWaitMs, ...framedBatches(c, c.recs.consumerLingerMs) }),
      owner: (app) => app.get(RecommendationService),
    },
  });
}

if (require.main === module) void bootstrap();
