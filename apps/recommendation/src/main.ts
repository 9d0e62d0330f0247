import { durables, streams, subjects } from '@tidemark/contracts';
import { partitionConsumers } from '@tidemark/jetstream';
import { framedBatches, startService } from '@tidemark/runtime';
import { RecommendationModule } from './recommendation.module';

/** Consumes events.clean.<p> for the owned partitions into Redis; answers recommendations over HTTP and NATS. */
export function bootstrap() {
  return startService({
    name: 'recommendation',
    module: RecommendationModule,
    port: (c) => c.ports.recommendation,
    consumers: (c) =>
      partitionConsumers({ stream: streams.clean, durable: durables.recommendation, subject: subjects.clean, partitions: c.ownedPartitions, ackWaitMs: c.ackWaitMs, ...framedBatches(c) }),
  });
}

if (require.main === module) void bootstrap();
