/**
 * Batch pre-aggregation: a batch of events → per (metric, key, window) deltas, so a service writes once per
 * batch, not once per event. Pure: time (`now`) and the watermark state come in as arguments, the new
 * state goes out.
 *
 * For each event, in batch order:
 *   1. W = the operator watermark before the event (the input state, advanced at `now`, plus the batch's
 *      earlier events);
 *   2. for every metric reading the event's type: explode into records, read key and input (records that
 *      cannot be read are skipped and counted), assign windows; a window with W >= end + allowedLateness is
 *      late → the event goes to the late output for that metric with those windows; the others get the
 *      record's delta;
 *   3. an event late for at least one metric feeds the late-output metrics (late_events) once, windowed by W;
 *   4. the event updates its partition's watermark.
 * So processing a batch gives exactly what processing its events one by one gives.
 *
 * Events with seq <= afterSeq are skipped as replays (already applied; their effect is in the state).
 * Events without a finite numeric ts are returned as `invalid`, never thrown.
 */
import type { TidemarkEvent } from '@tidemark/contracts';
import type { AggregateDelta } from './aggregations';
import { keyString } from './field-path';
import { addLeftToDelta, addRightToDelta, finalizeJoinDelta, isLeftLate, isRightLate, JoinDelta, joinDeltaOfLeft, joinDeltaOfRight } from './interval-join';
import { LateEvent, lateReason } from './late-event';
import { ALL_KEY, CompiledJoinMetric, CompiledMetric, CompiledWindowMetric, MetricSet } from './metrics/compile';
import { mergeSessions } from './session-merge';
import { DEFAULT_ALLOWED_LATENESS_MS } from './trigger';
import { cloneWatermarkState, emptyWatermarkState, WatermarkOptions, WatermarkState, WatermarkTracker } from './watermark';
import type { AlignedWindows } from './assigners';
import type { TimeWindow } from './window';

export interface StreamingOptions extends WatermarkOptions {
  /** How long after a window's end an event still updates it (default 60000 ms). */
  allowedLatenessMs?: number;
  /**
   * Tumbling and sliding windows as panes (docs/checkpoints.md): a record updates the one pane
   * (gcd(size, hop) long) holding its time instead of every window holding it; `windowType: 'pane'`.
   */
  panes?: boolean;
}

export interface SequencedEvent {
  event: TidemarkEvent;
  /** Stream sequence number (optional in tests). */
  seq?: number;
  /** Position of the event in its frame (the message at `seq`), passed through to `invalid`. */
  index?: number;
}

export interface PreAggregateInput {
  partition: string | number;
  /** Processing time, epoch ms (idleness, wall-clock advance). */
  now: number;
  events: readonly SequencedEvent[];
  /** Watermark state before the batch (every partition of the operator). Default: empty. */
  watermark?: WatermarkState;
  /** Skip events with seq <= afterSeq (the partition's last applied sequence). */
  afterSeq?: number;
}

/** A delta for one window of one key of one metric. */
export interface WindowDeltaEntry {
  /** `metric|key|windowStart|windowEnd` */
  id: string;
  metric: string;
  key: string;
  windowStart: number;
  windowEnd: number;
  /**
   * 'aligned': a fixed tumbling/sliding window. 'session': a session of this batch (events of the key merged
   * within the batch); merge it with the key's stored sessions that intersect [windowStart, windowEnd).
   * 'pane': a pane of a tumbling/sliding metric (option `panes`), counted in its windows that start at or
   * after `from` (null: all of them; the earlier ones were past their lateness for these records).
   */
  windowType: 'aligned' | 'session' | 'pane';
  delta: AggregateDelta;
  from?: number | null;
}

/** A join delta for one key of one join metric. */
export interface JoinDeltaEntry {
  /** `metric|key` */
  id: string;
  metric: string;
  key: string;
  delta: JoinDelta;
}

