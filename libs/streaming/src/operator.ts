/**
 * The in-memory windowed operator: every metric's windows, the event-time trigger, allowed lateness, the
 * late output and result versions. It goes through the same path as the aggregation service: a batch is
 * pre-aggregated into deltas (pre-aggregate.ts), the deltas are applied to accumulators with `applyDelta`,
 * then the watermark fires, re-fires and purges windows (trigger.ts):
 *
 *   - a window fires once W >= end: result final: true, version 1;
 *   - a fired window changed by a later batch (events within allowed lateness) re-fires: version + 1;
 *   - session windows merge per key; a merged session keeps the highest version of its parts and fires
 *     (again) at its new end;
 *   - a window's state is purged once W >= end + allowedLateness;
 *   - join metrics (interval joins) emit `unmatched` results (and `matched` corrections) — see interval-join.ts.
 *
 * Results of one watermark advance come out in window-end order (first firings), then re-firings, then join
 * emissions. Before it fires, a window's partial value is readable with `query` (final: false, version 0).
 */
import type { TidemarkEvent } from '@tidemark/contracts';
import { IntervalJoinOperator, joinResultValue } from './interval-join';
import type { LateEvent } from './late-event';
import { DEFAULT_METRICS } from './metrics/default-metrics';
import { CompiledWindowMetric, MetricSet } from './metrics/compile';
import type { MetricDefinition } from './metrics/metric-definitions';
import { InvalidEvent, JoinDeltaEntry, PreAggregateResult, PreAggregator, SequencedEvent, StreamingOptions, WindowDeltaEntry } from './pre-aggregate';
import { planSessionMerge } from './session-merge';
import { TimerQueue } from './timers';
import { isComplete } from './trigger';
import { WatermarkState, WatermarkTracker } from './watermark';

/** A window result (the shape of WindowResultDto; docs/architecture.md "Contracts: APIs and ports"). */
export interface WindowResult<V = unknown> {
  metric: string;
  key: string;
  windowStart: number;
  windowEnd: number;
  value: V;
  final: boolean;
  version: number;
}

export interface OperatorOutput {
  /** Results fired by this call, in firing order (final: true). */
  results: WindowResult[];
  late: LateEvent[];
  skipped: Record<string, number>;
  invalid: InvalidEvent[];
  watermark: number | null;
}

export interface ProcessContext {
  partition: string | number;
  /** Processing time, epoch ms. */
  now: number;
}

export interface QueryOptions {
  key?: string;
  /** Windows ending after `from` … */
  from?: number;
  /** … and starting before `to` (windows intersecting [from, to)). */
  to?: number;
}

/** Results ordered by window start, window end, then key. */
export function byWindow(a: WindowResult, b: WindowResult): number {
  return a.windowStart - b.windowStart || a.windowEnd - b.windowEnd || (a.key < b.key ? -1 : a.key > b.key ? 1 : 0);
}

interface Slot {
  metric: CompiledWindowMetric;
  key: string;
  start: number;
  end: number;
  acc: unknown;
  firedVersion: number;
  dirty: boolean;
  alive: boolean;
}

export class StreamingOperator {
  readonly metrics: MetricSet;
  readonly allowedLatenessMs: number;
  private readonly tracker: WatermarkTracker;
  private readonly pre: PreAggregator;
  private readonly aligned: Map<string, Map<number, Slot>>[] = [];
  private readonly sessions: Map<string, Slot[]>[] = [];
  private readonly joins: (IntervalJoinOperator | undefined)[] = [];
  private readonly fireQ = new TimerQueue<Slot>();
  private readonly purgeQ = new TimerQueue<Slot>();
  private readonly dirtyFired = new Set<Slot>();
  private open = 0;

  constructor(metrics: readonly MetricDefinition[] | MetricSet = DEFAULT_METRICS, options: StreamingOptions = {}, watermark?: WatermarkState) {
    this.metrics = metrics instanceof MetricSet ? metrics : new MetricSet(metrics);
    this.pre = new PreAggregator(this.metrics, options);
    this.allowedLatenessMs = this.pre.allowedLatenessMs;
    this.tracker = new WatermarkTracker(options, watermark);
    for (const m of this.metrics.metrics) {
      this.aligned[m.index] = new Map();
      this.sessions[m.index] = new Map();
      if (m.kind === 'join') this.joins[m.index] = new IntervalJoinOperator(m.join, this.allowedLatenessMs);
    }
  }

