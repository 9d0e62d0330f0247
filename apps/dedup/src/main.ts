import { durables, streams, subjects } from '@tidemark/contracts';
import { partitionConsumers } from '@tidemark/jetstream';
import { framedBatches, startService } from '@tidemark/runtime';
import { DedupModule } from './dedup.module';
import { DedupService } from './dedup.service';

/** The service group whose leases own dedup's raw partitions (PARTITION_ASSIGNMENT=group). */
export const DEDUP_GROUP = 'dedup';

/**
 * Consumes events.raw.<p> for the owned partitions (OWNED_PARTITIONS, or the leases it wins with
 * PARTITION_ASSIGNMENT=group) and forwards first occurrences to events.clean.<p>.
 *
 * Partitions that move (docs/scale-out.md): dedup's writes need no fencing token. Its output is fenced by the
 * clean stream itself — every forward names the subject's last sequence (Nats-Expected-Last-Subject-Sequence),
 * so a zombie that lost the partition cannot append once the new owner forwarded. Its id claims in Redis stay
 * unfenced on purpose: a claim's value is the id's place (raw stream sequence, index in the frame, the frame's
 * stored time), a function of the raw stream alone. A zombie claiming an id and then failing to forward
 * leaves exactly the claim the new owner would have written; the new owner finds the same place and forwards
 * the event (`retry`), never drops it as a duplicate (apps/dedup/src/dedup-partition.spec.ts, "a zombie's claims"). The sweep runs
 * on the holder of partition 0.
 */
export function bootstrap() {
  return startService({
    name: 'dedup',
    module: DedupModule,
    port: (c) => c.ports.dedup,
    partitioned: {
      group: DEDUP_GROUP,
      consumers: (c, partitions) =>
        partitionConsumers({ stream: streams.raw, durable: durables.dedup, subject: subjects.raw, partitions, ackWaitMs: c.ackWaitMs, ...framedBatches(c) }),
      owner: (app) => {
        const dedup = app.get(DedupService);
        let holdsZero = false;
        dedup.sweepsHere = () => holdsZero;
        return {
          acquirePartition: async (p) => {
            if (p === 0) holdsZero = true;
          },
          releasePartition: async (p) => {
            if (p === 0) holdsZero = false;
            await dedup.releasePartition(p);
          },
        };
      },
    },
  });
}

if (require.main === module) void bootstrap();
