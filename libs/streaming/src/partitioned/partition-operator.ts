/**
 * One clean partition's share of every metric, held in memory and checkpointed (docs/checkpoints.md):
 *
 *   - tumbling / sliding metrics: partial accumulators per (pane, key, from); the firer merges the panes of
 *     a window across partitions when the operator watermark passes its end;
 *   - session metrics (keyed by the routing key, so whole in one partition): the sessions of each key, merged
 *     here; fired here when the watermark this partition knows passes a session's end, through an outbox
 *     written with the checkpoint (published after it, idempotently by version);
 *   - interval joins: each partition's lefts and rights of a key; the firer merges them at the deadline.
 *
 * Lateness is decided with the operator watermark the last checkpoint returned (a lagging view of the
 * global one; the firer re-fires what a partition changes after it fired). State past the purge horizon
 * (the lowest watermark any partition still decides with) is dropped.
 * Pure: no I/O; time and the watermark come in as arguments.
 */
import type { WindowResultDto } from '@tidemark/contracts';
import { absorb } from '../aggregations';
import type { AlignedWindows } from '../assigners';
import { applyJoinDelta, emptyJoinState, joinCleanupTime, type JoinState } from '../interval-join';
import type { LateEvent } from '../late-event';
import type { CompiledWindowMetric, MetricSet } from '../metrics/compile';
import { InvalidEvent, PreAggregator, type SequencedEvent, type StreamingOptions } from '../pre-aggregate';
import { planSessionMerge } from '../session-merge';
import { WatermarkTracker } from '../watermark';
import { decodeAcc, decodeJoinPartial, decodeSessions, encodeAcc, encodeJoinPartial, encodeSessions, firstEndOfCell, paneCleanupTime, type StoredSession } from './layout';
import { MAX_CELL_PARTS, type CellWrite, type JoinWrite, type KeyedWrite, type PartitionCheckpoint, type PartitionSnapshot, type StoredResult } from './store';

interface Cell {
  metric: CompiledWindowMetric;
  pane: number;
  key: string;
  from: number | null;
  acc: unknown;
  /** Whether its base is stored (a cell new since the last checkpoint has none). */
  stored: boolean;
  /** Parts stored beside the base (1…parts), and their bytes and the base's (for when to write the base again). */
  parts: number;
  partBytes: number;
  baseBytes: number;
  /** Kinds stored in parts: what the events since the last checkpoint added, as an accumulator of its own. */
  since: unknown;
}

/**
 * Accumulators that grow by members: a checkpoint writes what changed as a part beside the base, not the
 * whole accumulator (docs/checkpoints.md, "Cells in parts"). Each merges exactly: counts add, sessions keep
 * their highest stage, HyperLogLog registers take the maximum; so base merged with parts is the accumulator.
 */
const IN_PARTS: ReadonlySet<string> = new Set(['topK', 'funnel', 'distinct']);

/** A cell as one checkpoint writes it: a part (1…) or the base (0), and the bytes written. */
interface CellPlan {
  cell: Cell;
  part: number;
  bytes: number;
}

/** v: the last version published (0: never); d: changed since. */
type Session = StoredSession;

export interface ApplyOutput {
  late: LateEvent[];
  invalid: InvalidEvent[];
  skipped: Record<string, number>;
  processed: number;
}

export interface PreparedCheckpoint {
  checkpoint: PartitionCheckpoint;
  /** Session results to publish after the checkpoint is durable. */
  publish: WindowResultDto[];
}

const cellId = (pane: number, key: string, from: number | null) => `${pane}\u0000${from}\u0000${key}`;

/** Sessions are looked at again when the watermark reaches their wake time, by buckets of this length. */
const WAKE_BUCKET_MS = 10_000;

