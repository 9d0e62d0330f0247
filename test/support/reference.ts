/**
 * A brute-force reference for the default window metrics, independent of libs/streaming: every accepted
 * event, every window it belongs to, counted from scratch. `counted(event, window)` decides lateness the way
 * DESIGN.md defines it (an event is left out of a window when the watermark at its processing had passed
 * the window's end + allowed lateness); the test supplies it.
 */
import { partitionOf, type TidemarkEvent, type WindowResultDto } from '@tidemark/contracts';
import { eventually } from './eventually';

export interface RefWindow {
  start: number;
  end: number;
}

const MIN = 60_000;

export function tumbling(ts: number, size: number): RefWindow[] {
  const start = Math.floor(ts / size) * size;
  return [{ start, end: start + size }];
}

export function sliding(ts: number, size: number, hop: number): RefWindow[] {
  const out: RefWindow[] = [];
  for (let start = Math.floor(ts / hop) * hop; start > ts - size; start -= hop) out.push({ start, end: start + size });
  return out.reverse();
}

type Acc = { kind: 'count'; n: number } | { kind: 'sum'; micros: number } | { kind: 'distinct'; set: Set<string> } | { kind: 'topK'; counts: Map<string, number> } | { kind: 'ratio'; num: number; den: number } | { kind: 'funnel'; sessions: Map<string, number> };

export interface RefMetric {
  name: string;
  windows: (ts: number) => RefWindow[];
  /** One record per (key, input) the event contributes, or none. */
  records: (e: TidemarkEvent) => { key: string; input: unknown }[];
  create: () => Acc;
}

const count = (): Acc => ({ kind: 'count', n: 0 });
const sum = (): Acc => ({ kind: 'sum', micros: 0 });
const micros = (v: number) => Math.round(v * 1e6) || 0;
const STAGES: Record<string, number> = { product_view: 0, add_to_cart: 1, checkout_started: 2, order_placed: 3 };

export const REFERENCE_METRICS: RefMetric[] = [
  { name: 'events', windows: (ts) => tumbling(ts, MIN), records: (e) => [{ key: e.type, input: 1 }], create: count },
  { name: 'orders', windows: (ts) => tumbling(ts, MIN), records: (e) => (e.type === 'order_placed' ? [{ key: 'all', input: 1 }] : []), create: count },
  { name: 'gmv', windows: (ts) => tumbling(ts, MIN), records: (e) => (e.type === 'order_placed' ? [{ key: 'all', input: micros(e.amount!) }] : []), create: sum },
  {
    name: 'gmv_by_category',
    windows: (ts) => tumbling(ts, MIN),
    records: (e) => (e.type === 'order_placed' ? e.items!.filter((i) => i.categoryId !== undefined).map((i) => ({ key: i.categoryId!, input: micros(i.price * i.quantity) })) : []),
    create: sum,
  },
  { name: 'unique_visitors', windows: (ts) => tumbling(ts, MIN), records: (e) => [{ key: 'all', input: e.userId }], create: () => ({ kind: 'distinct', set: new Set() }) },
  { name: 'product_views', windows: (ts) => tumbling(ts, MIN), records: (e) => (e.type === 'product_view' ? [{ key: e.productId!, input: 1 }] : []), create: count },
  { name: 'top_products', windows: (ts) => sliding(ts, 60 * MIN, 5 * MIN), records: (e) => (e.type === 'product_view' ? [{ key: 'all', input: e.productId! }] : []), create: () => ({ kind: 'topK', counts: new Map() }) },
  { name: 'funnel', windows: (ts) => tumbling(ts, 5 * MIN), records: (e) => (e.type in STAGES ? [{ key: 'all', input: [e.sessionId, STAGES[e.type]] }] : []), create: () => ({ kind: 'funnel', sessions: new Map() }) },
  {
    name: 'payment_failure_rate',
    windows: (ts) => sliding(ts, 5 * MIN, MIN),
    records: (e) => (e.type === 'payment_failed' ? [{ key: 'all', input: [1, 1] }] : e.type === 'payment_succeeded' ? [{ key: 'all', input: [0, 1] }] : []),
    create: () => ({ kind: 'ratio', num: 0, den: 0 }),
  },
  { name: 'orders_per_user', windows: (ts) => sliding(ts, 10 * MIN, MIN), records: (e) => (e.type === 'order_placed' ? [{ key: e.userId, input: 1 }] : []), create: count },
];

function add(acc: Acc, input: unknown): void {
  switch (acc.kind) {
    case 'count':
      acc.n += 1;
      return;
    case 'sum':
      acc.micros += input as number;
      return;
    case 'distinct':
      acc.set.add(input as string);
      return;
    case 'topK': {
      const m = input as string;
      acc.counts.set(m, (acc.counts.get(m) ?? 0) + 1);
      return;
    }
    case 'ratio': {
      const [n, d] = input as [number, number];
      acc.num += n;
      acc.den += d;
      return;
    }
    case 'funnel': {
      const [s, stage] = input as [string, number];
      acc.sessions.set(s, Math.max(acc.sessions.get(s) ?? -1, stage));
      return;
    }
  }
}

