import { BeforeApplicationShutdown, Inject, Injectable, Logger, OnApplicationBootstrap, OnApplicationShutdown } from '@nestjs/common';
import { hostname } from 'node:os';
import { WindowResultDto, subjects } from '@tidemark/contracts';
import { CONFIG, TidemarkConfig } from '@tidemark/config';
import { JetStreamPublisher } from '@tidemark/jetstream';
import { MetricsRegistry } from '@tidemark/observability';
import { LeaderLease, memberId, RedisGroupStore } from '@tidemark/runtime';
import { REDIS, type RedisClient, waitPolicyOf } from '@tidemark/state';
import { WatermarkState, WindowFirer } from '@tidemark/streaming';
import { METRICS } from './aggregation.constants';
import { LoadedMetrics } from './metric-loader';
import { RedisAggregationStore } from './redis-aggregation.store';

/** The firer's leader lease (libs/runtime LeaderLease: `tm:group:{aggregation-firer}:lease`). */
export const FIRER_LEASE = 'aggregation-firer';

const NUDGE_GAP_MS = 25;

/** `Nats-Msg-Id` of a result: a version is published once, whoever publishes it again (docs/checkpoints.md). */
export const resultMsgId = (r: WindowResultDto) => `${r.metric}|${r.key}|${r.windowStart}|${r.windowEnd}|v${r.version}`;

/** Publishes results on results.<metric>, each with its idempotent message id. */
export async function publishResults(publisher: JetStreamPublisher, results: readonly WindowResultDto[]): Promise<void> {
  if (results.length === 0) return;
  await publisher.publishBatch(results.map((r) => ({ subject: subjects.result(r.metric), data: Buffer.from(JSON.stringify(r)), msgId: resultMsgId(r) })));
}

/**
 * The Nest side of libs/streaming's WindowFirer: runs its rounds — operator watermark, windows fired by
 * merging every partition's checkpointed panes, re-firings, joins, the purge horizon — in the one instance
 * that holds the firer lease, every FIRE_INTERVAL_MS or as soon as a checkpoint moved a partition's watermark.
 */
@Injectable()
export class Firer implements OnApplicationBootstrap, BeforeApplicationShutdown, OnApplicationShutdown {
  private readonly logger = new Logger(Firer.name);
  /** One instance fires at a time; another takes over when it releases (graceful stop) or stops renewing. */
  private readonly lease: LeaderLease;
  private readonly core: WindowFirer;
  private timer?: NodeJS.Timeout;
  private running?: Promise<void>;
  private stopped = false;
  private nudged = false;
  private lastRoundAt = 0;
  private readonly fired;
  private readonly fireDelay;

  constructor(
    @Inject(REDIS) private readonly redis: RedisClient,
    @Inject(CONFIG) private readonly config: TidemarkConfig,
    @Inject(METRICS) loaded: LoadedMetrics,
    private readonly publisher: JetStreamPublisher,
    registry: MetricsRegistry,
  ) {
    this.lease = new LeaderLease(new RedisGroupStore(redis), FIRER_LEASE, memberId(hostname(), process.pid), Math.max(2000, config.fireIntervalMs * 10));
    this.core = new WindowFirer(loaded.set, new RedisAggregationStore(redis, loaded.set, { wait: waitPolicyOf(config) }), (rs) => publishResults(publisher, rs), {
      partitions: config.partitions,
      maxOutOfOrdernessMs: config.maxOutOfOrdernessMs,
      idleTimeoutMs: config.idleTimeoutMs,
      idleAdvance: config.watermarkIdleAdvance,
      allowedLatenessMs: config.allowedLatenessMs,
      resultRetentionMs: config.resultRetentionMs,
    });
    this.fired = registry.counter('tidemark_windows_fired_total', 'Window results published, by metric and whether a re-firing', ['metric', 'refire']);
    this.fireDelay = registry.histogram('tidemark_fire_delay_seconds', 'From the firing round that saw the watermark pass a window end to its result being published (add up to FIRE_INTERVAL_MS of polling)', [], [0.001, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5]);
    // Read at scrape time from every partition's checkpoint, like the firer does.
    registry.gauge('tidemark_watermark_seconds', 'The operator watermark (event time), Unix seconds; absent until one exists', [], async (g) => {
      g.reset();
      const wm = (await this.watermarkState().catch(() => undefined))?.watermark;
      if (wm !== undefined && wm !== null) g.set(wm / 1000);
    });
    registry.gauge('tidemark_event_time_lag_seconds', 'How far the operator watermark is behind the wall clock, seconds', [], async (g) => {
      g.reset();
      const wm = (await this.watermarkState().catch(() => undefined))?.watermark;
      if (wm !== undefined && wm !== null) g.set(Math.max(0, Date.now() - wm) / 1000);
    });
    registry.gauge('tidemark_partition_watermark_seconds', "A partition's watermark (its highest event time minus MAX_OUT_OF_ORDERNESS_MS), Unix seconds", ['partition'], async (g) => {
      g.reset();
      const state = await this.watermarkState().catch(() => undefined);
      for (const [p, s] of Object.entries(state?.partitions ?? {})) if (s.maxTs !== null) g.set({ partition: p }, (s.maxTs - this.config.maxOutOfOrdernessMs) / 1000);
    });
  }

  onApplicationBootstrap(): void {
    this.timer = setTimeout(this.loop, 0);
  }

  private readonly loop = async (): Promise<void> => {
    if (this.stopped) return;
    this.nudged = false;
    this.lastRoundAt = Date.now();
    this.running = this.tick(this.lastRoundAt).catch((e) => this.logger.warn(`firing round failed: ${(e as Error).message}`));
    await this.running;
    this.running = undefined;
    if (!this.stopped) this.timer = setTimeout(this.loop, this.nudged ? this.nudgeDelay() : this.config.fireIntervalMs);
  };

  /** Nudged rounds start at least NUDGE_GAP_MS apart: under a backlog every checkpoint moves a watermark. */
  private nudgeDelay(): number {
    return Math.max(0, this.lastRoundAt + Math.min(NUDGE_GAP_MS, this.config.fireIntervalMs) - Date.now());
  }

  /** A checkpoint moved its partition's watermark: run a round now rather than at the next poll. */
  nudge(): void {
    if (this.stopped) return;
    this.nudged = true;
    if (this.running) return;
    clearTimeout(this.timer);
    this.timer = setTimeout(this.loop, this.nudgeDelay());
  }

  /** Stops firing and gives the lease up at once (while Redis is still there): another instance fires next round. */
  async beforeApplicationShutdown(): Promise<void> {
    this.stopped = true;
    clearTimeout(this.timer);
    await this.running;
    await this.lease.release().catch((e) => this.logger.warn(`releasing the firer lease failed: ${(e as Error).message}`));
  }

  async onApplicationShutdown(): Promise<void> {
    this.stopped = true;
    clearTimeout(this.timer);
    await this.running;
  }

  /** The watermark state of every partition's checkpoint and the operator watermark. */
  watermarkState(): Promise<WatermarkState> {
    return this.core.watermarkState();
  }

  /** One round if this instance holds the lease. Exposed for tests. */
  async tick(now: number): Promise<void> {
    if (!(await this.lease.hold())) return;
    const r = await this.core.round(now);
    const delay = (Date.now() - now) / 1000;
    for (const f of r.fired) {
      this.fired.inc({ metric: f.metric, refire: f.version > 1 ? 'yes' : 'no' });
      if (f.version === 1) this.fireDelay.observe(delay);
    }
  }
}
