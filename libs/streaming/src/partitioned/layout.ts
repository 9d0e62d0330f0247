/**
 * Panes and accumulator encodings of the partitioned operator (docs/checkpoints.md). Pure.
 *
 * A tumbling or sliding metric keeps, per partition, one accumulator per (pane, key, from): the pane is
 * gcd(size, hop) long, so a record updates one pane instead of size / hop windows, and a window is the
 * merge of its panes when it fires or is read. `from` (null: none) restricts a cell to the windows starting
 * at or after it: the records of a batch that were too late for a pane's earlier windows.
 */
import { absorb, type AggregationKind, type AnyAggregation } from '../aggregations';
import { HyperLogLog, type HyperLogLogJson } from '../hll';
import { earlierLeft, type JoinState } from '../interval-join';
import type { AlignedWindows } from '../assigners';
import { paneSizeOf } from '../pre-aggregate';

export function paneSize(a: AlignedWindows): number {
  return paneSizeOf(a.size, a.hop);
}

/** The smallest window start (aligned to the hop) that is >= t. */
function firstStartAtOrAfter(a: AlignedWindows, t: number): number {
  const s = a.lastStart(t);
  return s === t ? s : s + a.hop;
}

/**
 * The start of the first window a cell with `from` counts in. Windows are made of whole panes, so the earliest
 * window holding the pane is the earliest holding its start (AlignedWindows.firstEnd).
 */
function firstStartOfCell(a: AlignedWindows, pane: number, from: number | null): number {
  const s = a.firstEnd(pane) - a.size;
  return from !== null && from > s ? firstStartAtOrAfter(a, from) : s;
}

/** The windows holding pane [pane, pane + paneSize) that a cell with `from` counts in, earliest first. */
export function windowsOfCell(a: AlignedWindows, pane: number, from: number | null): { start: number; end: number }[] {
  const out: { start: number; end: number }[] = [];
  for (let s = firstStartOfCell(a, pane, from); s <= pane; s += a.hop) out.push({ start: s, end: s + a.size });
  return out;
}

/** The end of the first window a cell counts in (a change to it after the watermark passed that end re-fires). */
export function firstEndOfCell(a: AlignedWindows, pane: number, from: number | null): number {
  return firstStartOfCell(a, pane, from) + a.size;
}

/** The panes of window [start, start + size). */
export function panesOfWindow(a: AlignedWindows, start: number): number[] {
  const p = paneSize(a);
  const out: number[] = [];
  for (let t = start; t < start + a.size; t += p) out.push(t);
  return out;
}

/** When a pane can go: the last window holding it is past its lateness. */
export function paneCleanupTime(a: AlignedWindows, pane: number, allowedLatenessMs: number): number {
  return a.lastStart(pane) + a.size + allowedLatenessMs;
}

/** An accumulator as a string (checkpoints), and back. Maps are entry lists, HyperLogLogs their JSON. */
export function encodeAcc(kind: AggregationKind, acc: unknown): string {
  switch (kind) {
    case 'distinct':
      return JSON.stringify((acc as HyperLogLog).toJSON());
    case 'topK':
      return JSON.stringify([...(acc as { counts: Map<string, number> }).counts]);
    case 'funnel':
      return JSON.stringify([...(acc as { sessions: Map<string, number> }).sessions]);
    default:
      return JSON.stringify(acc);
  }
}

export function decodeAcc(kind: AggregationKind, s: string): unknown {
  const v = JSON.parse(s) as unknown;
  switch (kind) {
    case 'distinct':
      return HyperLogLog.fromJSON(v as HyperLogLogJson);
    case 'topK':
      return { counts: new Map(v as [string, number][]) };
    case 'funnel':
      return { sessions: new Map(v as [string, number][]) };
    default:
      return v;
  }
}

/** Merges accumulators of one aggregation into a new one (the inputs are left alone). */
export function mergeAll(agg: AnyAggregation, accs: readonly unknown[]): unknown {
  let out = agg.createAccumulator();
  for (const a of accs) out = absorb(agg, out, a);
  return out;
}

/**
 * The cells of window [start, start + size), merged per key: a cell counts when its pane lies in the window
 * and its `from` (if any) is at or before the window's start. The firer and the query API read windows so.
 */
export function mergeWindowCells(agg: AnyAggregation, size: number, start: number, cells: readonly { pane: number; key: string; from: number | null; value: string }[]): Map<string, unknown> {
  const byKey = new Map<string, unknown>();
  for (const c of cells) {
    if (c.pane < start || c.pane >= start + size || (c.from !== null && c.from > start)) continue;
    const acc = decodeAcc(agg.kind, c.value);
    const cur = byKey.get(c.key);
    // Every accumulator here was decoded for this call: the first of a key is ours to merge the others into.
    byKey.set(c.key, cur === undefined ? acc : absorb(agg, cur, acc));
  }
  return byKey;
}

/** A key's sessions in one partition: [start, end), accumulator, last version published, changed since. */
export interface StoredSession {
  start: number;
  end: number;
  acc: unknown;
  v: number;
  d: boolean;
}

export function encodeSessions(kind: AggregationKind, list: readonly StoredSession[]): string {
  return JSON.stringify(list.map((s) => ({ s: s.start, e: s.end, a: encodeAcc(kind, s.acc), v: s.v, d: s.d })));
}

export function decodeSessions(kind: AggregationKind, text: string): StoredSession[] {
  return (JSON.parse(text) as { s: number; e: number; a: string; v: number; d: boolean }[]).map((j) => ({ start: j.s, end: j.e, acc: decodeAcc(kind, j.a), v: j.v, d: j.d }));
}

/** One partition's share of a join key (its lefts and rights there). */
export function encodeJoinPartial(st: JoinState): string {
  return JSON.stringify({ l: st.left, r: st.rights });
}

export function decodeJoinPartial(text: string): JoinState {
  const j = JSON.parse(text) as { l: JoinState['left']; r: number[] };
  return { left: j.l, rights: j.r };
}

/** A join key across partitions: the earliest left, the union of the rights (sorted). */
export function mergeJoinPartials(texts: Iterable<string>): JoinState {
  let left: JoinState['left'] = null;
  const rights = new Set<number>();
  for (const t of texts) {
    const j = decodeJoinPartial(t);
    left = earlierLeft(left, j.left);
    for (const r of j.rights) rights.add(r);
  }
  return { left, rights: [...rights].sort((x, y) => x - y) };
}
