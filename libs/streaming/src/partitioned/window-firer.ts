/**
 * The firer of the partitioned operator (docs/checkpoints.md): one round, run by the instance holding the
 * firer lease, over the checkpointed state of every partition.
 *
 *   1. the operator watermark W from the partitions' checkpoints (WatermarkTracker: bounded out-of-
 *      orderness, idleness), raised in the store (global and into every partition's checkpoint);
 *   2. each tumbling / sliding window whose end W passed (after what the metric fired through): its panes
 *      read from every partition, merged per key, published as version 1;
 *   3. re-firing: cells a partition changed after W passed their first window's end (marks written by its
 *      checkpoint) — the windows already fired that hold them are merged again, and published as the next
 *      version when their value changed;
 *   4. interval joins: keys due in any partition, their lefts and rights merged across partitions, resolved
 *      as `unmatched` (version 1) or flipped to `matched` (next version);
 *   5. repair after a failover: a partition whose record had lost the firer's raises (found by the raise, as
 *      `refireFrom`) may have written cells for fired windows without marks — those windows are merged again;
 *   6. the purge horizon: the lowest watermark any partition still decides lateness with (none until every
 *      partition has a checkpoint); partitions drop what is past it at their next checkpoint. Raised last, so
 *      nothing read in this round was purged.
 * Results are published (idempotent: `Nats-Msg-Id` metric|key|start|end|v<version>) before they are
 * recorded, so a crashed round repeats them and JetStream drops the repeats.
 */
import type { WindowResultDto } from '@tidemark/contracts';
import { joinResultValue } from '../interval-join';
import type { CompiledJoinMetric, CompiledWindowMetric, MetricSet } from '../metrics/compile';
import { WatermarkTracker, type WatermarkOptions, type WatermarkState } from '../watermark';
import type { AlignedWindows } from '../assigners';
import { mergeJoinPartials, mergeWindowCells, panesOfWindow, windowsOfCell } from './layout';
import type { AggregationStore, JoinDue, Mark, PartitionStatus, StoredResult } from './store';

export interface FirerOptions extends WatermarkOptions {
  partitions: number;
  allowedLatenessMs: number;
  /** Results older than this (event time, behind the watermark) leave the store. */
  resultRetentionMs?: number;
}

export interface RoundResult {
  watermark: number | null;
  fired: WindowResultDto[];
}

interface JoinEmitted {
  version: number;
  status: string;
  leftTs: number;
  leftId: string;
}

type Publish = (results: WindowResultDto[]) => Promise<void>;

/** The partitions' checkpoints as the watermark tracker's state. */
function stateOf(statuses: readonly PartitionStatus[], watermark: number | null): WatermarkState {
  const partitions: WatermarkState['partitions'] = {};
  // A partition without events yet holds the watermark back while it is active (WatermarkTracker).
  for (const s of statuses) partitions[String(s.partition)] = { maxTs: s.maxTs, lastActiveAt: s.lastEventAt };
  return { partitions, watermark };
}

export class WindowFirer {
  constructor(
    readonly metrics: MetricSet,
    private readonly store: AggregationStore,
    private readonly publish: Publish,
    readonly options: FirerOptions,
  ) {}

  /** The watermark state of every partition's checkpoint (for the watermark gauges and queries). */
  async watermarkState(): Promise<WatermarkState> {
    return stateOf(await this.store.statuses(this.options.partitions), await this.store.watermark());
  }

