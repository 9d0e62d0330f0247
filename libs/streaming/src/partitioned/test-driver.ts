/**
 * The topology test driver (like Kafka Streams' TopologyTestDriver, Flink's operator test harness): the
 * aggregation service's own operator — one PartitionOperator per partition, checkpointed into a store, and
 * the WindowFirer over that store — driven by a test with events, watermarks and processing time. No
 * broker, no Redis (MemoryAggregationStore, the same contract as the Redis store), no clock.
 *
 *   const d = new PartitionedTestDriver(DEFAULT_METRICS, { partitions: 2 });
 *   await d.processBatch(events, { partition: 1 });   // apply, checkpoint, fire (until nothing moves)
 *   await d.processWatermark(end);  d.latest('orders');  d.lateOutput;
 *   await d.crash(1);                                  // memory lost, restored, the rest replayed
 *
 * After each call the driver "settles": every partition checkpoints (learning the operator watermark and
 * purge horizon), the firer runs a round, until nothing changes — what the service does over a few
 * checkpoint intervals. `autoSettle: false` leaves the timing to the test (checkpoint / fire).
 */
import type { TidemarkEvent, WindowResultDto } from '@tidemark/contracts';
import { lateMsgId, type LateEvent } from '../late-event';
import { MetricSet } from '../metrics/compile';
import { DEFAULT_METRICS } from '../metrics/default-metrics';
import type { MetricDefinition } from '../metrics/metric-definitions';
import type { InvalidEvent, StreamingOptions } from '../pre-aggregate';
import { PartitionOperator } from './partition-operator';
import { MemoryAggregationStore, type AggregationStore } from './store';
import { WindowFirer } from './window-firer';

export interface DriverOptions extends StreamingOptions {
  partitions?: number;
  /** Checkpoint and fire after every call (default true). */
  autoSettle?: boolean;
  resultRetentionMs?: number;
  /** The store (default: a MemoryAggregationStore); e.g. the Redis one, to run the same tests against it. */
  store?: AggregationStore;
}

const byWindow = (a: WindowResultDto, b: WindowResultDto) => a.windowStart - b.windowStart || a.windowEnd - b.windowEnd || (a.key < b.key ? -1 : a.key > b.key ? 1 : 0);

export class PartitionedTestDriver {
  readonly metrics: MetricSet;
  readonly store: AggregationStore;
  readonly firer: WindowFirer;
  readonly partitions: number;
  readonly operators: PartitionOperator[] = [];
  /** Every published result, in order (repeats of a version, as after a crash, are dropped like JetStream does). */
  readonly results: WindowResultDto[] = [];
  readonly lateOutput: LateEvent[] = [];
  readonly invalid: InvalidEvent[] = [];
  readonly skipped: Record<string, number> = {};
  private readonly published = new Set<string>();
  private readonly log: { seq: number; event: TidemarkEvent }[][] = [];
  private readonly applied: number[] = [];
  private readonly checkpointed: number[] = [];
  private now = 0;
  private readonly autoSettle: boolean;

  constructor(
    metrics: readonly MetricDefinition[] | MetricSet = DEFAULT_METRICS,
    readonly options: DriverOptions = {},
  ) {
    this.metrics = metrics instanceof MetricSet ? metrics : new MetricSet(metrics);
    this.store = options.store ?? new MemoryAggregationStore();
    this.partitions = options.partitions ?? 1;
    this.autoSettle = options.autoSettle ?? true;
    const publish = async (rs: WindowResultDto[]) => this.collect(rs);
    this.firer = new WindowFirer(this.metrics, this.store, publish, {
      ...options,
      partitions: this.partitions,
      allowedLatenessMs: new PartitionOperator(this.metrics, 0, options).allowedLatenessMs,
      resultRetentionMs: options.resultRetentionMs,
    });
    for (let p = 0; p < this.partitions; p++) {
      this.operators.push(new PartitionOperator(this.metrics, p, options));
      this.log.push([]);
      this.applied.push(0);
      this.checkpointed.push(0);
    }
  }

  get processingTime(): number {
    return this.now;
  }

  /** Held (pane, key) cells, sessions and join keys, all partitions. */
  get openState(): number {
    return this.operators.reduce((n, o) => n + o.size, 0);
  }

  async processBatch(events: readonly TidemarkEvent[], opts: { partition?: number } = {}): Promise<this> {
    const p = opts.partition ?? 0;
    const seq = ++this.applied[p];
    this.log[p].push(...events.map((event) => ({ seq, event })));
    const out = this.operators[p].apply(
      events.map((event) => ({ event, seq })),
      this.now,
    );
    this.lateOutput.push(...out.late);
    this.invalid.push(...out.invalid);
    for (const [m, n] of Object.entries(out.skipped)) this.skipped[m] = (this.skipped[m] ?? 0) + n;
    if (this.autoSettle) await this.settle();
    return this;
  }

  async processElements(events: readonly TidemarkEvent[], opts: { partition?: number } = {}): Promise<this> {
    for (const e of events) await this.processBatch([e], opts);
    return this;
  }

  /** An external watermark: raises the operator watermark (never lowers it), then settles. */
  async processWatermark(watermark: number): Promise<this> {
    // Raised like the firer raises it: a partition record found below the global watermark is noted for repair.
    await this.store.raiseWatermark(this.partitions, watermark, await this.store.watermark());
    if (this.autoSettle) await this.settle();
    return this;
  }

  /** Moves processing time (never backwards): idleness and wall-clock advance act at the next round. */
  async setProcessingTime(now: number): Promise<this> {
    this.now = Math.max(this.now, now);
    if (this.autoSettle) await this.settle();
    return this;
  }