  get watermark(): number | null {
    return this.tracker.watermark;
  }

  watermarkState(): WatermarkState {
    return this.tracker.snapshot();
  }

  partitionWatermarks(): Record<string, number> {
    return this.tracker.partitionWatermarks();
  }

  /** Windows holding state (not purged), all metrics. */
  get openWindows(): number {
    return this.open;
  }

  /** Registers a partition before its first event (it holds the watermark until it sends or goes idle). */
  addPartition(partition: string | number, now: number): void {
    this.tracker.addPartition(partition, now);
  }

  processBatch(events: readonly (SequencedEvent | TidemarkEvent)[], ctx: ProcessContext): OperatorOutput {
    const seqd = events.map((e) => ('event' in e && typeof (e as SequencedEvent).event === 'object' ? (e as SequencedEvent) : { event: e as TidemarkEvent }));
    return this.applyPreAggregated(this.pre.runWith(this.tracker, ctx.partition, ctx.now, seqd));
  }

  processElement(event: TidemarkEvent, ctx: ProcessContext, seq?: number): OperatorOutput {
    return this.applyPreAggregated(this.pre.runWith(this.tracker, ctx.partition, ctx.now, [{ event, seq }]));
  }

  /** An external watermark: raises the operator watermark (never lowers it) and fires. */
  processWatermark(watermark: number): OperatorOutput {
    this.tracker.advanceTo(watermark);
    return { results: this.fire(), late: [], skipped: {}, invalid: [], watermark: this.tracker.watermark };
  }

  /** Processing time passes: idle partitions are skipped, wall-clock advance applies; fires what is due. */
  advanceProcessingTime(now: number): OperatorOutput {
    this.tracker.advance(now);
    return { results: this.fire(), late: [], skipped: {}, invalid: [], watermark: this.tracker.watermark };
  }

  /**
   * Applies a pre-aggregated batch (deltas and joins), raises the watermark to the batch's, then fires.
   * processBatch = pre-aggregate with this operator's watermark + applyPreAggregated.
   */
  applyPreAggregated(r: PreAggregateResult): OperatorOutput {
    for (const d of r.deltas) this.applyWindowDelta(d);
    for (const j of r.joins) this.applyJoinDelta(j);
    if (r.operatorWatermark !== null) this.tracker.advanceTo(r.operatorWatermark);
    return { results: this.fire(), late: r.late, skipped: r.skipped, invalid: r.invalid, watermark: this.tracker.watermark };
  }

  /** Current values of a metric's open windows (partial: final false, version 0; fired: final true), by window then key. */
  query(metric: string, opts: QueryOptions = {}): WindowResult[] {
    const m = this.metrics.get(metric);
    if (!m) throw new Error(`unknown metric "${metric}"`);
    const out: WindowResult[] = [];
    const inRange = (start: number, end: number) => (opts.from === undefined || end > opts.from) && (opts.to === undefined || start < opts.to);
    if (m.kind === 'join') {
      const join = this.joins[m.index]!;
      const keys = opts.key === undefined ? join.keys() : [opts.key];
      for (const key of keys) {
        const st = join.state(key);
        if (!st?.left) continue;
        const start = st.left.ts;
        const end = start + m.join.upperMs;
        if (!inRange(start, end)) continue;
        const info = join.emitted(key);
        out.push({ metric, key, windowStart: start, windowEnd: end, value: joinResultValue(st, m.join), final: info.resolved, version: info.version });
      }
      return out.sort(byWindow);
    }
    const push = (s: Slot) => {
      if (s.alive && inRange(s.start, s.end)) out.push(this.resultOf(s, s.firedVersion > 0 && !s.dirty, s.firedVersion));
    };
    const aligned = this.aligned[m.index];
    const sessions = this.sessions[m.index];
    const keys = opts.key === undefined ? new Set([...aligned.keys(), ...sessions.keys()]) : [opts.key];
    for (const key of keys) {
      for (const s of aligned.get(key)?.values() ?? []) push(s);
      for (const s of sessions.get(key) ?? []) push(s);
    }
    return out.sort(byWindow);
  }