  async round(now: number): Promise<RoundResult> {
    const P = this.options.partitions;
    const statuses = await this.store.statuses(P);
    const state = stateOf(statuses, await this.store.watermark());
    const wm = new WatermarkTracker(this.options, state).advance(now);
    if (wm === null) return { watermark: null, fired: [] };
    // Raised when it moved, or when a partition's record is below it (its slot lost writes in a failover):
    // the raise notes such a partition's refireFrom before any window past its record's watermark fires.
    if (state.watermark === null || wm > state.watermark || statuses.some((s) => s.watermark === null || s.watermark < wm)) await this.store.raiseWatermark(P, wm, state.watermark);
    const published = await this.store.horizon();
    const fired: WindowResultDto[] = [];
    const through = await this.store.firedThroughAll();
    for (const m of this.metrics.metrics) {
      if (m.kind === 'window' && m.window.type === 'aligned') fired.push(...(await this.fireAligned(m, m.window.assigner, wm, through)));
    }
    fired.push(...(await this.refire(published, through)));
    fired.push(...(await this.repair(statuses, published, through)));
    for (const m of this.metrics.metrics) if (m.kind === 'join') fired.push(...(await this.fireJoin(m, wm, published)));
    // The horizon: every partition decides with at least this watermark. Raised only while every partition has
    // a checkpoint: one without (not opened yet, or its slot lost every checkpoint in a failover) may hold
    // events it accepted that only a re-firing would count.
    let horizon: number | null = statuses.length === P ? Infinity : null;
    for (const s of statuses) horizon = s.seenWatermark === null || horizon === null ? null : Math.min(horizon, s.seenWatermark);
    if (horizon !== null && Number.isFinite(horizon) && (published === null || horizon > published)) await this.store.raiseHorizon(P, horizon);
    if (this.options.resultRetentionMs !== undefined) await this.store.purgeResults(this.metrics.names, wm - this.options.resultRetentionMs);
    return { watermark: wm, fired };
  }

  /** Fires the windows of `m` the watermark passed; `fired` (what each metric fired through) is kept up to date. */
  private async fireAligned(m: CompiledWindowMetric, a: AlignedWindows, wm: number, fired: Map<string, number>): Promise<WindowResultDto[]> {
    const through = fired.get(m.name) ?? null;
    // Window ends are a hop apart: nothing to do until the watermark reaches the next one.
    if (through !== null && through + a.hop > wm) return [];
    const lastEnd = a.lastStart(wm - a.size) + a.size;
    const lo = through === null ? -Infinity : through - a.size;
    const P = this.options.partitions;
    const paneLists = await Promise.all(Array.from({ length: P }, (_, p) => this.store.panes(p, m.name, lo, wm)));
    const panes = [...new Set(paneLists.flat())].sort((x, y) => x - y);
    const windows = new Set<number>();
    for (const pane of panes) {
      for (const w of windowsOfCell(a, pane, null)) if (w.end <= wm && (through === null || w.end > through)) windows.add(w.start);
    }
    const results = windows.size === 0 ? [] : await this.fireWindows(m, a, [...windows], panes);
    await this.store.setFiredThrough(m.name, lastEnd);
    fired.set(m.name, Math.max(through ?? -Infinity, lastEnd));
    return results;
  }

  /** Merges the windows starting at `starts` from every partition's panes and publishes what changed. `held`: the panes that exist (else all are read). */
  private async fireWindows(m: CompiledWindowMetric, a: AlignedWindows, starts: readonly number[], held?: readonly number[]): Promise<WindowResultDto[]> {
    const sorted = [...starts].sort((x, y) => x - y);
    const need = [...new Set(sorted.flatMap((s) => panesOfWindow(a, s)))].filter((p) => held === undefined || held.includes(p));
    const cells = (await Promise.all(Array.from({ length: this.options.partitions }, (_, p) => this.store.readPanes(p, m.name, need)))).flat();
    const out: { ref: StoredResult; result: WindowResultDto }[] = [];
    for (const start of sorted) {
      for (const [key, acc] of mergeWindowCells(m.aggregation, a.size, start, cells)) {
        out.push({ ref: { metric: m.name, key, windowStart: start, windowEnd: start + a.size, value: null }, result: { metric: m.name, key, windowStart: start, windowEnd: start + a.size, value: m.aggregation.result(acc), final: true, version: 1 } });
      }
    }
    return this.publishChanged(m.name, out);
  }

