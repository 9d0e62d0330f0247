import { durables, streams, subjects } from '@tidemark/contracts';
import { partitionConsumers } from '@tidemark/jetstream';
import { framedBatches, startService } from '@tidemark/runtime';
import { DedupModule } from './dedup.module';

/** Consumes events.raw.<p> for the owned partitions and forwards first occurrences to events.clean.<p>. */
export function bootstrap() {
  return startService({
    name: 'dedup',
    module: DedupModule,
    port: (c) => c.ports.dedup,
    consumers: (c) =>
      partitionConsumers({ stream: streams.raw, durable: durables.dedup, subject: subjects.raw, partitions: c.ownedPartitions, ackWaitMs: c.ackWaitMs, ...framedBatches(c) }),
  });
}

if (require.main === module) void bootstrap();
