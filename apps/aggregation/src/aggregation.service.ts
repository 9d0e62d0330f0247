import { Inject, Injectable, Logger, OnApplicationBootstrap, OnApplicationShutdown, OnModuleInit } from '@nestjs/common';
import { CONFIG, TidemarkConfig } from '@tidemark/config';
import { subjects, type TidemarkEvent } from '@tidemark/contracts';
import { BatchContext, BatchOutcome, ConsumedMessage, DeadLetterRequest, FramedEvent, JetStreamPublisher } from '@tidemark/jetstream';
import { MetricsRegistry } from '@tidemark/observability';
import { REDIS, type RedisClient, waitPolicyOf } from '@tidemark/state';
import { PartitionOperator, lateMsgId } from '@tidemark/streaming';
import { CheckpointedPartitions, CheckpointResult, FRAME_DECODER, PartitionOwner, PartitionState, pipelineLatency } from '@tidemark/runtime';
import { METRICS } from './aggregation.constants';
import { Firer, publishResults } from './firer';
import { LoadedMetrics } from './metric-loader';
import { RedisAggregationStore } from './redis-aggregation.store';

/**
 * One partition of the aggregation (docs/checkpoints.md): libs/streaming's PartitionOperator in memory, its
 * checkpoints in Redis (RedisAggregationStore), late events to events.late.<metric>, session results
 * published after the checkpoint that fired them.
 */
class AggregationPartition implements PartitionState {
  constructor(
    readonly op: PartitionOperator,
    private readonly store: RedisAggregationStore,
    private readonly publisher: JetStreamPublisher,
    private readonly onCheckpointed: (maxTsMoved: boolean) => void,
    private readonly counts: { applied: (n: number) => void; late: (n: number) => void },
    private readonly logger: Logger,
    private readonly written: (worked: boolean) => void,
  ) {}

  private lastMaxTs: number | null = null;

  async restore(): Promise<number> {
    const snap = await this.store.restore(this.op.partition);
    this.op.restore(snap);
    this.lastMaxTs = snap.maxTs;
    await this.flushOutbox();
    return snap.seq;
  }

  async apply(events: FramedEvent[], now: number): Promise<DeadLetterRequest[]> {
    // Lateness is decided with the operator watermark as the firer last raised it (one HMGET a batch).
    const w = await this.store.watermarkOf(this.op.partition);
    this.op.observe(w.watermark, w.horizon);
    const out = this.op.apply(
      events.map((e) => ({ event: e.event as TidemarkEvent, seq: e.seq, index: e.index })),
      now,
    );
    // Lateness only grows with the watermark (a restore brings back at least the one decided with), so a
    // replay never un-lates an event; the message id makes a repeat for the same windows a no-op, and a replay
    // that finds it late for more windows reports it again (lateMsgId).
    if (out.late.length > 0) {
      await this.publisher.publishBatch(
        out.late.map((l) => ({
          subject: subjects.late(l.metric),
          msgId: lateMsgId(l),
          data: Buffer.from(JSON.stringify({ metric: l.metric, event: l.event, windows: l.windows, watermark: l.watermark, reason: l.reason })),
        })),
      );
    }
    this.counts.applied(out.processed);
    this.counts.late(out.late.length);
    return out.invalid
      .filter((inv) => inv.seq !== null)
      .map((inv) => ({ seq: inv.seq!, reason: inv.error, ...(inv.index === undefined ? {} : { index: inv.index, data: Buffer.from(JSON.stringify(inv.event) ?? 'null') }) }));
  }

  async checkpoint(expectedSeq: number, seq: number, _now: number, token?: number): Promise<CheckpointResult> {
    const { checkpoint } = this.op.prepare(expectedSeq, seq);
    const r = await this.store.checkpoint(this.op.partition, token === undefined ? checkpoint : { ...checkpoint, token });
    if (r.status === 'conflict') return { status: 'conflict', lastSeq: r.seq };
    if (r.status === 'fenced') return r;
    this.written(seq > expectedSeq || checkpoint.outbox !== '');
    this.op.committed(r.watermark, r.horizon);
    // Session results go out only after a durable checkpoint: one written but not yet on a replica keeps them.
    if (r.durable !== false) await this.flushOutbox();
    const moved = checkpoint.maxTs !== this.lastMaxTs;
    this.lastMaxTs = checkpoint.maxTs;
    this.onCheckpointed(moved);
    return { status: r.durable === false ? 'written' : 'ok' };
  }

  dirty(): boolean {
    return this.op.dirty() || this.op.outbox.length > 0;
  }