  /**
   * A partition with `refireFrom`: its slot lost the firer's raises in a failover, and the checkpoints it wrote
   * before the next raise marked nothing below the older watermark left in its record. Every fired window
   * ending after `refireFrom` in which it holds cells (and not yet past the purge horizon) is merged again
   * and published if its value changed; then `refireFrom` is cleared. Cells written after the raise that set
   * it are marked as usual, so one pass is enough — and a pass that fails is repeated by the next round.
   */
  private async repair(statuses: readonly PartitionStatus[], horizon: number | null, through: ReadonlyMap<string, number>): Promise<WindowResultDto[]> {
    const lost = statuses.filter((s) => s.refireFrom !== null);
    if (lost.length === 0) return [];
    const L = this.options.allowedLatenessMs;
    const fired: WindowResultDto[] = [];
    for (const m of this.metrics.metrics) {
      if (m.kind !== 'window' || m.window.type !== 'aligned') continue;
      const a = m.window.assigner;
      const t = through.get(m.name);
      if (t === undefined) continue;
      const starts = new Set<number>();
      for (const s of lost) {
        const from = s.refireFrom!;
        if (from >= t) continue;
        for (const pane of await this.store.panes(s.partition, m.name, from - a.size, t)) {
          for (const w of windowsOfCell(a, pane, null)) if (w.end > from && w.end <= t && (horizon === null || w.end + L > horizon)) starts.add(w.start);
        }
      }
      if (starts.size > 0) fired.push(...(await this.fireWindows(m, a, [...starts])));
    }
    await Promise.all(lost.map((s) => this.store.clearRefireFrom(s.partition, s.refireFrom!)));
    return fired;
  }

  /**
   * Publishes results whose value differs from what was published for their window (none: version 1, else
   * the next version), then records them.
   */
  private async publishChanged(metric: string, items: { ref: StoredResult; result: WindowResultDto }[]): Promise<WindowResultDto[]> {
    if (items.length === 0) return [];
    const stored = await this.store.readResults(metric, items.map((i) => i.ref));
    const fire: WindowResultDto[] = [];
    items.forEach((it, i) => {
      const prev = stored[i] === null ? null : (JSON.parse(stored[i]!) as WindowResultDto);
      if (prev && JSON.stringify(prev.value) === JSON.stringify(it.result.value)) return;
      fire.push({ ...it.result, version: (prev?.version ?? 0) + 1 });
    });
    if (fire.length === 0) return [];
    await this.publish(fire);
    await this.store.writeResults(fire.map((r) => ({ metric: r.metric, key: r.key, windowStart: r.windowStart, windowEnd: r.windowEnd, value: JSON.stringify(r) })));
    return fire;
  }

  private async refire(horizon: number | null, through: ReadonlyMap<string, number>): Promise<WindowResultDto[]> {
    const P = this.options.partitions;
    const L = this.options.allowedLatenessMs;
    const marks = await Promise.all(Array.from({ length: P }, (_, p) => this.store.marks(p)));
    if (marks.every((l) => l.length === 0)) return [];
    const todo = new Map<string, { m: CompiledWindowMetric; a: AlignedWindows; key: string; start: number }>();
    for (const list of marks) {
      for (const mk of list) {
        const m = this.metrics.get(mk.metric);
        if (!m || m.kind !== 'window' || m.window.type !== 'aligned') continue;
        const t = through.get(m.name);
        if (t === undefined) continue;
        for (const w of windowsOfCell(m.window.assigner, mk.pane, mk.from)) {
          if (w.end > t || (horizon !== null && w.end + L <= horizon)) continue;
          todo.set(`${m.name}\u0000${w.start}\u0000${mk.key}`, { m, a: m.window.assigner, key: mk.key, start: w.start });
        }
      }
    }
    const fired: WindowResultDto[] = [];
    const byMetric = new Map<string, { ref: StoredResult; result: WindowResultDto }[]>();
    for (const t of todo.values()) {
      const panes = panesOfWindow(t.a, t.start);
      const cells = (await Promise.all(Array.from({ length: P }, (_, p) => this.store.readKeyCells(p, t.m.name, t.key, panes)))).flat();
      const acc = mergeWindowCells(t.m.aggregation, t.a.size, t.start, cells).get(t.key);
      if (acc === undefined) continue;
      const end = t.start + t.a.size;
      const list = byMetric.get(t.m.name) ?? [];
      list.push({ ref: { metric: t.m.name, key: t.key, windowStart: t.start, windowEnd: end, value: null }, result: { metric: t.m.name, key: t.key, windowStart: t.start, windowEnd: end, value: t.m.aggregation.result(acc), final: true, version: 0 } });
      byMetric.set(t.m.name, list);
    }
    for (const [metric, items] of byMetric) fired.push(...(await this.publishChanged(metric, items)));
    await Promise.all(marks.map((list: Mark[], p) => (list.length > 0 ? this.store.clearMarks(p, list) : undefined)));
    return fired;
  }