export interface InvalidEvent {
  seq: number | null;
  /** The event's position in its frame, when the input said. */
  index?: number;
  event: unknown;
  error: string;
}

export interface PreAggregateResult {
  deltas: WindowDeltaEntry[];
  joins: JoinDeltaEntry[];
  late: LateEvent[];
  /** Records skipped per metric (missing key, value or member). */
  skipped: Record<string, number>;
  invalid: InvalidEvent[];
  /** The watermark state after the batch: store it with the batch (e.g. the fence's fields). */
  watermark: WatermarkState;
  /** Operator watermark after the batch. */
  operatorWatermark: number | null;
  /** This partition's watermark after the batch. */
  partitionWatermark: number | null;
  /** Events applied. */
  processed: number;
  /** Events skipped because seq <= afterSeq. */
  replayed: number;
  /** Highest seq of the batch (null if no event had one). */
  lastSeq: number | null;
}

interface AlignedCell {
  end: number;
  delta: AggregateDelta;
}

interface PaneCell {
  start: number;
  end: number;
  from: number | null;
  delta: AggregateDelta;
}

/** The pane length of a tumbling or sliding window: gcd(size, hop). */
export function paneSizeOf(size: number, hop: number): number {
  let a = size;
  let b = hop;
  while (b) [a, b] = [b, a % b];
  return a;
}

interface SessionCell {
  start: number;
  end: number;
  value: AggregateDelta;
}

const SINGLE: readonly unknown[] = [undefined];

/** Builds the deltas of one batch; reusable across batches through `run`. */
export class PreAggregator {
  readonly allowedLatenessMs: number;

  constructor(
    readonly metrics: MetricSet,
    readonly options: StreamingOptions = {},
  ) {
    this.allowedLatenessMs = options.allowedLatenessMs ?? DEFAULT_ALLOWED_LATENESS_MS;
    if (!(Number.isFinite(this.allowedLatenessMs) && this.allowedLatenessMs >= 0)) throw new RangeError(`allowedLatenessMs must be >= 0 (got ${this.allowedLatenessMs})`);
  }

  /** Pure: the input state is not modified. */
  run(input: PreAggregateInput): PreAggregateResult {
    const tracker = new WatermarkTracker(this.options, cloneWatermarkState(input.watermark ?? emptyWatermarkState()));
    return this.runWith(tracker, input.partition, input.now, input.events, input.afterSeq);
  }

  /**
   * Like run, advancing the given tracker in place. With `fixedWatermark` (a partition operator's view of the
   * operator watermark, docs/checkpoints.md) lateness is decided with it for the whole batch; the tracker
   * then only follows this partition's maximum event time.
   */
  runWith(tracker: WatermarkTracker, partition: string | number, now: number, events: readonly SequencedEvent[], afterSeq?: number, fixedWatermark?: number | null): PreAggregateResult {
    const b = new Batch(this.metrics, this.allowedLatenessMs, String(partition), this.options.panes === true);
    const p = String(partition);
    let replayed = 0;
    let processed = 0;
    let lastSeq: number | null = null;
    const fixed = fixedWatermark !== undefined;
    let wm = fixed ? fixedWatermark : tracker.advance(now);
    for (const { event, seq, index } of events) {
      if (seq !== undefined && (lastSeq === null || seq > lastSeq)) lastSeq = seq;
      if (afterSeq !== undefined && seq !== undefined && seq <= afterSeq) {
        replayed++;
        continue;
      }
      if (event === null || typeof event !== 'object' || typeof event.ts !== 'number' || !Number.isFinite(event.ts) || typeof event.type !== 'string') {
        b.invalid.push({ seq: seq ?? null, ...(index === undefined ? {} : { index }), event, error: 'event needs a string type and a finite numeric ts (epoch ms)' });
        continue;
      }
      processed++;
      b.event(event, seq ?? null, wm);
      if (tracker.onEvent(p, event.ts, now) && !fixed) wm = tracker.advance(now); // unchanged state, same now: same watermark
    }
    return {
      ...b.finish(),
      watermark: tracker.snapshot(),
      operatorWatermark: tracker.watermark,
      partitionWatermark: tracker.partitionWatermark(p),
      processed,
      replayed,
      lastSeq,
    };
  }
}

