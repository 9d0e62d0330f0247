import { Inject, Injectable } from '@nestjs/common';
import { CONFIG, TidemarkConfig } from '@tidemark/config';
import { BatchOutcome, ConsumedMessage, Outcome } from '@tidemark/jetstream';
import { MetricsRegistry } from '@tidemark/observability';
import { pipelineLatency } from '@tidemark/runtime';
import type { RecStore } from '@tidemark/recommend';
import { REC_STORE } from './recommendation.constants';
import { RecommendationProcessor } from './recommendation.processor';

/** Binds the processor to the Redis store and the metrics, and turns its outcome into the transport's. */
@Injectable()
export class RecommendationService {
  private readonly processor: RecommendationProcessor;
  private readonly counts;
  private readonly latency;

  constructor(@Inject(REC_STORE) store: RecStore, @Inject(CONFIG) config: TidemarkConfig, registry: MetricsRegistry) {
    this.processor = new RecommendationProcessor(store, config.recs.params);
    this.latency = pipelineLatency(registry);
    this.counts = registry.counter('tidemark_recs_events_total', 'Clean events by outcome (applied, replayed)', ['outcome']);
  }

  async process(batch: ConsumedMessage[], partition: number): Promise<BatchOutcome> {
    const r = await this.processor.process(batch, partition);
    switch (r.kind) {
      case 'applied':
        this.counts.inc({ outcome: 'applied' }, r.events);
        this.latency(batch, Date.now());
        return Outcome.ack(r.deadLetters);
      case 'replayed':
        this.counts.inc({ outcome: 'replayed' }, r.events);
        return Outcome.ack(r.deadLetters);
      case 'retry':
        return Outcome.retry(0, r.reason);
    }
  }
}