export class PartitionOperator {
  private readonly pre: PreAggregator;
  private tracker: WatermarkTracker;
  private readonly p: string;
  /** Per metric index: pane → cell id → cell. */
  private readonly cells: Map<number, Map<string, Cell>>[] = [];
  private readonly sessions: Map<string, Session[]>[] = [];
  private readonly joins: Map<string, JoinState>[] = [];
  private changedCells = new Set<Cell>();
  /** How the last prepared checkpoint wrote each changed cell: taken into the cells when it is committed. */
  private planned: CellPlan[] = [];
  /** Staged until a checkpoint is durable (a failed one leaves them for the next). */
  private droppedPanes: { metric: string; pane: number }[] = [];
  private results: StoredResult[] = [];
  private changedSessions = new Set<string>();
  /** Session keys (`index\0key`) to look at once the watermark reaches a bucket: to fire, or to purge. */
  private wake = new Map<number, Set<string>>();
  private changedJoins = new Map<string, number | null>();
  /** The operator watermark lateness is decided with, and the purge horizon (from the last checkpoint). */
  private wm: number | null = null;
  private horizon: number | null = null;
  /** The lowest watermark lateness was decided with since the last checkpoint (the checkpoint's `seen`). */
  private seen: number | null = null;
  private lastEventAt = 0;
  /** Write a checkpoint even if nothing changed (activate). */
  private force = false;
  /** Checkpoints written (the stored epoch): the fence beside the sequence. */
  private epochs = 0;
  /** Session results fired and checkpointed (the outbox) but not yet published. */
  outbox: WindowResultDto[] = [];

  constructor(
    readonly metrics: MetricSet,
    readonly partition: number,
    readonly options: StreamingOptions,
  ) {
    this.pre = new PreAggregator(metrics, { ...options, panes: true });
    this.tracker = new WatermarkTracker(options);
    this.p = String(partition);
    for (const m of metrics.metrics) {
      this.cells[m.index] = new Map();
      this.sessions[m.index] = new Map();
      this.joins[m.index] = new Map();
    }
  }

  get allowedLatenessMs(): number {
    return this.pre.allowedLatenessMs;
  }

  /** The operator watermark this partition decides lateness with. */
  get watermark(): number | null {
    return this.wm;
  }

  /** This partition's own event-time maximum (null before its first event). */
  get maxTs(): number | null {
    return this.tracker.snapshot().partitions[this.p]?.maxTs ?? null;
  }

  /** Checkpoints written, as far as this operator knows (the fence beside the sequence). */
  get epoch(): number {
    return this.epochs;
  }

  /** Open (pane, key) cells, sessions and join keys held. */
  get size(): number {
    let n = 0;
    for (const m of this.metrics.metrics) {
      for (const panes of this.cells[m.index].values()) n += panes.size;
      n += this.sessions[m.index].size + this.joins[m.index].size;
    }
    return n;
  }

  /** Replaces memory with a checkpoint. */
  restore(s: PartitionSnapshot): void {
    for (const m of this.metrics.metrics) {
      this.cells[m.index].clear();
      this.sessions[m.index].clear();
      this.joins[m.index].clear();
    }
    this.changedCells = new Set();
    this.planned = [];
    this.droppedPanes = [];
    this.results = [];
    this.changedSessions = new Set();
    this.changedJoins = new Map();
    this.wake = new Map();
    const t = (this.tracker = new WatermarkTracker(this.options));
    if (s.maxTs !== null) t.onEvent(this.p, s.maxTs, s.lastEventAt);
    this.lastEventAt = s.lastEventAt;
    this.epochs = s.epoch;
    this.wm = s.watermark;
    this.seen = s.watermark;
    this.horizon = s.horizon;
    for (const c of s.cells) {
      const m = this.metrics.get(c.metric);
      if (!m || m.kind !== 'window' || m.window.type !== 'aligned') continue; // a metric removed since
      // A cell's base and parts, in any order: merged (the merge of each kind is exact and order-free).
      const cells = this.cellMap(m, c.pane);
      const id = cellId(c.pane, c.key, c.from);
      const acc = decodeAcc(m.aggregation.kind, c.value);
      const part = c.part ?? 0;
      let cell = cells.get(id);
      if (!cell) cells.set(id, (cell = { metric: m, pane: c.pane, key: c.key, from: c.from, acc, stored: part === 0, parts: 0, partBytes: 0, baseBytes: 0, since: undefined }));
      else {
        cell.acc = absorb(m.aggregation, cell.acc, acc); // both decoded just now
        if (part === 0) cell.stored = true;
      }
      if (part === 0) cell.baseBytes = c.value.length;
      else {
        cell.parts = Math.max(cell.parts, part);
        cell.partBytes += c.value.length;
      }
    }
    for (const x of s.sessions) {
      const m = this.metrics.get(x.metric);
      if (!m || m.kind !== 'window' || m.window.type !== 'session') continue;
      const list = decodeSessions(m.aggregation.kind, x.value);
      this.sessions[m.index].set(x.key, list);
      this.scheduleSessions(m, x.key, list);
    }
    for (const x of s.joins) {
      const m = this.metrics.get(x.metric);
      if (!m || m.kind !== 'join') continue;
      this.joins[m.index].set(x.key, decodeJoinPartial(x.value));
    }
    this.outbox = s.outbox ? (JSON.parse(s.outbox) as WindowResultDto[]) : [];
  }