/** Pure function form: `new PreAggregator(metrics, options).run(input)`. */
export function preAggregate(input: PreAggregateInput, metrics: MetricSet, options: StreamingOptions = {}): PreAggregateResult {
  return new PreAggregator(metrics, options).run(input);
}

class Batch {
  readonly aligned: (Map<string, Map<number, AlignedCell>> | undefined)[] = [];
  /** Pane mode: per metric, key → `${paneStart}|${from}` → cell. */
  readonly panes: (Map<string, Map<string, PaneCell>> | undefined)[] = [];
  readonly sessions: (Map<string, SessionCell[]> | undefined)[] = [];
  readonly joins: (Map<string, JoinDelta> | undefined)[] = [];
  readonly late: LateEvent[] = [];
  readonly skipped: Record<string, number> = {};
  readonly invalid: InvalidEvent[] = [];
  private readonly starts: number[] = [];
  private readonly live: boolean[] = [];
  /** Per metric: its pane length, computed once. */
  private readonly paneSizes: number[] = [];

  constructor(
    private readonly set: MetricSet,
    private readonly lateness: number,
    private readonly partition: string,
    private readonly paneMode: boolean,
  ) {}

  event(e: TidemarkEvent, seq: number | null, wm: number | null): void {
    let wasLate = false;
    for (const m of this.set.forType(e.type)) {
      if (m.kind === 'join') wasLate = this.join(m, e, seq, wm) || wasLate;
      else wasLate = this.window(m, e, e.ts, seq, wm, true) || wasLate;
    }
    if (wasLate && wm !== null) {
      for (const m of this.set.lateMetrics) {
        if (m.kind === 'window' && (m.types === null || m.types.has(e.type))) this.window(m, e, wm, seq, wm, false);
      }
    }
  }

  /** The record's key and input (in `key`, `input`), or false — counted as skipped — when either cannot be read. */
  private key = '';
  private input: unknown;
  private read(m: CompiledWindowMetric, e: TidemarkEvent, item: unknown): boolean {
    const key = m.key === null ? ALL_KEY : keyString(m.key(e, item));
    const input = key === undefined ? undefined : m.input(e, item);
    if (key === undefined || input === undefined) {
      this.skip(m);
      return false;
    }
    this.key = key;
    this.input = input;
    return true;
  }

  private skip(m: CompiledMetric, n = 1): void {
    this.skipped[m.name] = (this.skipped[m.name] ?? 0) + n;
  }

