import { Inject, Injectable } from '@nestjs/common';
import type Redis from 'ioredis';
import { CONFIG, TidemarkConfig } from '@tidemark/config';
import { BatchOutcome, ConsumedMessage, JetStreamPublisher, Outcome } from '@tidemark/jetstream';
import { MetricsRegistry } from '@tidemark/observability';
import { REDIS, RedisFencedWriter } from '@tidemark/state';
import { PreAggregator } from '@tidemark/streaming';
import { pipelineLatency } from '@tidemark/runtime';
import { METRICS } from './aggregation.constants';
import { AggregationProcessor } from './aggregation.processor';
import { Firer } from './firer';
import { LoadedMetrics } from './metric-loader';
import { readSessions } from './window-store';

/** Binds the processor to Redis, JetStream and the metrics, and turns its outcome into the transport's. */
@Injectable()
export class AggregationService {
  private readonly processor: AggregationProcessor;
  private readonly counts;
  private readonly latency;

  constructor(
    @Inject(REDIS) redis: Redis,
    @Inject(CONFIG) config: TidemarkConfig,
    @Inject(METRICS) metrics: LoadedMetrics,
    publisher: JetStreamPublisher,
    private readonly firer: Firer,
    registry: MetricsRegistry,
  ) {
    const pre = new PreAggregator(metrics.set, {
      maxOutOfOrdernessMs: config.maxOutOfOrdernessMs,
      idleTimeoutMs: config.idleTimeoutMs,
      idleAdvance: config.watermarkIdleAdvance,
      allowedLatenessMs: config.allowedLatenessMs,
    });
    this.processor = new AggregationProcessor(new RedisFencedWriter(redis), publisher, pre, () => firer.watermarkState(), config.stateTtlMs, (pairs) =>
      readSessions(redis, pairs),
    );
    this.latency = pipelineLatency(registry);
    this.counts = registry.counter('tidemark_aggregation_events_total', 'Clean events by outcome (applied, late, replayed batches)', ['outcome']);
  }

  async process(batch: ConsumedMessage[], partition: number): Promise<BatchOutcome> {
    const r = await this.processor.process(batch, partition, Date.now());
    switch (r.kind) {
      case 'applied':
        if (r.watermarkMoved) this.firer.nudge();
        this.latency(batch, Date.now());
        this.counts.inc({ outcome: 'applied' }, r.events);
        this.counts.inc({ outcome: 'late' }, r.late);
        return Outcome.ack(r.deadLetters);
      case 'replayed':
        this.counts.inc({ outcome: 'replayed' }, r.events);
        return Outcome.ack(r.deadLetters);
      case 'retry':
        return Outcome.retry(0, r.reason);
    }
  }
}