  /** Applies events (all after the last applied sequence) in memory. */
  apply(events: readonly SequencedEvent[], now: number): ApplyOutput {
    const r = this.pre.runWith(this.tracker, this.p, now, events, undefined, this.wm);
    if (r.processed > 0) this.lastEventAt = now;
    const L = this.pre.allowedLatenessMs;
    for (const d of r.deltas) {
      const m = this.metrics.get(d.metric);
      if (!m || m.kind !== 'window') throw new Error(`delta for unknown metric ${d.metric}`);
      const agg = m.aggregation;
      if (d.windowType === 'pane') {
        const cells = this.cellMap(m, d.windowStart);
        const id = cellId(d.windowStart, d.key, d.from ?? null);
        let cell = cells.get(id);
        if (!cell) cells.set(id, (cell = { metric: m, pane: d.windowStart, key: d.key, from: d.from ?? null, acc: agg.createAccumulator(), stored: false, parts: 0, partBytes: 0, baseBytes: 0, since: undefined }));
        agg.applyDelta(cell.acc, d.delta);
        if (cell.stored && IN_PARTS.has(agg.kind)) agg.applyDelta((cell.since ??= agg.createAccumulator()), d.delta);
        this.changedCells.add(cell);
        continue;
      }
      if (d.windowType !== 'session') throw new Error(`unexpected ${d.windowType} delta for ${d.metric}`);
      const perKey = this.sessions[m.index];
      // A session past its allowed lateness is closed: an event within its gap starts a new one.
      const all = perKey.get(d.key) ?? [];
      const open = all.filter((s) => this.wm === null || s.end + L > this.wm);
      const closed = all.filter((s) => !open.includes(s));
      const plan = planSessionMerge(open, { start: d.windowStart, end: d.windowEnd });
      let acc = agg.applyDelta(agg.createAccumulator(), d.delta);
      let v = 0;
      for (const s of plan.merged) {
        acc = absorb(agg, acc, s.acc); // acc is this delta's own
        v = Math.max(v, s.v);
        if (s.v > 0 && (s.start !== plan.start || s.end !== plan.end)) this.supersededSession(m, d.key, s);
      }
      const list = [...closed, ...plan.kept, { start: plan.start, end: plan.end, acc, v, d: v > 0 }].sort((a, b) => a.start - b.start);
      perKey.set(d.key, list);
      this.changedSessions.add(`${m.index}\u0000${d.key}`);
      this.scheduleSessions(m, d.key, list);
    }
    for (const j of r.joins) {
      const m = this.metrics.get(j.metric);
      if (!m || m.kind !== 'join') throw new Error(`join delta for unknown metric ${j.metric}`);
      const perKey = this.joins[m.index];
      const st = perKey.get(j.key) ?? emptyJoinState();
      const before = st.left;
      applyJoinDelta(st, j.delta);
      perKey.set(j.key, st);
      let due: number | null = null;
      if (st.left && st.left !== before) due = st.left.ts + m.join.upperMs;
      if (j.delta.rights.length > 0) due = Math.min(due ?? Infinity, j.delta.rights[0]);
      const id = `${m.index}\u0000${j.key}`;
      const prev = this.changedJoins.get(id);
      this.changedJoins.set(id, prev === undefined || prev === null ? due : due === null ? prev : Math.min(prev, due));
    }
    return { late: r.late, invalid: r.invalid, skipped: r.skipped, processed: r.processed };
  }

  /** Looks at a key's sessions again when the watermark reaches the first one's end (to fire) or end + lateness (to purge). */
  private scheduleSessions(m: CompiledWindowMetric, key: string, list: readonly Session[]): void {
    let at = Infinity;
    for (const s of list) at = Math.min(at, s.v === 0 || s.d ? s.end : s.end + this.pre.allowedLatenessMs);
    if (!Number.isFinite(at)) return;
    const bucket = Math.floor(at / WAKE_BUCKET_MS);
    let ids = this.wake.get(bucket);
    if (!ids) this.wake.set(bucket, (ids = new Set()));
    ids.add(`${m.index}\u0000${key}`);
  }