  /** `published`: the purge horizon before this round (partitions may have dropped state past it). */
  private async fireJoin(m: CompiledJoinMetric, wm: number, published: number | null): Promise<WindowResultDto[]> {
    const P = this.options.partitions;
    const dues = await Promise.all(Array.from({ length: P }, (_, p) => this.store.joinDue(p, wm)));
    const mine = dues.map((list) => list.filter((d) => d.metric === m.name));
    const keys = [...new Set(mine.flat().map((d) => d.key))];
    if (keys.length === 0) return [];
    const parts = await Promise.all(Array.from({ length: P }, (_, p) => this.store.readJoins(p, m.name, keys)));
    const emitted = await this.store.readEmitted(m.name, keys);
    const deadline = new Map<string, number>();
    const results: WindowResultDto[] = [];
    const records: { key: string; value: string }[] = [];
    keys.forEach((key, i) => {
      const st = mergeJoinPartials(parts.map((part) => part[i]).filter((v): v is string => v !== null));
      if (!st.left) return;
      const end = st.left.ts + m.join.upperMs;
      if (wm < end) return void deadline.set(key, end);
      // Past correction before this round: the horizon passed its deadline + lateness, so partitions may have
      // purged rights that matched it (a right's state goes at that same point). Its result was decided in an
      // earlier round, with all of them; a later due of the key (a right outside its interval, kept longer by
      // its partition) must not decide it again from what is left.
      if (published !== null && published >= end + this.options.allowedLatenessMs) return;
      const value = joinResultValue(st, m.join);
      const prev = emitted[i] === null ? null : (JSON.parse(emitted[i]!) as JoinEmitted);
      if (prev === null && value.status === 'matched') return;
      if (prev !== null && prev.status === value.status && prev.leftTs === st.left.ts && prev.leftId === st.left.id) return;
      const version = (prev?.version ?? 0) + 1;
      results.push({ metric: m.name, key, windowStart: st.left.ts, windowEnd: end, value, final: true, version });
      records.push({ key, value: JSON.stringify({ version, status: value.status, leftTs: st.left.ts, leftId: st.left.id } satisfies JoinEmitted) });
    });
    if (results.length > 0) {
      await this.publish(results);
      await this.store.writeResults(results.map((r) => ({ metric: r.metric, key: r.key, windowStart: r.windowStart, windowEnd: r.windowEnd, value: JSON.stringify(r) })));
      await this.store.writeEmitted(m.name, records);
    }
    await Promise.all(
      mine.map((list: JoinDue[], p) => {
        if (list.length === 0) return undefined;
        const done = list.filter((d) => !deadline.has(d.key));
        const later = list.filter((d) => deadline.has(d.key)).map((entry) => ({ entry, due: deadline.get(entry.key)! }));
        return this.store.settleJoinDue(p, done, later);
      }),
    );
    return results;
  }
}