  private resultOf(s: Slot, final: boolean, version: number): WindowResult {
    return { metric: s.metric.name, key: s.key, windowStart: s.start, windowEnd: s.end, value: s.metric.aggregation.result(s.acc), final, version };
  }

  private newSlot(m: CompiledWindowMetric, key: string, start: number, end: number, acc: unknown): Slot {
    const slot: Slot = { metric: m, key, start, end, acc, firedVersion: 0, dirty: false, alive: true };
    this.fireQ.register(end, slot);
    this.purgeQ.register(end + this.allowedLatenessMs, slot);
    this.open++;
    return slot;
  }

  private applyWindowDelta(d: WindowDeltaEntry): void {
    const m = this.metrics.get(d.metric);
    if (!m || m.kind !== 'window') throw new Error(`delta for unknown window metric "${d.metric}"`);
    const agg = m.aggregation;
    if (d.windowType === 'aligned') {
      const perKey = this.aligned[m.index];
      let cells = perKey.get(d.key);
      if (!cells) perKey.set(d.key, (cells = new Map()));
      let slot = cells.get(d.windowStart);
      if (!slot) cells.set(d.windowStart, (slot = this.newSlot(m, d.key, d.windowStart, d.windowEnd, agg.createAccumulator())));
      agg.applyDelta(slot.acc, d.delta);
      this.touched(slot);
      return;
    }
    // session: merge with every stored session of the key that intersects
    const perKey = this.sessions[m.index];
    const plan = planSessionMerge(perKey.get(d.key) ?? [], { start: d.windowStart, end: d.windowEnd });
    let acc = agg.applyDelta(agg.createAccumulator(), d.delta);
    let version = 0;
    for (const s of plan.merged) {
      acc = agg.merge(s.acc, acc);
      version = Math.max(version, s.firedVersion);
      s.alive = false;
      this.open--;
    }
    const { start, end } = plan;
    const keep = plan.kept;
    const slot = this.newSlot(m, d.key, start, end, acc);
    slot.firedVersion = version;
    keep.push(slot);
    keep.sort((a, b) => a.start - b.start);
    perKey.set(d.key, keep);
    this.touched(slot);
  }

  private touched(slot: Slot): void {
    if (slot.firedVersion > 0) {
      slot.dirty = true;
      this.dirtyFired.add(slot);
    }
  }

  private applyJoinDelta(j: JoinDeltaEntry): void {
    const m = this.metrics.get(j.metric);
    if (!m || m.kind !== 'join') throw new Error(`delta for unknown join metric "${j.metric}"`);
    this.joins[m.index]!.apply(j.key, j.delta);
  }

  private fire(): WindowResult[] {
    const wm = this.tracker.watermark;
    const out: WindowResult[] = [];
    for (const { time, value: s } of this.fireQ.popDue(wm)) {
      if (!s.alive || s.end !== time || !(s.firedVersion === 0 || s.dirty)) continue;
      s.firedVersion++;
      s.dirty = false;
      out.push(this.resultOf(s, true, s.firedVersion));
    }
    for (const s of this.dirtyFired) {
      if (!s.alive || !s.dirty || !isComplete(s.end, wm)) continue;
      s.firedVersion++;
      s.dirty = false;
      out.push(this.resultOf(s, true, s.firedVersion));
    }
    for (const s of this.dirtyFired) if (!s.dirty || !s.alive) this.dirtyFired.delete(s);
    for (const m of this.metrics.metrics) {
      const join = this.joins[m.index];
      if (!join) continue;
      for (const e of join.advance(wm)) out.push({ metric: m.name, key: e.key, windowStart: e.windowStart, windowEnd: e.windowEnd, value: e.value, final: true, version: e.version });
    }
    for (const { time, value: s } of this.purgeQ.popDue(wm)) {
      if (!s.alive || s.end + this.allowedLatenessMs !== time) continue;
      s.alive = false;
      this.open--;
      if (s.metric.window.type === 'aligned') {
        const cells = this.aligned[s.metric.index].get(s.key)!;
        cells.delete(s.start);
        if (cells.size === 0) this.aligned[s.metric.index].delete(s.key);
      } else {
        const perKey = this.sessions[s.metric.index];
        const rest = perKey.get(s.key)!.filter((x) => x !== s);
        if (rest.length === 0) perKey.delete(s.key);
        else perKey.set(s.key, rest);
      }
    }
    return out;
  }
}