  /** A fired session merged into a larger one leaves the query API (its stored result goes). */
  private supersededSession(m: CompiledWindowMetric, key: string, s: Session): void {
    this.results.push({ metric: m.name, key, windowStart: s.start, windowEnd: s.end, value: null });
  }

  private cellMap(m: CompiledWindowMetric, pane: number): Map<string, Cell> {
    const panes = this.cells[m.index];
    let cells = panes.get(pane);
    if (!cells) panes.set(pane, (cells = new Map()));
    return cells;
  }

  /**
   * Whether to checkpoint even without new events: changes, or state that a newer watermark (which only a
   * checkpoint brings) would fire or purge, or an outbox not yet published.
   */
  dirty(): boolean {
    if (this.force) return true;
    if (this.changedCells.size > 0 || this.changedSessions.size > 0 || this.changedJoins.size > 0 || this.droppedPanes.length > 0 || this.results.length > 0) return true;
    for (const m of this.metrics.metrics) if (this.cells[m.index].size > 0 || this.sessions[m.index].size > 0 || this.joins[m.index].size > 0) return true;
    return false;
  }

  /**
   * What changed since the last checkpoint, as one checkpoint write (plus the session results it fires).
   * Call `committed` once it is durable.
   * The steps, in order: purge what the horizon passed, plan the cell writes, fire sessions, the session and
   * join writes.
   */
  prepare(expectedSeq: number, seq: number): PreparedCheckpoint {
    if (this.horizon !== null) this.purgePastHorizon(this.horizon);
    const cells = this.planCells();
    if (this.wm !== null) this.fireSessions(this.wm);
    const mine = this.tracker.snapshot().partitions[this.p];
    const publish = this.outbox;
    const checkpoint: PartitionCheckpoint = {
      expectedSeq,
      seq,
      expectedEpoch: this.epochs,
      maxTs: mine?.maxTs ?? null,
      lastEventAt: this.lastEventAt,
      seenWatermark: this.seen,
      cells,
      dropPanes: this.droppedPanes,
      sessions: this.sessionWrites(),
      joins: this.joinWrites(),
      results: this.results,
      outbox: publish.length > 0 ? JSON.stringify(publish) : '',
    };
    return { checkpoint, publish: [...publish] };
  }

  /** Purges what is past the horizon: whole panes, join keys (sessions: fireSessions). */
  private purgePastHorizon(h: number): void {
    const L = this.pre.allowedLatenessMs;
    for (const m of this.metrics.metrics) {
      if (m.kind === 'window' && m.window.type === 'aligned') {
        for (const [pane, map] of this.cells[m.index]) {
          if (paneCleanupTime(m.window.assigner, pane, L) > h) continue;
          this.cells[m.index].delete(pane);
          for (const c of map.values()) this.changedCells.delete(c);
          this.droppedPanes.push({ metric: m.name, pane });
        }
      }
      if (m.kind === 'join') {
        for (const [key, st] of this.joins[m.index]) {
          if (joinCleanupTime(st, m.join, L) > h) continue;
          this.joins[m.index].delete(key);
          this.changedJoins.set(`${m.index}\u0000${key}`, null);
        }
      }
    }
  }

  /** The changed cells' writes, each a part or the base again (`planned`, taken in by `committed`). */
  private planCells(): CellWrite[] {
    const cells: CellWrite[] = [];
    const planned: CellPlan[] = (this.planned = []);
    for (const c of this.changedCells) {
      const a = c.metric.window.type === 'aligned' ? c.metric.window.assigner : undefined;
      const kind = c.metric.aggregation.kind;
      const firstEnd = firstEndOfCell(a as AlignedWindows, c.pane, c.from);
      // A part while the parts stay fewer than the cap and smaller than the base; else the base again, whole,
      // and its parts go (so the bytes written stay within twice what changed, and a read merges little).
      if (c.since !== undefined && c.parts < MAX_CELL_PARTS) {
        const value = encodeAcc(kind, c.since);
        if (c.partBytes + value.length <= c.baseBytes) {
          const part = c.parts + 1;
          cells.push({ metric: c.metric.name, pane: c.pane, key: c.key, from: c.from, value, firstEnd, part });
          planned.push({ cell: c, part, bytes: value.length });
          continue;
        }
      }
      const value = encodeAcc(kind, c.acc);
      cells.push({ metric: c.metric.name, pane: c.pane, key: c.key, from: c.from, value, firstEnd, ...(c.parts > 0 ? { dropParts: c.parts } : {}) });
      planned.push({ cell: c, part: 0, bytes: value.length });
    }
    return cells;
  }