export interface RefResult {
  key: string;
  start: number;
  end: number;
  acc: Acc;
}

/** metric → "key|start|end" → accumulator. */
export function computeReference(events: Iterable<TidemarkEvent>, counted: (e: TidemarkEvent, metric: string, w: RefWindow) => boolean): Map<string, Map<string, RefResult>> {
  const out = new Map<string, Map<string, RefResult>>();
  for (const m of REFERENCE_METRICS) out.set(m.name, new Map());
  for (const e of events) {
    for (const m of REFERENCE_METRICS) {
      const records = m.records(e);
      if (records.length === 0) continue;
      for (const w of m.windows(e.ts)) {
        if (!counted(e, m.name, w)) continue;
        for (const r of records) {
          const id = `${r.key}|${w.start}|${w.end}`;
          const table = out.get(m.name)!;
          let cell = table.get(id);
          if (!cell) table.set(id, (cell = { key: r.key, start: w.start, end: w.end, acc: m.create() }));
          add(cell.acc, r.input);
        }
      }
    }
  }
  return out;
}

/** The service's `value` that this accumulator must produce (distinct and top-K are checked separately). */
export function expectedValue(acc: Acc): unknown {
  switch (acc.kind) {
    case 'count':
      return acc.n;
    case 'sum':
      return acc.micros / 1e6;
    case 'distinct':
      return acc.set.size;
    case 'topK':
      return acc.counts;
    case 'ratio':
      return { ratio: acc.den === 0 ? null : acc.num / acc.den, numerator: acc.num, denominator: acc.den };
    case 'funnel': {
      const reached = [0, 1, 2, 3].map((i) => [...acc.sessions.values()].filter((s) => s >= i).length);
      const names = ['view', 'cart', 'checkout', 'order'];
      return {
        stages: names.map((name, i) => ({ name, sessions: reached[i] })),
        rates: names.slice(1).map((to, i) => ({ from: names[i], to, rate: reached[i] === 0 ? null : reached[i + 1] / reached[i] })),
      };
    }
  }
}

/**
 * Waits until every window of every reference metric ending by `lastFinalEnd` is final, then asserts the
 * service's windows are exactly the reference's, with equal values (HyperLogLog within 2 %; a top-K list must
 * be a valid top 10 of the reference counts, whatever the order of ties).
 */
export async function expectResultsMatch(
  fetchResults: (metric: string) => Promise<WindowResultDto[]>,
  reference: Map<string, Map<string, RefResult>>,
  lastFinalEnd: number,
): Promise<void> {
  for (const m of REFERENCE_METRICS) {
    const expected = reference.get(m.name)!;
    const actual = await eventually(
      async () => {
        const rs = (await fetchResults(m.name)).filter((r) => r.windowEnd <= lastFinalEnd);
        for (const r of rs) expect({ metric: r.metric, key: r.key, windowStart: r.windowStart, final: r.final }).toEqual({ metric: m.name, key: r.key, windowStart: r.windowStart, final: true });
        return rs;
      },
      { timeoutMs: 60_000, intervalMs: 200 },
    );
    const expectedFinal = [...expected.values()].filter((c) => c.end <= lastFinalEnd);
    expect(actual.map((r) => `${r.key}|${r.windowStart}|${r.windowEnd}`).sort()).toEqual(expectedFinal.map((c) => `${c.key}|${c.start}|${c.end}`).sort());
    for (const r of actual) {
      const want = expectedValue(expected.get(`${r.key}|${r.windowStart}|${r.windowEnd}`)!.acc);
      if (m.name === 'unique_visitors') {
        const exact = want as number;
        expect(Math.abs((r.value as number) - exact)).toBeLessThanOrEqual(Math.max(1, exact * 0.02));
      } else if (m.name === 'top_products') {
        const counts = want as Map<string, number>;
        const items = r.value as { member: string; count: number }[];
        expect(items.length).toBe(Math.min(10, counts.size));
        for (const it of items) expect(it.count).toBe(counts.get(it.member));
        const tenth = items[items.length - 1].count;
        const chosen = new Set(items.map((i) => i.member));
        for (const [member, n] of counts) if (!chosen.has(member)) expect(n).toBeLessThanOrEqual(tenth);
      } else {
        expect({ id: `${m.name} ${r.key} ${r.windowStart}`, value: r.value }).toEqual({ id: `${m.name} ${r.key} ${r.windowStart}`, value: want });
      }
    }
  }
}

/** One page_view per partition at `ts`: moves every partition's watermark to ts − bound (they count like any event). */
export function heartbeats(ts: number, tag: string, partitions: number): TidemarkEvent[] {
  const out: TidemarkEvent[] = [];
  for (let p = 0, n = 0; p < partitions; n++) {
    const sessionId = `hb-${tag}-${n}`;
    if (partitionOf(sessionId, partitions) !== p) continue;
    out.push({ id: `hb-${tag}-${p}`, type: 'page_view', ts, userId: 'hb-user', sessionId });
    p++;
  }
  return out;
}
