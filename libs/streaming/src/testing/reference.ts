/**
 * Test support: a brute-force reference for metric definitions, written independently of the library's
 * compile / assigner / aggregation code: it enumerates windows by scanning, reads fields by hand and
 * aggregates whole lists. Used by the property tests.
 */
import type { TidemarkEvent } from '@tidemark/contracts';
import type { MetricDefinition } from '../metrics/metric-definitions';

const DUR: Record<string, number> = { ms: 1, s: 1000, m: 60_000, h: 3_600_000, d: 86_400_000 };
export function ms(d: number | string): number {
  if (typeof d === 'number') return d;
  const m = /^(-?\d+)(ms|s|m|h|d)$/.exec(d)!;
  return Number(m[1]) * DUR[m[2]];
}

function read(obj: unknown, path: string): unknown {
  let v = obj;
  for (const p of path.split('.')) {
    if (v === null || typeof v !== 'object' || !Object.prototype.hasOwnProperty.call(v, p)) return undefined;
    v = (v as Record<string, unknown>)[p];
  }
  return v;
}

function readPath(e: TidemarkEvent, item: unknown, path: string): unknown {
  return path.startsWith('item.') ? read(item, path.slice(5)) : read(e, path);
}

function str(v: unknown): string | undefined {
  if (typeof v === 'string') return v === '' ? undefined : v;
  if (typeof v === 'number' && Number.isFinite(v)) return String(v);
  if (typeof v === 'boolean') return String(v);
  return undefined;
}

export interface RefRecord {
  key: string;
  ts: number;
  event: TidemarkEvent;
  /** numeric value (product of value paths), member, stage, flags … */
  value: unknown;
}

/** The records a metric reads from an event (explode, key, value), or [] when it does not read it. */
export function recordsOf(def: MetricDefinition, e: TidemarkEvent): RefRecord[] {
  const a = def.aggregation;
  const types: string[] | undefined =
    def.source?.types ??
    (a.type === 'ratio' ? [...a.numerator, ...a.denominator] : a.type === 'funnel' ? a.stages.flatMap((s) => s.types) : a.type === 'abandonment' ? [...a.started, ...a.completed] : a.type === 'join' ? [...a.left, ...a.right] : undefined);
  if (types && !types.includes(e.type)) return [];
  const items: unknown[] = def.source?.explode ? ((read(e, def.source.explode) as unknown[]) ?? []) : [undefined];
  const out: RefRecord[] = [];
  for (const item of items) {
    const key = def.key === undefined ? 'all' : str(readPath(e, item, def.key));
    if (key === undefined) continue;
    let value: unknown = null;
    const paths = def.value === undefined ? [] : Array.isArray(def.value) ? def.value : [def.value];
    switch (a.type) {
      case 'sum':
      case 'avg':
      case 'min':
      case 'max': {
        const nums = paths.map((p) => readPath(e, item, p));
        if (!nums.every((n) => typeof n === 'number' && Number.isFinite(n))) continue;
        value = (nums as number[]).reduce((x, y) => x * y, 1);
        break;
      }
      case 'distinct':
      case 'topK':
        value = str(readPath(e, item, paths[0]));
        if (value === undefined) continue;
        break;
      case 'funnel': {
        const member = str(readPath(e, item, paths[0]));
        let stage = -1;
        a.stages.forEach((s, i) => {
          if ((s.types as string[]).includes(e.type)) stage = i;
        });
        if (member === undefined || stage < 0) continue;
        value = { member, stage };
        break;
      }
      case 'ratio':
        value = { a: (a.numerator as string[]).includes(e.type), b: (a.denominator as string[]).includes(e.type) };
        break;
      case 'abandonment':
        value = { a: (a.started as string[]).includes(e.type), b: (a.completed as string[]).includes(e.type) };
        break;
      default:
        break;
    }
    out.push({ key, ts: e.ts, event: e, value });
  }
  return out;
}

/** Every aligned window containing ts, by scanning candidate starts one millisecond at a time from ts − size + 1. */
export function windowsOf(def: MetricDefinition, ts: number): { start: number; end: number }[] {
  const w = def.window;
  if (w.type !== 'tumbling' && w.type !== 'sliding') throw new Error('aligned windows only');
  const size = ms(w.size);
  const hop = w.type === 'sliding' ? ms(w.hop) : size;
  const offset = w.offset === undefined ? 0 : ms(w.offset);
  const out: { start: number; end: number }[] = [];
  // starts are offset + k·hop; scan k instead of every millisecond (same thing, fewer steps)
  const kMin = Math.ceil((ts - size + 1 - offset) / hop);
  const kMax = Math.floor((ts - offset) / hop);
  for (let k = kMin; k <= kMax; k++) {
    const start = offset + k * hop;
    if (start <= ts && ts < start + size) out.push({ start, end: start + size });
  }
  return out;
}