  /**
   * Sessions: fires what the watermark passed (new, or changed since fired) into the outbox and the stored
   * results, and purges what the horizon passed — only the keys whose wake bucket the watermark reached.
   */
  private fireSessions(wm: number): void {
    const L = this.pre.allowedLatenessMs;
    const woken: string[] = [];
    for (const [bucket, ids] of this.wake) {
      if (bucket * WAKE_BUCKET_MS > wm) continue;
      this.wake.delete(bucket);
      for (const id of ids) woken.push(id);
    }
    for (const id of new Set(woken)) {
      const [index, key] = splitId(id);
      const m = this.metrics.metrics[index] as CompiledWindowMetric;
      const list = this.sessions[index].get(key);
      if (!list) continue;
      for (const s of list) {
        if (s.end > wm || !(s.v === 0 || s.d)) continue;
        s.v++;
        s.d = false;
        const r: WindowResultDto = { metric: m.name, key, windowStart: s.start, windowEnd: s.end, value: m.aggregation.result(s.acc), final: true, version: s.v };
        this.outbox.push(r);
        this.results.push({ metric: m.name, key, windowStart: s.start, windowEnd: s.end, value: JSON.stringify(r) });
        this.changedSessions.add(id);
      }
      const h = this.horizon;
      const keep = h === null ? list : list.filter((s) => s.end + L > h || s.v === 0 || s.d);
      if (keep.length !== list.length) {
        if (keep.length === 0) this.sessions[index].delete(key);
        else this.sessions[index].set(key, keep);
        this.changedSessions.add(id);
      }
      if (keep.length > 0) this.scheduleSessions(m, key, keep);
    }
  }

  /** The changed sessions' writes (null: the key has none left). */
  private sessionWrites(): KeyedWrite[] {
    const sessions: KeyedWrite[] = [];
    for (const id of this.changedSessions) {
      const [index, key] = splitId(id);
      const m = this.metrics.metrics[index] as CompiledWindowMetric;
      const list = this.sessions[index].get(key);
      sessions.push({ metric: m.name, key, value: list ? encodeSessions(m.aggregation.kind, list) : null });
    }
    return sessions;
  }

  /** The changed join keys' writes (null: purged), with when each is due. */
  private joinWrites(): JoinWrite[] {
    const joins: JoinWrite[] = [];
    for (const [id, due] of this.changedJoins) {
      const [index, key] = splitId(id);
      const st = this.joins[index].get(key);
      joins.push({ metric: this.metrics.metrics[index].name, key, value: st ? encodeJoinPartial(st) : null, due: st ? due : null });
    }
    return joins;
  }

  /** The first `n` outbox results are published (JetStream acknowledged them). */
  published(n: number): void {
    this.outbox = this.outbox.slice(n);
  }

  /** Taken on (a start, a takeover): counts as active from `now` — it holds the watermark back until idle. */
  activate(now: number): void {
    this.lastEventAt = Math.max(this.lastEventAt, now);
    this.force = true;
  }

  /** The checkpoint is durable: forget what it wrote; take the watermark and horizon it returned. */
  committed(watermark: number | null, horizon: number | null): void {
    this.force = false;
    this.epochs++;
    for (const { cell, part, bytes } of this.planned) {
      if (part === 0) {
        cell.stored = true;
        cell.parts = 0;
        cell.partBytes = 0;
        cell.baseBytes = bytes;
      } else {
        cell.parts = part;
        cell.partBytes += bytes;
      }
      cell.since = undefined;
    }
    this.planned = [];
    this.changedCells = new Set();
    this.droppedPanes = [];
    this.results = [];
    this.changedSessions = new Set();
    this.changedJoins = new Map();
    this.observe(watermark, horizon);
    this.seen = this.wm;
  }

  /**
   * A fresher operator watermark and purge horizon (read between checkpoints, e.g. before the first batch after
   * a quiet spell): later lateness decisions use it. Raises only; the next checkpoint still records the lowest
   * one used since the last.
   */
  observe(watermark: number | null, horizon: number | null): void {
    if (watermark !== null && (this.wm === null || watermark > this.wm)) this.wm = watermark;
    if (horizon !== null && (this.horizon === null || horizon > this.horizon)) this.horizon = horizon;
  }
}

function splitId(id: string): [number, string] {
  const i = id.indexOf('\u0000');
  return [Number(id.slice(0, i)), id.slice(i + 1)];
}

