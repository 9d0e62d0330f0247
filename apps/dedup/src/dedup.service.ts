import { Inject, Injectable, Logger, OnApplicationBootstrap, OnApplicationShutdown, OnModuleInit } from '@nestjs/common';
import { CONFIG, TidemarkConfig } from '@tidemark/config';
import { BatchOutcome, ConsumedMessage, JetStreamConnection, JetStreamPublisher, Outcome } from '@tidemark/jetstream';
import { MetricsRegistry } from '@tidemark/observability';
import { REDIS, type RedisClient, RedisDedupStore, waitPolicyOf } from '@tidemark/state';
import { JetStreamCleanStream } from './clean-stream';
import { DedupProcessor } from './dedup.processor';

/**
 * Binds the DedupProcessor to Redis, the clean stream and the metrics; turns its result into a batch outcome.
 * Also sweeps claims past DEDUP_TTL_MS out of the owned partitions every DEDUP_SWEEP_INTERVAL_MS.
 */
@Injectable()
export class DedupService implements OnModuleInit, OnApplicationBootstrap, OnApplicationShutdown {
  private readonly logger = new Logger(DedupService.name);
  private readonly processor: DedupProcessor;
  private readonly store: RedisDedupStore;
  private readonly events;
  private readonly frames;
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
    this.processor = new DedupProcessor(this.store, new JetStreamCleanStream(connection, publisher, config.fault.dedupKillAfterForward), {
      maxEvents: config.frameMaxEvents,
      maxBytes: config.frameMaxBytes,
    });
    this.events = metrics.counter('tidemark_dedup_events_total', 'Raw events by dedup decision', ['outcome']);
    this.frames = metrics.counter('tidemark_dedup_frames_total', 'Clean frames published');
    this.swept = metrics.counter('tidemark_dedup_expired_total', 'Remembered ids dropped past the horizon');
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

  async process(batch: ConsumedMessage[], partition: number): Promise<BatchOutcome> {
    const r = await this.processor.process(partition, batch);
    this.events.inc({ outcome: 'forwarded' }, r.forwarded);
    this.events.inc({ outcome: 'duplicate' }, r.duplicates);
    this.events.inc({ outcome: 'replayed' }, r.replayed);
    this.frames.inc(r.frames);
    if (r.poison.length) this.events.inc({ outcome: 'poison' }, r.poison.length);
    return Outcome.ack(r.poison);
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
      if (this.config.ownedPartitions.includes(0)) dropped = await this.store.sweep(now);
      this.swept.inc(dropped);
    } catch (error) {
      this.logger.warn(`dedup sweep failed (tried again next interval): ${(error as Error).message}`);
    } finally {
      this.sweeping = false;
    }
    return dropped;
  }
}