  /** Returns true when the event was late for some window of the metric. */
  private window(m: CompiledWindowMetric, e: TidemarkEvent, time: number, seq: number | null, wm: number | null, checkLate: boolean): boolean {
    let records: readonly unknown[] = SINGLE;
    if (m.explode) {
      const arr = m.explode(e, undefined);
      if (!Array.isArray(arr)) {
        this.skip(m);
        return false;
      }
      if (arr.length === 0) return false;
      records = arr;
    }
    const agg = m.aggregation;
    const L = this.lateness;
    let valid = 0;

    if (m.window.type === 'session') {
      const end = time + m.window.gapMs;
      const isLate = checkLate && wm !== null && wm >= end + L;
      let perKey = this.sessions[m.index];
      for (const item of records) {
        if (!this.read(m, e, item)) continue;
        const key = this.key;
        const input = this.input;
        valid++;
        if (isLate) continue;
        if (!perKey) perKey = this.sessions[m.index] = new Map();
        let cells = perKey.get(key);
        if (!cells) perKey.set(key, (cells = []));
        const last = cells[cells.length - 1];
        if (last && last.start === time) agg.addToDelta(last.value, input);
        else cells.push({ start: time, end, value: agg.deltaOf(input) });
      }
      if (isLate && valid > 0) this.reportLate(m.name, e, seq, [{ start: time, end }], wm!, 'session window');
      return isLate && valid > 0;
    }

    const { size, hop } = m.window.assigner;
    const starts = this.starts;
    const live = this.live;
    starts.length = 0;
    live.length = 0;
    let anyLate = false;
    // Pane mode, and the earliest window holding the record is not late (so none is: later windows end later),
    // which is nearly every event: one pane, counted in all its windows — no need to list them.
    if (this.paneMode && (!checkLate || wm === null || wm < m.window.assigner.firstEnd(time) + L)) {
      this.pane(m, m.window.assigner, e, records, time, null);
      return false;
    }
    for (let s = m.window.assigner.lastStart(time); s > time - size; s -= hop) {
      const isLate = checkLate && wm !== null && wm >= s + size + L;
      starts.push(s);
      live.push(!isLate);
      if (isLate) anyLate = true;
    }
    if (this.paneMode) {
      // Here the earliest window is late (the fast path above took the rest). Starts are latest first: the live
      // ones are a prefix (later windows end later), counted from the earliest of them. None live: the records
      // are only read (counted as skipped when unreadable) and reported late below.
      if (!live[0]) {
        for (const item of records) if (this.read(m, e, item)) valid++;
      } else {
        let earliestLive = starts[0];
        for (let i = 1; i < starts.length && live[i]; i++) earliestLive = starts[i];
        valid = this.pane(m, m.window.assigner, e, records, time, earliestLive);
      }
    } else {
    let perKey = this.aligned[m.index];
    for (const item of records) {
      if (!this.read(m, e, item)) continue;
      const key = this.key;
      const input = this.input;
      valid++;
      if (!perKey) perKey = this.aligned[m.index] = new Map();
      let cells = perKey.get(key);
      for (let i = 0; i < starts.length; i++) {
        if (!live[i]) continue;
        if (!cells) perKey.set(key, (cells = new Map()));
        const s = starts[i];
        const cell = cells.get(s);
        if (cell) agg.addToDelta(cell.delta, input);
        else cells.set(s, { end: s + size, delta: agg.deltaOf(input) });
      }
    }
    }
    if (anyLate && valid > 0) {
      const windows: TimeWindow[] = [];
      for (let i = starts.length - 1; i >= 0; i--) if (!live[i]) windows.push({ start: starts[i], end: starts[i] + size });
      this.reportLate(m.name, e, seq, windows, wm!, 'window');
      return true;
    }
    return false;
  }

  /**
   * Pane mode: each readable record's input into the one pane holding `time`, counted in the windows that start
   * at or after `from` (null: all of them). Returns the records read; an unreadable one is counted as skipped.
   */
  private pane(m: CompiledWindowMetric, a: AlignedWindows, e: TidemarkEvent, records: readonly unknown[], time: number, from: number | null): number {
    const agg = m.aggregation;
    const paneSize = (this.paneSizes[m.index] ??= paneSizeOf(a.size, a.hop));
    const pane = a.offset + Math.floor((time - a.offset) / paneSize) * paneSize;
    const id = from === null ? String(pane) : `${pane}|${from}`;
    let perKey = this.panes[m.index];
    let valid = 0;
    for (const item of records) {
      if (!this.read(m, e, item)) continue;
      valid++;
      if (!perKey) perKey = this.panes[m.index] = new Map();
      let cells = perKey.get(this.key);
      if (!cells) perKey.set(this.key, (cells = new Map()));
      const cell = cells.get(id);
      if (cell) agg.addToDelta(cell.delta, this.input);
      else cells.set(id, { start: pane, end: pane + paneSize, from, delta: agg.deltaOf(this.input) });
    }
    return valid;
  }

