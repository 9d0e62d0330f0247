import { durables, streams, subjects } from '@tidemark/contracts';
import { partitionConsumers } from '@tidemark/jetstream';
import { framedBatches, startService } from '@tidemark/runtime';
import { AggregationModule } from './aggregation.module';
import { AggregationService } from './aggregation.service';
import { AGGREGATION_GROUP } from './redis-aggregation.store';

/**
 * Consumes events.clean.<p> for the owned partitions (OWNED_PARTITIONS, or the leases it wins with
 * PARTITION_ASSIGNMENT=group); fires windows to results.<metric>; answers queries.
 */
export function bootstrap() {
  return startService({
    name: 'aggregation',
    module: AggregationModule,
    port: (c) => c.ports.aggregation,
    partitioned: {
      group: AGGREGATION_GROUP,
      consumers: (c, partitions) =>
        partitionConsumers({ stream: streams.clean, durable: durables.aggregation, subject: subjects.clean, partitions, ackWaitMs: c.ackWaitMs, ...framedBatches(c) }),
      owner: (app) => app.get(AggregationService),
    },
  });
}

if (require.main === module) void bootstrap();
