import { durables, streams, subjects } from '@tidemark/contracts';
import { partitionConsumers } from '@tidemark/jetstream';
import { framedBatches, startService } from '@tidemark/runtime';
import { AggregationModule } from './aggregation.module';

/** Consumes events.clean.<p> for the owned partitions; fires windows to results.<metric>; answers queries. */
export function bootstrap() {
  return startService({
    name: 'aggregation',
    module: AggregationModule,
    port: (c) => c.ports.aggregation,
    consumers: (c) =>
      partitionConsumers({ stream: streams.clean, durable: durables.aggregation, subject: subjects.clean, partitions: c.ownedPartitions, ackWaitMs: c.ackWaitMs, ...framedBatches(c) }),
  });
}

if (require.main === module) void bootstrap();