/** The aggregate of a list of records, computed directly. */
export function aggregate(def: MetricDefinition, recs: RefRecord[]): unknown {
  const a = def.aggregation;
  const nums = () => recs.map((r) => r.value as number);
  switch (a.type) {
    case 'count':
      return recs.length;
    case 'sum':
      return nums().reduce((s, v) => s + (Math.round(v * 1e6) || 0), 0) / 1e6;
    case 'avg':
      return recs.length === 0 ? null : nums().reduce((s, v) => s + (Math.round(v * 1e6) || 0), 0) / 1e6 / recs.length;
    case 'min':
      return recs.length === 0 ? null : Math.min(...nums()) + 0;
    case 'max':
      return recs.length === 0 ? null : Math.max(...nums()) + 0;
    case 'distinct':
      return new Set(recs.map((r) => r.value)).size; // exact: tests stay below the sketch's exact limit
    case 'topK': {
      const c = new Map<string, number>();
      for (const r of recs) c.set(r.value as string, (c.get(r.value as string) ?? 0) + 1);
      return [...c]
        .sort((x, y) => y[1] - x[1] || (x[0] < y[0] ? -1 : 1))
        .slice(0, a.k)
        .map(([member, count]) => ({ member, count }));
    }
    case 'ratio': {
      const n = recs.filter((r) => (r.value as { a: boolean }).a).length;
      const d = recs.filter((r) => (r.value as { b: boolean }).b).length;
      return { ratio: d === 0 ? null : n / d, numerator: n, denominator: d };
    }
    case 'abandonment': {
      const s = recs.filter((r) => (r.value as { a: boolean }).a).length;
      const c = recs.filter((r) => (r.value as { b: boolean }).b).length;
      return { abandoned: s > 0 && c === 0, started: s, completed: c };
    }
    case 'funnel': {
      const max = new Map<string, number>();
      for (const r of recs) {
        const { member, stage } = r.value as { member: string; stage: number };
        max.set(member, Math.max(max.get(member) ?? -1, stage));
      }
      const reached = a.stages.map((_, i) => [...max.values()].filter((s) => s >= i).length);
      return {
        stages: a.stages.map((s, i) => ({ name: s.name, sessions: reached[i] })),
        rates: a.stages.slice(1).map((s, i) => ({ from: a.stages[i].name, to: s.name, rate: reached[i] === 0 ? null : reached[i + 1] / reached[i] })),
      };
    }
    default:
      throw new Error(`no reference for ${a.type}`);
  }
}

export interface RefResult {
  metric: string;
  key: string;
  windowStart: number;
  windowEnd: number;
  value: unknown;
}

const byWindow = (a: RefResult, b: RefResult) => a.windowStart - b.windowStart || a.windowEnd - b.windowEnd || (a.key < b.key ? -1 : a.key > b.key ? 1 : 0);

/** The batch computation of one window metric over a set of events (all counted). */
export function referenceResults(def: MetricDefinition, events: readonly TidemarkEvent[]): RefResult[] {
  const groups = new Map<string, { key: string; start: number; end: number; recs: RefRecord[] }>();
  const w = def.window;
  if (w.type === 'session') {
    const gap = ms(w.gap);
    const perKey = new Map<string, RefRecord[]>();
    for (const e of events) for (const r of recordsOf(def, e)) perKey.set(r.key, [...(perKey.get(r.key) ?? []), r]);
    const out: RefResult[] = [];
    for (const [key, recs] of perKey) {
      recs.sort((x, y) => x.ts - y.ts);
      let cur: RefRecord[] = [];
      const flush = () => {
        if (cur.length) out.push({ metric: def.name, key, windowStart: cur[0].ts, windowEnd: cur[cur.length - 1].ts + gap, value: aggregate(def, cur) });
        cur = [];
      };
      for (const r of recs) {
        if (cur.length && r.ts - cur[cur.length - 1].ts >= gap) flush();
        cur.push(r);
      }
      flush();
    }
    return out.sort(byWindow);
  }
  for (const e of events) {
    for (const r of recordsOf(def, e)) {
      for (const win of windowsOf(def, e.ts)) {
        const id = `${r.key}\u0000${win.start}`;
        let g = groups.get(id);
        if (!g) groups.set(id, (g = { key: r.key, start: win.start, end: win.end, recs: [] }));
        g.recs.push(r);
      }
    }
  }
  return [...groups.values()].map((g) => ({ metric: def.name, key: g.key, windowStart: g.start, windowEnd: g.end, value: aggregate(def, g.recs) })).sort(byWindow);
}

/** Interval-join reference: the lefts with no right of the same key in [l + lower, l + upper). */
export function referenceUnmatched(def: MetricDefinition, events: readonly TidemarkEvent[]): { key: string; leftTs: number; leftId: string }[] {
  const a = def.aggregation;
  const w = def.window;
  if (a.type !== 'join' || w.type !== 'interval') throw new Error('join only');
  const lower = w.lower === undefined ? 0 : ms(w.lower);
  const upper = ms(w.upper);
  const lefts = new Map<string, TidemarkEvent>();
  const rights = new Map<string, number[]>();
  for (const e of events) {
    const key = str(read(e, def.key!));
    if (key === undefined) continue;
    if ((a.left as string[]).includes(e.type)) {
      const cur = lefts.get(key);
      if (!cur || e.ts < cur.ts || (e.ts === cur.ts && e.id < cur.id)) lefts.set(key, e);
    } else if ((a.right as string[]).includes(e.type)) rights.set(key, [...(rights.get(key) ?? []), e.ts]);
  }
  const out: { key: string; leftTs: number; leftId: string }[] = [];
  for (const [key, l] of lefts) {
    if (!(rights.get(key) ?? []).some((r) => r >= l.ts + lower && r < l.ts + upper)) out.push({ key, leftTs: l.ts, leftId: l.id });
  }
  return out.sort((x, y) => x.leftTs - y.leftTs || (x.key < y.key ? -1 : 1));
}
