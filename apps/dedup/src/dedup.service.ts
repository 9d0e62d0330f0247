import { Inject, Injectable, Logger, OnApplicationBootstrap, OnApplicationShutdown, OnModuleInit } from '@nestjs/common';
import { CONFIG, TidemarkConfig } from '@tidemark/config';
import { BatchContext, BatchOutcome, ConsumedMessage, JetStreamConnection, JetStreamPublisher } from '@tidemark/jetstream';
import { MetricsRegistry } from '@tidemark/observability';
import { CheckpointedPartitions } from '@tidemark/runtime';
import { REDIS, type RedisClient, RedisDedupStore, waitPolicyOf } from '@tidemark/state';
import { JetStreamCleanStream } from './clean-stream';
import { DedupPartition, RAW_FRAME_DECODER, type RawFrame } from './dedup-partition';

/**
 * Runs each owned raw partition's DedupPartition on the shared lifecycle (restore the forwarded floor, apply a
 * batch: claim and forward, ack), bound to Redis, the clean stream and the metrics. Also sweeps claims past
 * DEDUP_TTL_MS out of the owned partitions every DEDUP_SWEEP_INTERVAL_MS.
 */
@Injectable()
export class DedupService implements OnModuleInit, OnApplicationBootstrap, OnApplicationShutdown {
  private readonly logger = new Logger(DedupService.name);
  private readonly partitions: CheckpointedPartitions<DedupPartition, RawFrame>;
  private readonly store: RedisDedupStore;
  private readonly swept;
  private sweeper: NodeJS.Timeout | undefined;
  private sweeping = false;

  constructor(
    @Inject(REDIS) redis: RedisClient,
    @Inject(CONFIG) private readonly config: TidemarkConfig,
    connection: JetStreamConnection,
    publisher: JetStreamPublisher,
    metrics: MetricsRegistry,
  ) {
    this.store = new RedisDedupStore(redis, config.dedupTtlMs, { slots: config.dedupSlots, wait: waitPolicyOf(config) });
    const events = metrics.counter('tidemark_dedup_events_total', 'Raw events by dedup decision', ['outcome']);
    const frames = metrics.counter('tidemark_dedup_frames_total', 'Clean frames published');
    const clean = new JetStreamCleanStream(connection, publisher, config.fault.dedupKillAfterForward);
    const limits = { maxEvents: config.frameMaxEvents, maxBytes: config.frameMaxBytes };
    this.partitions = new CheckpointedPartitions(
      (p) =>
        new DedupPartition(p, this.store, clean, limits, (c) => {
          events.inc({ outcome: 'forwarded' }, c.forwarded);
          events.inc({ outcome: 'duplicate' }, c.duplicates);
          frames.inc(c.frames);
        }),
      {
        decoder: RAW_FRAME_DECODER,
        // The forward to the clean stream is dedup's checkpoint: every batch is acked as soon as it is forwarded.
        intervalMs: 0,
        maxEvents: 1,
        logger: this.logger,
        onBatch: (b) => {
          if (b.replayed > 0) events.inc({ outcome: 'replayed' }, b.replayed);
          if (b.deadLettered > 0) events.inc({ outcome: 'poison' }, b.deadLettered);
        },
      },
    );
    this.swept = metrics.counter('tidemark_dedup_expired_total', 'Remembered ids dropped past the horizon');
  }

  /** Whether this instance sweeps: it holds partition 0 (group assignment rewires it: main.ts). */
  sweepsHere: () => boolean = () => this.config.ownedPartitions.includes(0);

  /** A partition moved away (group assignment): forgotten; its forwarded floor is restored from the clean stream when it comes back. */
  async releasePartition(partition: number): Promise<void> {
    await this.partitions.close(partition, Date.now());
  }

  /** Before the first batch: slot hashes of the layout before the hash tags get their new names (once). */
  async onModuleInit(): Promise<void> {
    const moved = await this.store.migrateLegacyKeys();
    if (moved > 0) this.logger.log(`renamed ${moved} dedup slot hashes to their hash-tagged names`);
  }

  onApplicationBootstrap(): void {
    this.sweeper = setInterval(() => void this.sweep(), this.config.dedupSweepIntervalMs);
    this.sweeper.unref();
  }

  onApplicationShutdown(): void {
    clearInterval(this.sweeper);
  }

  process(batch: ConsumedMessage[], ctx: BatchContext, partition: number): Promise<BatchOutcome> {
    return this.partitions.handle(batch, ctx, partition, Date.now());
  }

  /**
   * One pass over the slots (shared by all partitions), by the instance that owns partition 0 — one
   * instance, however OWNED_PARTITIONS splits them; skipped while the previous pass runs.
   */
  async sweep(now = Date.now()): Promise<number> {
    if (this.sweeping) return 0;
    this.sweeping = true;
    let dropped = 0;
    try {
      if (this.sweepsHere()) dropped = await this.store.sweep(now);
      this.swept.inc(dropped);
    } catch (error) {
      this.logger.warn(`dedup sweep failed (tried again next interval): ${(error as Error).message}`);
    } finally {
      this.sweeping = false;
    }
    return dropped;
  }
}
