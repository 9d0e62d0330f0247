import { BeforeApplicationShutdown, Inject, Injectable, Logger, OnApplicationBootstrap } from '@nestjs/common';
import { CONFIG, TidemarkConfig } from '@tidemark/config';
import { BatchContext, BatchOutcome, ConsumedMessage, mentioning } from '@tidemark/jetstream';
import { MetricsRegistry } from '@tidemark/observability';
import { CheckpointedPartitions, PartitionOwner, frameDecoder, pipelineLatency } from '@tidemark/runtime';
import { INTERACTION_TYPES, type RecStore } from '@tidemark/recommend';
import { REC_STORE } from './recommendation.constants';
import { RecsPartitionState } from './recs-partition.state';

/**
 * Binds each owned clean partition's state (RecsPartitionState) to the shared checkpoint lifecycle: batches
 * are applied in memory and held, a checkpoint every RECS_CHECKPOINT_INTERVAL_MS (or CHECKPOINT_MAX_EVENTS events)
 * writes them to Redis, then they are acked (docs/recommendations.md "Checkpoints").
 */
@Injectable()
export class RecommendationService implements OnApplicationBootstrap, BeforeApplicationShutdown, PartitionOwner {
  private readonly logger = new Logger('recommendation');
  readonly partitions: CheckpointedPartitions<RecsPartitionState>;
  private readonly counts;
  private readonly latency;
  private checkpoints = 0;

  constructor(@Inject(REC_STORE) store: RecStore, @Inject(CONFIG) config: TidemarkConfig, registry: MetricsRegistry) {
    this.latency = pipelineLatency(registry);
    this.counts = registry.counter('tidemark_recs_events_total', 'Clean events by outcome (applied in memory; replayed: at or before what was applied; skipped: of no interaction type, not parsed)', ['outcome']);
    const checkpointSeconds = registry.histogram('tidemark_checkpoint_duration_seconds', 'One checkpoint of a partition: the fenced write of what changed, by outcome', ['outcome'], [0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 1]);
    const killAfter = config.fault.recsKillAfterCheckpoint;
    this.partitions = new CheckpointedPartitions(
      (p) =>
        new RecsPartitionState(store, p, config.recs.params, {
          onCheckpoint: () => {
            // TIDEMARK_FAULT=recs-kill-after-checkpoint:N — the crash tests: written, not acked
            if (killAfter !== undefined && ++this.checkpoints >= killAfter) process.kill(process.pid, 'SIGKILL');
          },
        }),
      {
        // Only product views, adds to cart and orders teach the recommender: the other events are not parsed.
        decoder: frameDecoder(mentioning(INTERACTION_TYPES)),
        intervalMs: config.recs.checkpointIntervalMs,
        maxEvents: config.checkpointMaxEvents,
        logger: this.logger,
        onCheckpoint: (i) => checkpointSeconds.observe({ outcome: i.outcome }, i.durationMs / 1000),
        onBatch: (b) => {
          if (b.applied > 0) this.counts.inc({ outcome: 'applied' }, b.applied);
          if (b.replayed > 0) this.counts.inc({ outcome: 'replayed' }, b.replayed);
          if (b.skipped > 0) this.counts.inc({ outcome: 'skipped' }, b.skipped);
        },
        leased: config.partitionAssignment === 'group',
      },
    );
  }

  onApplicationBootstrap(): void {
    this.partitions.start();
  }

  /** A last checkpoint of every partition while Redis and the consumers still run (a graceful stop replays nothing). */
  async beforeApplicationShutdown(): Promise<void> {
    await this.partitions.stop(Date.now());
  }

  /** Group assignment: a partition won — restore it and write a checkpoint with the new token at once (fences the previous owner). */
  async acquirePartition(partition: number, token: number): Promise<void> {
    await this.partitions.open([partition], Date.now(), token);
  }

  /** Group assignment: a partition going (its consumer stopped) — a last checkpoint, then forget it. */
  async releasePartition(partition: number): Promise<void> {
    await this.partitions.close(partition, Date.now());
  }

  async process(batch: ConsumedMessage[], ctx: BatchContext, partition: number): Promise<BatchOutcome> {
    const out = await this.partitions.handle(batch, ctx, partition, Date.now());
    if (out.kind === 'ack' || out.kind === 'hold') this.latency(batch, Date.now());
    return out;
  }
}