  activate(now: number): void {
    this.op.activate(now);
  }

  /** Session results of durable checkpoints, published; what fails stays in the outbox for the next try. */
  private async flushOutbox(): Promise<void> {
    const out = this.op.outbox;
    if (out.length === 0) return;
    try {
      await publishResults(this.publisher, out);
      this.op.published(out.length);
    } catch (e) {
      this.logger.warn(`partition ${this.op.partition}: publishing ${out.length} session result(s) failed: ${(e as Error).message}; kept in the outbox`);
    }
  }
}

/** Binds the checkpointed partitions to the consumer, Redis, JetStream and the metrics. */
@Injectable()
export class AggregationService implements OnModuleInit, OnApplicationBootstrap, OnApplicationShutdown, PartitionOwner {
  private readonly logger = new Logger(AggregationService.name);
  private readonly partitions: CheckpointedPartitions<AggregationPartition>;
  private readonly latency;
  private readonly owned: readonly number[];
  private checkpoints = 0;
  private readonly store: RedisAggregationStore;

  constructor(
    @Inject(REDIS) redis: RedisClient,
    @Inject(CONFIG) config: TidemarkConfig,
    @Inject(METRICS) metrics: LoadedMetrics,
    publisher: JetStreamPublisher,
    firer: Firer,
    registry: MetricsRegistry,
  ) {
    const store = new RedisAggregationStore(redis, metrics.set, { wait: waitPolicyOf(config) });
    this.store = store;
    // Group assignment: partitions are opened as their leases are won (acquirePartition), not all at start.
    this.owned = config.partitionAssignment === 'group' ? [] : config.ownedPartitions;
    const options = {
      maxOutOfOrdernessMs: config.maxOutOfOrdernessMs,
      idleTimeoutMs: config.idleTimeoutMs,
      idleAdvance: config.watermarkIdleAdvance,
      allowedLatenessMs: config.allowedLatenessMs,
    };
    const counts = registry.counter('tidemark_aggregation_events_total', 'Clean events by outcome (applied, late; replayed: at or before what was applied)', ['outcome']);
    const durations = registry.histogram('tidemark_checkpoint_duration_seconds', 'One checkpoint of a partition: prepare, the fenced write, publishing its session results', ['outcome'], [0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 1]);
    registry.gauge('tidemark_operator_state_entries', 'Pane cells, sessions and join keys held in memory, by partition', ['partition'], (g) => {
      g.reset();
      for (const p of this.partitions.partitions) {
        const s = this.partitions.state(p);
        if (s) g.set({ partition: String(p) }, s.op.size);
      }
    });
    this.partitions = new CheckpointedPartitions(
      (p) =>
        new AggregationPartition(
          new PartitionOperator(metrics.set, p, options),
          store,
          publisher,
          (moved) => {
            if (moved) firer.nudge();
          },
          { applied: (n) => counts.inc({ outcome: 'applied' }, n), late: (n) => counts.inc({ outcome: 'late' }, n) },
          this.logger,
          (worked) => {
            // TIDEMARK_FAULT=aggregation-kill-after-checkpoint:N (the crash tests): the N-th checkpoint that
            // wrote events or fired sessions is written; its session results are not published, its batches
            // not acked.
            const n = config.fault.aggregationKillAfterCheckpoint;
            if (n !== undefined && worked && ++this.checkpoints >= n) process.kill(process.pid, 'SIGKILL');
          },
        ),
      {
        decoder: FRAME_DECODER,
        intervalMs: config.checkpointIntervalMs,
        maxEvents: config.checkpointMaxEvents,
        logger: this.logger,
        onCheckpoint: (i) => durations.observe({ outcome: i.outcome }, i.durationMs / 1000),
        onBatch: (b) => {
          if (b.replayed > 0) counts.inc({ outcome: 'replayed' }, b.replayed);
        },
        leased: config.partitionAssignment === 'group',
      },
    );
    this.latency = pipelineLatency(registry);
  }

  /** Before the partitions open and the firer runs: the firer's keys of the layout before `{agg}` renamed (once). */
  async onModuleInit(): Promise<void> {
    const moved = await this.store.migrateLegacyKeys();
    if (moved > 0) this.logger.log(`renamed ${moved} firer keys to their {agg} hash-tagged names`);
  }

  async onApplicationBootstrap(): Promise<void> {
    await this.partitions.open(this.owned, Date.now());
    this.partitions.start();
  }

  async onApplicationShutdown(): Promise<void> {
    await this.partitions.stop(Date.now());
  }

  /** Group assignment: a partition won — restore it and write a checkpoint with the new token at once. */
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