  private join(m: CompiledJoinMetric, e: TidemarkEvent, seq: number | null, wm: number | null): boolean {
    const j = m.join;
    const isLeft = j.left.has(e.type);
    if (!isLeft && !j.right.has(e.type)) return false;
    const key = m.key === null ? ALL_KEY : keyString(m.key(e, undefined));
    if (key === undefined) {
      this.skip(m);
      return false;
    }
    if (isLeft ? isLeftLate(e.ts, wm, j, this.lateness) : isRightLate(e.ts, wm, this.lateness)) {
      const window = isLeft ? { start: e.ts, end: e.ts + j.upperMs } : { start: e.ts - j.upperMs, end: e.ts };
      this.reportLate(m.name, e, seq, [window], wm!, isLeft ? 'join window' : 'join (as a match for lefts in)');
      return true;
    }
    let perKey = this.joins[m.index];
    if (!perKey) perKey = this.joins[m.index] = new Map();
    const d = perKey.get(key);
    if (isLeft) {
      const fields: Record<string, unknown> = {};
      for (const f of j.fields) {
        const v = f.get(e, undefined);
        if (v !== undefined) fields[f.name] = v;
      }
      const left = { ts: e.ts, id: e.id, fields };
      if (d) addLeftToDelta(d, left);
      else perKey.set(key, joinDeltaOfLeft(left));
    } else if (d) addRightToDelta(d, e.ts);
    else perKey.set(key, joinDeltaOfRight(e.ts));
    return false;
  }

  private reportLate(metric: string, e: TidemarkEvent, seq: number | null, windows: TimeWindow[], wm: number, what: string): void {
    this.late.push({
      metric,
      event: e,
      seq,
      partition: this.partition,
      windows,
      watermark: wm,
      allowedLatenessMs: this.lateness,
      reason: lateReason(metric, e.ts, windows, wm, this.lateness, what),
    });
  }

  finish(): Pick<PreAggregateResult, 'deltas' | 'joins' | 'late' | 'skipped' | 'invalid'> {
    const deltas: WindowDeltaEntry[] = [];
    const joins: JoinDeltaEntry[] = [];
    for (const m of this.set.metrics) {
      if (m.kind === 'join') {
        const perKey = this.joins[m.index];
        if (perKey) for (const [key, delta] of perKey) joins.push({ id: `${m.name}|${key}`, metric: m.name, key, delta: finalizeJoinDelta(delta) });
        continue;
      }
      const agg = m.aggregation;
      const aligned = this.aligned[m.index];
      if (aligned) {
        for (const [key, cells] of aligned) {
          for (const [start, cell] of cells) {
            deltas.push({ id: `${m.name}|${key}|${start}|${cell.end}`, metric: m.name, key, windowStart: start, windowEnd: cell.end, windowType: 'aligned', delta: agg.finalizeDelta(cell.delta) });
          }
        }
      }
      const panes = this.panes[m.index];
      if (panes) {
        for (const [key, cells] of panes) {
          for (const cell of cells.values()) {
            deltas.push({ id: `${m.name}|${key}|${cell.start}|${cell.end}|${cell.from}`, metric: m.name, key, windowStart: cell.start, windowEnd: cell.end, windowType: 'pane', from: cell.from, delta: agg.finalizeDelta(cell.delta) });
          }
        }
      }
      const sessions = this.sessions[m.index];
      if (sessions) {
        for (const [key, cells] of sessions) {
          for (const s of mergeSessions(cells, (a, b) => agg.mergeDelta(a, b))) {
            deltas.push({ id: `${m.name}|${key}|${s.start}|${s.end}`, metric: m.name, key, windowStart: s.start, windowEnd: s.end, windowType: 'session', delta: agg.finalizeDelta(s.value) });
          }
        }
      }
    }
    return { deltas, joins, late: this.late, skipped: this.skipped, invalid: this.invalid };
  }
}
