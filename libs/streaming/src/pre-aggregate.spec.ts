import fc from 'fast-check';
import type { TidemarkEvent } from '@tidemark/contracts';
import { AnyAggregation } from './aggregations';
import { mergeJoinDelta } from './interval-join';
import { CompiledWindowMetric, MetricSet } from './metrics/compile';
import { DEFAULT_METRICS } from './metrics/default-metrics';
import { preAggregate, PreAggregator, WindowDeltaEntry } from './pre-aggregate';
import { ev, order, paid, view } from './testing/events';
import { emptyWatermarkState, WatermarkState } from './watermark';

const metrics = new MetricSet(DEFAULT_METRICS);
const MIN = 60_000;
const seq = (events: TidemarkEvent[], from = 1) => events.map((event, i) => ({ event, seq: from + i }));
const byId = (deltas: WindowDeltaEntry[]) => Object.fromEntries(deltas.map((d) => [d.id, d.delta]));

describe('preAggregate', () => {
  it('turns a batch into one delta per (metric, key, window)', () => {
    const events = [
      view(1_000, 'p1', { userId: 'u1', sessionId: 's1' }),
      view(2_000, 'p1', { userId: 'u2', sessionId: 's2' }),
      view(61_000, 'p2', { userId: 'u1', sessionId: 's1' }),
      order(3_000, 'o1', 25.5, [
        { productId: 'p1', categoryId: 'shoes', price: 10.25, quantity: 2 },
        { productId: 'p2', categoryId: 'bags', price: 5, quantity: 1 },
        { productId: 'p3', price: 1, quantity: 1 },
      ]),
      ev('payment_failed', 4_000, { orderId: 'o1', amount: 25.5 }),
      paid(5_000, 'o1'),
    ];
    const r = preAggregate({ partition: 3, now: 0, events: seq(events) }, metrics);
    const d = byId(r.deltas);
    expect(d['events|product_view|0|60000']).toEqual({ kind: 'count', count: 2 });
    expect(d['events|product_view|60000|120000']).toEqual({ kind: 'count', count: 1 });
    expect(d['events|order_placed|0|60000']).toEqual({ kind: 'count', count: 1 });
    expect(d['orders|all|0|60000']).toEqual({ kind: 'count', count: 1 });
    expect(d['gmv|all|0|60000']).toEqual({ kind: 'sum', micros: 25_500_000 });
    expect(d['gmv_by_category|shoes|0|60000']).toEqual({ kind: 'sum', micros: 20_500_000 });
    expect(d['gmv_by_category|bags|0|60000']).toEqual({ kind: 'sum', micros: 5_000_000 });
    expect(r.skipped).toEqual({ gmv_by_category: 1 }); // the item without categoryId
    expect(d['unique_visitors|all|0|60000']).toEqual({ kind: 'distinct', members: ['u1', 'u2'] });
    expect(d['product_views|p1|0|60000']).toEqual({ kind: 'count', count: 2 });
    expect(d['product_views|p2|60000|120000']).toEqual({ kind: 'count', count: 1 });
    // top_products: 1 h windows every 5 min → 12 windows per view
    expect(r.deltas.filter((x) => x.metric === 'top_products' && x.windowStart <= 1_000 && 1_000 < x.windowEnd)).toHaveLength(12);
    expect(d['top_products|all|0|3600000']).toEqual({ kind: 'topK', counts: { p1: 2, p2: 1 } });
    expect(d['top_products|all|-3300000|300000']).toEqual({ kind: 'topK', counts: { p1: 2, p2: 1 } });
    expect(d['funnel|all|0|300000']).toEqual({ kind: 'funnel', sessions: { s1: 3, s2: 0 } });
    expect(d['payment_failure_rate|all|0|300000']).toEqual({ kind: 'ratio', numerator: 1, denominator: 2 });
    expect(r.deltas.filter((x) => x.metric === 'payment_failure_rate')).toHaveLength(5);
    expect(r.deltas.filter((x) => x.metric === 'orders_per_user')).toHaveLength(10);
    expect(d['cart_abandonment|s1|3000|1803000']).toEqual({ kind: 'abandonment', started: 0, completed: 1 });
    expect(r.deltas.find((x) => x.metric === 'cart_abandonment')!.windowType).toBe('session');
    expect(r.joins).toEqual([
      {
        id: 'unpaid_orders|o1',
        metric: 'unpaid_orders',
        key: 'o1',
        delta: { kind: 'join', left: { ts: 3_000, id: events[3].id, fields: { userId: 'u1', sessionId: 's1', amount: 25.5 } }, rights: [5_000] },
      },
    ]);
    expect(r.late).toEqual([]);
    expect(r.processed).toBe(6);
    expect(r.lastSeq).toBe(6);
    expect(r.partitionWatermark).toBe(61_000 - 5_000);
    expect(r.operatorWatermark).toBe(56_000);
    expect(r.watermark).toEqual({ partitions: { '3': { maxTs: 61_000, lastActiveAt: 0 } }, watermark: 56_000 });
    // every delta id is metric|key|start|end and JSON-serialisable
    for (const x of r.deltas) expect(x.id).toBe(`${x.metric}|${x.key}|${x.windowStart}|${x.windowEnd}`);
    expect(JSON.parse(JSON.stringify(r.deltas))).toEqual(JSON.parse(JSON.stringify(r.deltas)));
  });

  it('is pure: the input state is untouched, the same input gives the same output', () => {
    const state: WatermarkState = { partitions: { '0': { maxTs: 100_000, lastActiveAt: 5 } }, watermark: 95_000 };
    const copy = JSON.parse(JSON.stringify(state));
    const input = { partition: 0, now: 10, events: seq([view(200_000), view(10_000)]), watermark: state };
    const a = preAggregate(input, metrics);
    const b = preAggregate(input, metrics);
    expect(state).toEqual(copy);
    expect(JSON.stringify(a)).toBe(JSON.stringify(b));
    expect(a.watermark.partitions['0']).toEqual({ maxTs: 200_000, lastActiveAt: 10 });
  });

  it('reports an event late for a window once W >= end + allowed lateness, with the windows and the reason', () => {
    // W = 125_000 before the batch: [0, 60000) is late (125000 >= 60000 + 60000), [60000, 120000) is not
    const state: WatermarkState = { partitions: { '0': { maxTs: 130_000, lastActiveAt: 0 } }, watermark: 125_000 };
    const late = view(59_999, 'p9');
    const onTime = view(60_000, 'p9');
    const r = preAggregate({ partition: 0, now: 0, events: seq([late, onTime], 10), watermark: state }, metrics);
    const d = byId(r.deltas);
    expect(d['product_views|p9|0|60000']).toBeUndefined();
    expect(d['product_views|p9|60000|120000']).toEqual({ kind: 'count', count: 1 });
    const pv = r.late.find((l) => l.metric === 'product_views')!;
    expect(pv).toMatchObject({ event: late, seq: 10, partition: '0', windows: [{ start: 0, end: 60_000 }], watermark: 125_000, allowedLatenessMs: 60_000 });
    expect(pv.reason).toBe('event at 59999 too late for product_views window [0, 60000): watermark 125000 >= end + allowed lateness 60000');
    expect(r.late.map((l) => l.metric)).toEqual(['events', 'unique_visitors', 'product_views']); // funnel's 5 min window is not late
    // top_products: the 1 h windows are not late; counted there
    expect(d['top_products|all|0|3600000']).toEqual({ kind: 'topK', counts: { p9: 2 } });
    // late_events: once per late event, by type, in the window of the watermark that found it late
    expect(d['late_events|product_view|120000|180000']).toEqual({ kind: 'count', count: 1 });
    expect(r.deltas.filter((x) => x.metric === 'late_events')).toHaveLength(1);
  });

  it('at W = end + allowed lateness − 1 the event still counts', () => {
    const state: WatermarkState = { partitions: { '0': { maxTs: 124_999, lastActiveAt: 0 } }, watermark: 119_999 };
    const r = preAggregate({ partition: 0, now: 0, events: seq([view(59_999, 'p9')]), watermark: state }, metrics);
    expect(r.late).toEqual([]);
    expect(byId(r.deltas)['product_views|p9|0|60000']).toEqual({ kind: 'count', count: 1 });
  });

  it('advances the watermark event by event inside the batch (batch ≡ one by one)', () => {
    // bound 0, lateness 0: after the event at 60000 the window [0, 60000) is past its horizon
    const p = new PreAggregator(metrics, { maxOutOfOrdernessMs: 0, allowedLatenessMs: 0 });
    const r = p.run({ partition: 0, now: 0, events: seq([view(1), view(60_000), view(2)]) });
    expect(byId(r.deltas)['product_views|p1|0|60000']).toEqual({ kind: 'count', count: 1 });
    expect(r.late.filter((l) => l.metric === 'product_views').map((l) => l.event.ts)).toEqual([2]);
  });

  it('skips replays (seq <= afterSeq) and reports invalid events without throwing', () => {
    const r = preAggregate(
      {
        partition: 0,
        now: 0,
        afterSeq: 2,
        events: [
          { event: view(1_000), seq: 1 },
          { event: view(2_000), seq: 2 },
          { event: view(3_000), seq: 3 },
          { event: { ...view(4_000), ts: Number.NaN }, seq: 4 },
          { event: null as unknown as TidemarkEvent, seq: 5 },
        ],
      },
      metrics,
    );
    expect(r.replayed).toBe(2);
    expect(r.processed).toBe(1);
    expect(r.lastSeq).toBe(5);
    expect(r.invalid.map((i) => i.seq)).toEqual([4, 5]);
    expect(r.invalid[0].error).toMatch(/finite numeric ts/);
    expect(byId(r.deltas)['product_views|p1|0|60000']).toEqual({ kind: 'count', count: 1 });
    expect(r.watermark.partitions['0'].maxTs).toBe(3_000);
  });

  it('skips records without a key, counted per metric, never crashing', () => {
    const r = preAggregate({ partition: 0, now: 0, events: seq([ev('product_view', 1), order(2, 'o', 5, undefined), { ...order(3, '', 1), items: 'x' as never }]) }, metrics);
    expect(r.skipped).toEqual({ product_views: 1, top_products: 1, gmv_by_category: 1, unpaid_orders: 1 });
    expect(byId(r.deltas)['events|product_view|0|60000']).toEqual({ kind: 'count', count: 1 });
  });

  it('merges the sessions of one key inside the batch', () => {
    const gap = 1_800_000;
    const r = preAggregate(
      { partition: 0, now: 0, events: seq([ev('add_to_cart', 0), ev('add_to_cart', gap - 1), ev('add_to_cart', 3 * gap), ev('order_placed', 3 * gap + gap, { orderId: 'o' })]) },
      metrics,
    );
    const s = r.deltas.filter((d) => d.metric === 'cart_abandonment');
    expect(s.map((d) => [d.windowStart, d.windowEnd, d.delta])).toEqual([
      [0, 2 * gap - 1, { kind: 'abandonment', started: 2, completed: 0 }],
      [3 * gap, 4 * gap, { kind: 'abandonment', started: 1, completed: 0 }],
      [4 * gap, 5 * gap, { kind: 'abandonment', started: 0, completed: 1 }],
    ]);
  });

  it('a session event is late exactly when W >= ts + gap + allowed lateness', () => {
    const gap = 1_800_000;
    const W = 10_000_000;
    const state: WatermarkState = { partitions: { '0': { maxTs: W + 5_000, lastActiveAt: 0 } }, watermark: W };
    const lateTs = W - gap - 60_000;
    const r = preAggregate({ partition: 0, now: 0, events: seq([ev('add_to_cart', lateTs, { sessionId: 'late' }), ev('add_to_cart', lateTs + 1, { sessionId: 'ok' })]), watermark: state }, metrics);
    expect(r.late.filter((l) => l.metric === 'cart_abandonment')).toMatchObject([{ event: { sessionId: 'late' }, windows: [{ start: lateTs, end: lateTs + gap }] }]);
    expect(r.late.find((l) => l.metric === 'cart_abandonment')!.reason).toMatch(/too late for cart_abandonment session window/);
    expect(r.deltas.filter((d) => d.metric === 'cart_abandonment').map((d) => d.key)).toEqual(['ok']);
  });

  it('join deltas: earliest left, sorted unique rights; a late left or right is reported', () => {
    const r = preAggregate({ partition: 0, now: 0, events: seq([paid(9, 'o'), order(5, 'o', 1, [], { id: 'b' }), order(5, 'o', 1, [], { id: 'a' }), paid(7, 'o'), paid(9, 'o')]) }, metrics);
    expect(r.joins[0].delta).toMatchObject({ left: { ts: 5, id: 'a' }, rights: [7, 9] });
    const state: WatermarkState = { partitions: { '0': { maxTs: 1_005_000, lastActiveAt: 0 } }, watermark: 1_000_000 };
    const late = preAggregate({ partition: 0, now: 0, events: seq([order(40_000, 'x', 1), paid(940_000, 'y'), order(40_001, 'z', 1), paid(940_001, 'w')]), watermark: state }, metrics);
    // left late iff W >= ts + 15 min + 1 min; right late iff W >= ts + 1 min
    expect(late.late.filter((l) => l.metric === 'unpaid_orders').map((l) => [l.event.orderId, l.windows])).toEqual([
      ['x', [{ start: 40_000, end: 940_000 }]],
      ['y', [{ start: 40_000, end: 940_000 }]],
    ]);
    expect(late.joins.map((j) => j.key)).toEqual(['z', 'w']);
  });

  it('batch deltas equal the merge of single-event deltas threaded through the watermark state (property)', () => {
    const types = ['page_view', 'product_view', 'add_to_cart', 'checkout_started', 'order_placed', 'payment_failed', 'payment_succeeded'] as const;
    const arb = fc.array(
      fc.record({ type: fc.constantFrom(...types), ts: fc.integer({ min: 0, max: 900_000 }), u: fc.integer({ min: 0, max: 4 }), p: fc.integer({ min: 0, max: 5 }), o: fc.integer({ min: 0, max: 3 }) }),
      { maxLength: 40, size: 'max' },
    );
    fc.assert(
      fc.property(arb, fc.constantFrom(0, 5_000, 60_000), fc.constantFrom(0, 60_000), (raw, bound, lateness) => {
        const events = raw.map((x) =>
          ev(x.type, x.ts, { userId: `u${x.u}`, sessionId: `s${x.u}`, productId: `p${x.p}`, orderId: `o${x.o}`, amount: x.p + 0.25, items: [{ productId: `p${x.p}`, categoryId: `c${x.p % 2}`, price: 1.1, quantity: 2 }] }),
        );
        const pre = new PreAggregator(metrics, { maxOutOfOrdernessMs: bound, allowedLatenessMs: lateness });
        const whole = pre.run({ partition: 0, now: 0, events: seq(events) });
        let state = emptyWatermarkState();
        const merged = new Map<string, WindowDeltaEntry>();
        const joins = new Map<string, ReturnType<typeof mergeJoinDelta>>();
        const late: string[] = [];
        for (const e of seq(events)) {
          const one = pre.run({ partition: 0, now: 0, events: [e], watermark: state });
          state = one.watermark;
          late.push(...one.late.map((l) => `${l.metric}:${l.event.id}:${JSON.stringify(l.windows)}`));
          for (const d of one.deltas) {
            if (d.windowType === 'session') continue; // sessions merge across deltas: compared through the operator
            const agg = (metrics.get(d.metric) as CompiledWindowMetric).aggregation as AnyAggregation;
            const cur = merged.get(d.id);
            merged.set(d.id, cur ? { ...d, delta: agg.mergeDelta(cur.delta, d.delta) } : d);
          }
          for (const j of one.joins) joins.set(j.id, joins.has(j.id) ? mergeJoinDelta(joins.get(j.id)!, j.delta) : j.delta);
        }
        const canon = (x: unknown) => JSON.parse(JSON.stringify(x));
        const wholeAligned = whole.deltas.filter((d) => d.windowType === 'aligned');
        expect(canon(Object.fromEntries(wholeAligned.map((d) => [d.id, d.delta])))).toEqual(canon(Object.fromEntries([...merged].map(([id, d]) => [id, d.delta]))));
        expect(canon(Object.fromEntries(whole.joins.map((j) => [j.id, j.delta])))).toEqual(canon(Object.fromEntries(joins)));
        expect(whole.late.map((l) => `${l.metric}:${l.event.id}:${JSON.stringify(l.windows)}`)).toEqual(late);
        expect(whole.watermark).toEqual(state);
      }),
      { numRuns: 60 },
    );
  });

  it('refuses a negative allowed lateness', () => {
    expect(() => new PreAggregator(metrics, { allowedLatenessMs: -1 })).toThrow(RangeError);
  });
});
