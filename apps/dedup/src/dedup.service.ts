import { Inject, Injectable } from '@nestjs/common';
import type Redis from 'ioredis';
import { CONFIG, TidemarkConfig } from '@tidemark/config';
import { BatchOutcome, ConsumedMessage, JetStreamPublisher, Outcome } from '@tidemark/jetstream';
import { MetricsRegistry } from '@tidemark/observability';
import { REDIS, RedisDedupStore } from '@tidemark/state';
import { DedupProcessor } from './dedup.processor';

/** Binds the DedupProcessor to Redis, the publisher and the metrics; turns its result into a batch outcome. */
@Injectable()
export class DedupService {
  private readonly processor: DedupProcessor;
  private readonly events;

  constructor(@Inject(REDIS) redis: Redis, @Inject(CONFIG) config: TidemarkConfig, publisher: JetStreamPublisher, metrics: MetricsRegistry) {
    this.processor = new DedupProcessor(new RedisDedupStore(redis, config.dedupTtlMs), publisher);
    this.events = metrics.counter('tidemark_dedup_events_total', 'Raw events by dedup decision', ['outcome']);
  }

  async process(batch: ConsumedMessage[], partition: number): Promise<BatchOutcome> {
    const r = await this.processor.process(batch.map((m) => ({ seq: m.seq, partition, data: m.data })));
    this.events.inc({ outcome: 'forwarded' }, r.forwarded);
    this.events.inc({ outcome: 'duplicate' }, r.duplicates);
    this.events.inc({ outcome: 'poison' }, r.poison.length);
    return Outcome.ack(r.poison);
  }
}
