/**
 * A brute-force reference for the default window metrics, independent of libs/streaming: every accepted
 * event, every window it belongs to, counted from scratch. `counted(event, window)` decides lateness the way
 * docs/semantics.md "Windows and lateness" defines it (an event is left out of a window when the watermark at
 * its processing had passed the window's end + allowed lateness); the caller supplies it. The end-to-end
 * tests and `tidemark chaos` compare the service's windows with it (`compareWindows`).
 */
import { partitionOf, type TidemarkEvent, type WindowResultDto } from '@tidemark/contracts';

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

export type Acc = { kind: 'count'; n: number } | { kind: 'sum'; micros: number } | { kind: 'distinct'; set: Set<string> } | { kind: 'topK'; counts: Map<string, number> } | { kind: 'ratio'; num: number; den: number } | { kind: 'funnel'; sessions: Map<string, number> };

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

/** cart_abandonment by brute force: per session id, events of the session types split where a gap of ≥ 30 min opens. */
export function referenceSessions(events: Iterable<TidemarkEvent>, gapMs = 30 * MIN): Map<string, { key: string; start: number; end: number; started: number; completed: number }> {
  const types = new Set(['add_to_cart', 'remove_from_cart', 'checkout_started', 'order_placed']);
  const byKey = new Map<string, TidemarkEvent[]>();
  for (const e of events) {
    if (!types.has(e.type)) continue;
    const list = byKey.get(e.sessionId);
    if (list) list.push(e);
    else byKey.set(e.sessionId, [e]);
  }
  const out = new Map<string, { key: string; start: number; end: number; started: number; completed: number }>();
  for (const [key, list] of byKey) {
    list.sort((a, b) => a.ts - b.ts);
    let cur: { key: string; start: number; end: number; started: number; completed: number } | null = null;
    for (const e of list) {
      if (!cur || e.ts >= cur.end) {
        if (cur) out.set(`${key}|${cur.start}|${cur.end}`, cur);
        cur = { key, start: e.ts, end: e.ts + gapMs, started: 0, completed: 0 };
      }
      cur.end = Math.max(cur.end, e.ts + gapMs);
      if (e.type === 'add_to_cart') cur.started++;
      if (e.type === 'order_placed') cur.completed++;
    }
    if (cur) out.set(`${key}|${cur.start}|${cur.end}`, cur);
  }
  return out;
}

/** unpaid_orders by brute force: the orders (earliest order_placed per orderId) with no payment_succeeded in [ts, ts + 15 min). */
export function referenceUnpaid(events: Iterable<TidemarkEvent>, upperMs = 15 * MIN): Map<string, TidemarkEvent> {
  const orders = new Map<string, TidemarkEvent>();
  const payments = new Map<string, number[]>();
  for (const e of events) {
    if (!e.orderId) continue;
    if (e.type === 'order_placed') {
      const cur = orders.get(e.orderId);
      if (!cur || e.ts < cur.ts || (e.ts === cur.ts && e.id < cur.id)) orders.set(e.orderId, e);
    } else if (e.type === 'payment_succeeded') {
      payments.set(e.orderId, [...(payments.get(e.orderId) ?? []), e.ts]);
    }
  }
  const unpaid = new Map<string, TidemarkEvent>();
  for (const [orderId, o] of orders) if (!(payments.get(orderId) ?? []).some((t) => t >= o.ts && t < o.ts + upperMs)) unpaid.set(orderId, o);
  return unpaid;
}


/** One window that differs from the reference. */
export interface WindowMismatch {
  metric: string;
  /** `key|start|end` */
  window: string;
  problem: 'missing' | 'extra' | 'not final' | 'value';
  want?: unknown;
  got?: unknown;
}

export interface WindowComparison {
  /** Windows compared (reference windows ending by the horizon, per metric, summed). */
  windows: number;
  mismatches: WindowMismatch[];
  /** The `events` metric (one count per event and type): events the reference counts, the service counted, and the differences by window. */
  events: { expected: number; counted: number; lost: number; doubled: number };
}

/**
 * Compares the service's windows ending by `lastFinalEnd` with the reference: every reference window must be
 * there, final, with an equal value (HyperLogLog within 2 %; a top-K list must be a valid top 10 of the
 * reference counts, whatever the order of ties), and no other window may be.
 */
export function compareWindows(reference: Map<string, Map<string, RefResult>>, results: (metric: string) => readonly WindowResultDto[], lastFinalEnd: number): WindowComparison {
  const mismatches: WindowMismatch[] = [];
  let windows = 0;
  const events = { expected: 0, counted: 0, lost: 0, doubled: 0 };
  for (const m of REFERENCE_METRICS) {
    const expected = reference.get(m.name)!;
    const actual = new Map<string, WindowResultDto>();
    for (const r of results(m.name)) if (r.windowEnd <= lastFinalEnd) actual.set(`${r.key}|${r.windowStart}|${r.windowEnd}`, r);
    for (const [id, cell] of expected) {
      if (cell.end > lastFinalEnd) continue;
      windows++;
      const want = expectedValue(cell.acc);
      const r = actual.get(id);
      if (m.name === 'events') events.expected += want as number;
      if (!r) {
        mismatches.push({ metric: m.name, window: id, problem: 'missing', want });
        if (m.name === 'events') events.lost += want as number;
        continue;
      }
      if (!r.final) mismatches.push({ metric: m.name, window: id, problem: 'not final' });
      if (m.name === 'events') {
        const got = r.value as number;
        events.counted += got;
        if (got < (want as number)) events.lost += (want as number) - got;
        else events.doubled += got - (want as number);
      }
      if (!valueMatches(m.name, want, r.value)) mismatches.push({ metric: m.name, window: id, problem: 'value', want: want instanceof Map ? Object.fromEntries(want) : want, got: r.value });
    }
    for (const [id, r] of actual) {
      if (expected.has(id)) continue;
      mismatches.push({ metric: m.name, window: id, problem: 'extra', got: r.value });
      if (m.name === 'events') {
        events.counted += r.value as number;
        events.doubled += r.value as number;
      }
    }
  }
  return { windows, mismatches, events };
}

function valueMatches(metric: string, want: unknown, got: unknown): boolean {
  if (metric === 'unique_visitors') {
    const exact = want as number;
    return typeof got === 'number' && Math.abs(got - exact) <= Math.max(1, exact * 0.02);
  }
  if (metric === 'top_products') {
    const counts = want as Map<string, number>;
    const items = got as { member: string; count: number }[];
    if (!Array.isArray(items) || items.length !== Math.min(10, counts.size)) return false;
    if (items.some((it) => it.count !== counts.get(it.member))) return false;
    const tenth = items[items.length - 1]?.count ?? 0;
    const chosen = new Set(items.map((i) => i.member));
    for (const [member, n] of counts) if (!chosen.has(member) && n > tenth) return false;
    return true;
  }
  return JSON.stringify(got) === JSON.stringify(want);
}