  /** One checkpoint of a partition (what CheckpointedPartitions does on its interval). */
  async checkpoint(p: number): Promise<void> {
    const op = this.operators[p];
    const { checkpoint, publish } = op.prepare(this.checkpointed[p], this.applied[p]);
    const r = await this.store.checkpoint(p, checkpoint);
    if (r.status === 'conflict') throw new Error(`partition ${p}: checkpoint conflict at ${r.seq}`);
    if (r.status === 'fenced') throw new Error(`partition ${p}: checkpoint fenced by token ${r.token}`);
    this.checkpointed[p] = this.applied[p];
    op.committed(r.watermark, r.horizon);
    this.collect(publish);
    op.published(publish.length);
  }

  /** One firer round. */
  async fire(): Promise<void> {
    await this.firer.round(this.now);
  }

  /** Checkpoints and fires until nothing changes any more. */
  async settle(): Promise<void> {
    for (let i = 0; i < 10; i++) {
      const before = await this.settleState();
      for (let p = 0; p < this.partitions; p++) await this.checkpoint(p);
      await this.fire();
      for (let p = 0; p < this.partitions; p++) await this.checkpoint(p);
      if ((await this.settleState()) === before) return;
    }
  }

  /** What a round can change: results, the watermark, the horizon, and the watermarks partitions decided with (they raise the horizon). */
  private async settleState(): Promise<string> {
    const seen = (await this.store.statuses(this.partitions)).map((s) => s.seenWatermark);
    return `${this.results.length}|${await this.store.watermark()}|${await this.store.horizon()}|${seen.join(',')}`;
  }

  /**
   * kill -9 of the partition's owner: memory is lost; a new operator restores the checkpoint, publishes its
   * outbox, and the events after the checkpoint are delivered again.
   */
  async crash(p: number): Promise<void> {
    const op = new PartitionOperator(this.metrics, p, this.options);
    const snap = await this.store.restore(p);
    op.restore(snap);
    this.operators[p] = op;
    this.collect(op.outbox);
    op.published(op.outbox.length);
    const replay = this.log[p].filter((x) => x.seq > snap.seq);
    this.checkpointed[p] = snap.seq;
    const bySeq = new Map<number, TidemarkEvent[]>();
    for (const x of replay) bySeq.set(x.seq, [...(bySeq.get(x.seq) ?? []), x.event]);
    // A replay judged against a watermark that moved on can send events late, or late for more windows:
    // reported once per (event, metric, windows missed), as the service's Nats-Msg-Id does (lateMsgId).
    const reported = new Set(this.lateOutput.map(lateMsgId));
    for (const [seq, events] of bySeq) {
      const out = op.apply(events.map((event) => ({ event, seq })), this.now);
      this.lateOutput.push(...out.late.filter((l) => !reported.has(lateMsgId(l))));
    }
    if (this.autoSettle) await this.settle();
  }

  /**
   * A failover of partition `p`'s Redis slot that lost its last writes — `lose` puts the slot back as it was
   * earlier (MemoryAggregationStore copyPartition / resetPartition; DUMP / RESTORE on a real Redis):
   * checkpoints, the firer's raises, cleared marks. When a checkpoint went (its sequence or epoch is back),
   * the partition's next checkpoint conflicts and it restores and replays from the older one, as after a
   * crash; when only the firer's writes went, the partition keeps its memory.
   */
  async failover(p: number, lose: () => unknown): Promise<void> {
    await lose();
    const snap = await this.store.restore(p);
    if (snap.seq !== this.checkpointed[p] || snap.epoch !== this.operators[p].epoch) await this.crash(p);
    else if (this.autoSettle) await this.settle();
  }

  resultsOf(metric: string, key?: string): WindowResultDto[] {
    return this.results.filter((r) => r.metric === metric && (key === undefined || r.key === key));
  }

  /** The last published version of every window of a metric, by window then key. */
  latest(metric: string): WindowResultDto[] {
    const last = new Map<string, WindowResultDto>();
    for (const r of this.resultsOf(metric)) {
      const id = `${r.key}\u0000${r.windowStart}\u0000${r.windowEnd}`;
      const cur = last.get(id);
      if (!cur || r.version > cur.version) last.set(id, r);
    }
    // A session merged into a larger one is superseded: only windows still stored count.
    return [...last.values()].sort(byWindow);
  }

  /** The results the store keeps for queries (a session merged into a larger one is gone), by window then key. */
  stored(metric: string): WindowResultDto[] {
    if (!(this.store instanceof MemoryAggregationStore)) throw new Error('stored() reads a MemoryAggregationStore');
    const all = [...this.store.allResults()];
    for (let p = 0; p < this.partitions; p++) all.push(...this.store.partitionResults(p));
    return all
      .filter((r) => r.metric === metric && r.value !== null)
      .map((r) => JSON.parse(r.value!) as WindowResultDto)
      .sort(byWindow);
  }

  lateOf(metric: string): LateEvent[] {
    return this.lateOutput.filter((l) => l.metric === metric);
  }

  clearOutput(): this {
    this.results.length = 0;
    this.lateOutput.length = 0;
    this.invalid.length = 0;
    for (const k of Object.keys(this.skipped)) delete this.skipped[k];
    return this;
  }

  private collect(rs: readonly WindowResultDto[]): void {
    for (const r of rs) {
      const id = `${r.metric}|${r.key}|${r.windowStart}|${r.windowEnd}|v${r.version}`;
      if (this.published.has(id)) continue; // JetStream's duplicate window drops a repeated Nats-Msg-Id
      this.published.add(id);
      this.results.push(r);
    }
  }
}
