import { StreamingTestHarness } from './harness';
import { MetricDefinition } from './metrics/metric-definitions';
import { StreamingOperator } from './operator';
import { ev, order, paid, view } from './testing/events';

const MIN = 60_000;
const countPerMinute: MetricDefinition = { name: 'views', source: { types: ['product_view'] }, aggregation: { type: 'count' }, window: { type: 'tumbling', size: '1m' } };
const sessions: MetricDefinition = { name: 'visits', key: 'sessionId', source: { types: ['product_view'] }, aggregation: { type: 'count' }, window: { type: 'session', gap: '10s' } };
const late: MetricDefinition = { name: 'late_events', source: { late: true }, key: 'type', aggregation: { type: 'count' }, window: { type: 'tumbling', size: '1m' } };

const harness = (defs: MetricDefinition[] = [countPerMinute, late], opts = {}) => new StreamingTestHarness(defs, { maxOutOfOrdernessMs: 0, ...opts });

describe('StreamingOperator: firing at the window end', () => {
  it('an event at end belongs to the next window; the window fires at W >= end, not at end − 1', () => {
    const h = harness();
    h.processElement(view(0)).processElement(view(59_999)).processElement(view(60_000 - 60_000 + 1));
    h.processWatermark(59_999);
    expect(h.results).toEqual([]);
    h.processElement(view(60_000)); // W becomes 60000 (bound 0): fires [0, 60000) with the 3 events, not this one
    expect(h.results).toEqual([{ metric: 'views', key: 'all', windowStart: 0, windowEnd: MIN, value: 3, final: true, version: 1 }]);
    h.processWatermark(119_999);
    expect(h.results).toHaveLength(1);
    h.processWatermark(120_000);
    expect(h.results[1]).toEqual({ metric: 'views', key: 'all', windowStart: MIN, windowEnd: 2 * MIN, value: 1, final: true, version: 1 });
  });

  it('fires from the watermark of the events: max ts − bound', () => {
    const h = harness([countPerMinute], { maxOutOfOrdernessMs: 5_000 });
    h.processElement(view(10_000)).processElement(view(64_999));
    expect(h.watermark).toBe(59_999);
    expect(h.results).toEqual([]);
    h.processElement(view(65_000));
    expect(h.watermark).toBe(60_000);
    expect(h.results).toMatchObject([{ windowStart: 0, value: 1, version: 1 }]);
  });

  it('the partial value is readable before firing (final: false, version 0)', () => {
    const h = harness();
    h.processElement(view(1)).processElement(view(2));
    expect(h.query('views')).toEqual([{ metric: 'views', key: 'all', windowStart: 0, windowEnd: MIN, value: 2, final: false, version: 0 }]);
    h.processWatermark(MIN);
    expect(h.query('views')).toEqual([{ metric: 'views', key: 'all', windowStart: 0, windowEnd: MIN, value: 2, final: true, version: 1 }]);
    expect(h.query('views', { from: MIN })).toEqual([]);
    expect(h.query('views', { to: 0 })).toEqual([]);
    expect(h.query('views', { key: 'other' })).toEqual([]);
    expect(() => h.query('nope')).toThrow(/unknown metric/);
  });
});

describe('StreamingOperator: allowed lateness', () => {
  it('an event after firing but within lateness updates the window and re-fires it with version + 1', () => {
    const h = harness([countPerMinute, late], { allowedLatenessMs: MIN });
    h.processElement(view(1)).processWatermark(MIN);
    h.processElement(view(2));
    expect(h.results.map((r) => [r.value, r.version, r.final])).toEqual([
      [1, 1, true],
      [2, 2, true],
    ]);
    h.processWatermark(2 * MIN - 1); // end + lateness − 1: still counted
    h.processElement(view(3));
    expect(h.results[2]).toMatchObject({ windowStart: 0, value: 3, version: 3, final: true });
    expect(h.lateOutput).toEqual([]);
  });

  it('at W = end + lateness the event is late: late output with the reason, counted in late_events, window purged', () => {
    const h = harness([countPerMinute, late], { allowedLatenessMs: MIN });
    h.processElement(view(1)).processWatermark(MIN);
    expect(h.operator.openWindows).toBe(1);
    h.processWatermark(2 * MIN);
    expect(h.operator.openWindows).toBe(0); // purged at end + lateness
    expect(h.query('views')).toEqual([]);
    const e = view(59_999);
    h.processElement(e);
    expect(h.lateOutput).toEqual([
      {
        metric: 'views',
        event: e,
        seq: null,
        partition: '0',
        windows: [{ start: 0, end: MIN }],
        watermark: 2 * MIN,
        allowedLatenessMs: MIN,
        reason: 'event at 59999 too late for views window [0, 60000): watermark 120000 >= end + allowed lateness 60000',
      },
    ]);
    expect(h.query('late_events')).toMatchObject([{ key: 'product_view', windowStart: 2 * MIN, windowEnd: 3 * MIN, value: 1, final: false }]);
    h.processWatermark(3 * MIN);
    expect(h.resultsOf('late_events')).toMatchObject([{ key: 'product_view', value: 1, version: 1 }]);
    expect(h.resultsOf('views').map((r) => r.version)).toEqual([1]); // never re-fired
  });

  it('zero lateness: late as soon as the window fired', () => {
    const h = harness([countPerMinute], { allowedLatenessMs: 0 });
    h.processElement(view(1)).processWatermark(MIN).processElement(view(2));
    expect(h.lateOutput).toHaveLength(1);
    expect(h.results).toHaveLength(1);
  });

  it('several late updates within one batch re-fire once', () => {
    const h = harness([countPerMinute], { allowedLatenessMs: MIN });
    h.processElement(view(1)).processWatermark(MIN);
    h.processBatch([view(2), view(3), view(4)]);
    expect(h.results.map((r) => [r.value, r.version])).toEqual([
      [1, 1],
      [4, 2],
    ]);
  });

  it('a batch that passes the end and brings late-but-allowed events fires once with all of them', () => {
    const h = harness([countPerMinute], { allowedLatenessMs: MIN });
    h.processBatch([view(1), view(70_000), view(2)]);
    expect(h.results).toEqual([{ metric: 'views', key: 'all', windowStart: 0, windowEnd: MIN, value: 2, final: true, version: 1 }]);
  });
});

describe('StreamingOperator: session windows', () => {
  const h0 = () => harness([sessions], { allowedLatenessMs: MIN });

  it('events less than gap apart share a session; exactly gap apart do not', () => {
    const h = h0();
    h.processElement(view(0)).processElement(view(9_999)).processElement(view(19_998)).processElement(view(29_998));
    h.processWatermark(1e9);
    expect(h.latest('visits').map((r) => [r.windowStart, r.windowEnd, r.value])).toEqual([
      [0, 29_998, 3], // 0, 9999 (gap − 1 later), 19998 (gap − 1 later)
      [29_998, 39_998, 1], // exactly gap after 19998: a new session
    ]);
  });

  it('fires a session when W >= last event + gap', () => {
    const h = h0();
    h.processElement(view(0)).processElement(view(5_000));
    h.processWatermark(14_999);
    expect(h.results).toEqual([]);
    h.processWatermark(15_000);
    expect(h.results).toEqual([{ metric: 'visits', key: 's1', windowStart: 0, windowEnd: 15_000, value: 2, final: true, version: 1 }]);
  });

  it('a late event that bridges two fired sessions merges them and re-fires with the next version', () => {
    const h = h0();
    h.processElement(view(0)).processElement(view(15_000));
    h.processWatermark(25_000);
    expect(h.results.map((r) => [r.windowStart, r.windowEnd, r.value, r.version])).toEqual([
      [0, 10_000, 1, 1],
      [15_000, 25_000, 1, 1],
    ]);
    h.processElement(view(7_000)); // [7000, 17000) intersects both
    expect(h.results[2]).toEqual({ metric: 'visits', key: 's1', windowStart: 0, windowEnd: 25_000, value: 3, final: true, version: 2 });
    expect(h.query('visits')).toEqual([{ metric: 'visits', key: 's1', windowStart: 0, windowEnd: 25_000, value: 3, final: true, version: 2 }]);
    expect(h.operator.openWindows).toBe(1);
  });

  it('an event extending a fired session past W fires it again at its new end', () => {
    const h = h0();
    h.processElement(view(0)).processWatermark(10_000);
    h.processElement(view(5_000)); // session becomes [0, 15000), not complete at W = 10000
    expect(h.results).toHaveLength(1);
    expect(h.query('visits')[0]).toMatchObject({ windowEnd: 15_000, value: 2, final: false, version: 1 });
    h.processWatermark(15_000);
    expect(h.results[1]).toMatchObject({ windowStart: 0, windowEnd: 15_000, value: 2, version: 2 });
  });

  it('keys have separate sessions; sessions are purged after end + lateness', () => {
    const h = h0();
    h.processElement(view(0, 'p', { sessionId: 'a' })).processElement(view(1, 'p', { sessionId: 'b' }));
    h.processWatermark(10_001);
    expect(h.results.map((r) => r.key)).toEqual(['a', 'b']);
    h.processWatermark(70_000);
    expect(h.operator.openWindows).toBe(1);
    h.processWatermark(70_001);
    expect(h.operator.openWindows).toBe(0);
  });
});

describe('StreamingOperator: default metrics', () => {
  it('computes every default metric for a small shop', () => {
    const h = new StreamingTestHarness(undefined, { maxOutOfOrdernessMs: 0 });
    h.processBatch([
      view(1_000, 'p1', { userId: 'u1', sessionId: 's1' }),
      ev('add_to_cart', 2_000, { productId: 'p1', userId: 'u1', sessionId: 's1' }),
      ev('checkout_started', 3_000, { userId: 'u1', sessionId: 's1' }),
      order(4_000, 'o1', 30, [{ productId: 'p1', categoryId: 'c1', price: 10, quantity: 3 }], { userId: 'u1', sessionId: 's1' }),
      paid(5_000, 'o1', { userId: 'u1', sessionId: 's1' }),
      view(6_000, 'p2', { userId: 'u2', sessionId: 's2' }),
      ev('add_to_cart', 7_000, { productId: 'p2', userId: 'u2', sessionId: 's2' }),
      order(8_000, 'o2', 12.5, [], { userId: 'u2', sessionId: 's2' }),
      ev('payment_failed', 9_000, { orderId: 'o2', userId: 'u2', sessionId: 's2' }),
      ev('add_to_cart', 10_000, { productId: 'p3', userId: 'u3', sessionId: 's3' }),
    ]);
    h.processWatermark(4 * 3_600_000);
    const one = (metric: string) => h.latest(metric).map((r) => ({ key: r.key, windowStart: r.windowStart, value: r.value }));
    expect(one('events')).toEqual([
      { key: 'add_to_cart', windowStart: 0, value: 3 },
      { key: 'checkout_started', windowStart: 0, value: 1 },
      { key: 'order_placed', windowStart: 0, value: 2 },
      { key: 'payment_failed', windowStart: 0, value: 1 },
      { key: 'payment_succeeded', windowStart: 0, value: 1 },
      { key: 'product_view', windowStart: 0, value: 2 },
    ]);
    expect(one('orders')).toEqual([{ key: 'all', windowStart: 0, value: 2 }]);
    expect(one('gmv')).toEqual([{ key: 'all', windowStart: 0, value: 42.5 }]);
    expect(one('gmv_by_category')).toEqual([{ key: 'c1', windowStart: 0, value: 30 }]);
    expect(one('unique_visitors')).toEqual([{ key: 'all', windowStart: 0, value: 3 }]);
    expect(one('product_views')).toEqual([
      { key: 'p1', windowStart: 0, value: 1 },
      { key: 'p2', windowStart: 0, value: 1 },
    ]);
    expect(h.latest('top_products')).toHaveLength(12);
    expect(h.latest('top_products')[11]).toMatchObject({ windowStart: 0, windowEnd: 3_600_000, value: [{ member: 'p1', count: 1 }, { member: 'p2', count: 1 }] });
    expect(one('funnel')[0].value).toEqual({
      stages: [
        { name: 'view', sessions: 3 },
        { name: 'cart', sessions: 3 },
        { name: 'checkout', sessions: 2 },
        { name: 'order', sessions: 2 },
      ],
      rates: [
        { from: 'view', to: 'cart', rate: 1 },
        { from: 'cart', to: 'checkout', rate: 2 / 3 },
        { from: 'checkout', to: 'order', rate: 1 },
      ],
    });
    expect(h.latest('payment_failure_rate')).toHaveLength(5);
    expect(h.latest('payment_failure_rate')[0].value).toEqual({ ratio: 0.5, numerator: 1, denominator: 2 });
    expect(one('orders_per_user').filter((r) => r.windowStart === 0)).toEqual([
      { key: 'u1', windowStart: 0, value: 1 },
      { key: 'u2', windowStart: 0, value: 1 },
    ]);
    expect(h.latest('cart_abandonment').map((r) => [r.key, r.windowStart, r.windowEnd, r.value])).toEqual([
      ['s1', 2_000, 4_000 + 1_800_000, { abandoned: false, started: 1, completed: 1 }],
      ['s2', 7_000, 8_000 + 1_800_000, { abandoned: false, started: 1, completed: 1 }],
      ['s3', 10_000, 10_000 + 1_800_000, { abandoned: true, started: 1, completed: 0 }],
    ]);
    expect(h.latest('unpaid_orders')).toEqual([
      {
        metric: 'unpaid_orders',
        key: 'o2',
        windowStart: 8_000,
        windowEnd: 908_000,
        value: { status: 'unmatched', leftId: expect.any(String), leftTs: 8_000, matchedTs: null, fields: { userId: 'u2', sessionId: 's2', amount: 12.5 } },
        final: true,
        version: 1,
      },
    ]);
    expect(h.latest('late_events')).toEqual([]);
    expect(h.operator.openWindows).toBe(0);
  });

  it('unpaid_orders: the join query shows pending and resolved orders; a late payment corrects, a too-late one is reported', () => {
    const h = new StreamingTestHarness(undefined, { maxOutOfOrdernessMs: 0 });
    h.processElement(order(0, 'o1', 5)).processElement(order(1, 'o2', 5));
    expect(h.query('unpaid_orders')).toMatchObject([
      { key: 'o1', final: false, version: 0, value: { status: 'unmatched' } },
      { key: 'o2', final: false, version: 0 },
    ]);
    expect(h.query('unpaid_orders', { key: 'o2' })).toHaveLength(1);
    h.processWatermark(900_001);
    expect(h.resultsOf('unpaid_orders').map((r) => [r.key, r.version, (r.value as { status: string }).status])).toEqual([
      ['o1', 1, 'unmatched'],
      ['o2', 1, 'unmatched'],
    ]);
    h.processElement(paid(899_999, 'o1')); // W 900001 < 899999 + 60000: within lateness
    expect(h.resultsOf('unpaid_orders', 'o1').map((r) => [r.version, (r.value as { status: string }).status])).toEqual([
      [1, 'unmatched'],
      [2, 'matched'],
    ]);
    h.processWatermark(959_999 + 1);
    h.processElement(paid(900_000, 'o2'));
    expect(h.lateOf('unpaid_orders').map((l) => l.event.orderId)).toEqual(['o2']);
    expect(h.query('unpaid_orders', { from: 0, to: 1 })).toMatchObject([{ key: 'o1', final: true, version: 2, value: { status: 'matched' } }]);
  });
});

describe('StreamingOperator: partitions and processing time', () => {
  it('the watermark is the minimum over partitions; an idle partition is skipped', () => {
    const h = harness([countPerMinute], { idleTimeoutMs: 10_000 });
    h.processElement(view(30_000), { partition: 'b' }).processElement(view(100_000), { partition: 'a' });
    expect(h.watermark).toBe(30_000);
    expect(h.results).toEqual([]);
    h.setProcessingTime(10_000);
    expect(h.results).toEqual([]);
    h.processElement(view(100_001), { partition: 'a' }); // a active at 10000
    h.setProcessingTime(10_001); // b idle for 10001 > 10000
    expect(h.watermark).toBe(100_001);
    expect(h.results.map((r) => r.windowStart)).toEqual([0]);
    expect(h.operator.partitionWatermarks()).toEqual({ a: 100_001, b: 30_000 });
  });

  it('wall-clock advance when every partition is idle', () => {
    const h = harness([countPerMinute], { idleTimeoutMs: 1_000, idleAdvance: 'wallclock', maxOutOfOrdernessMs: 5_000 });
    h.processElement(view(10_000));
    h.setProcessingTime(65_000); // idle: W = max(5000, 65000 − 5000) = 60000
    expect(h.watermark).toBe(60_000);
    expect(h.results).toHaveLength(1);
    h.setProcessingTime(1); // processing time never goes back
    expect(h.processingTime).toBe(65_000);
  });

  it('a registered partition holds the watermark until it sends or goes idle', () => {
    const op = new StreamingOperator([countPerMinute], { maxOutOfOrdernessMs: 0, idleTimeoutMs: 1_000 });
    op.addPartition('b', 0);
    expect(op.processElement(view(1_000), { partition: 'a', now: 0 }).results).toEqual([]);
    expect(op.processElement(view(70_000), { partition: 'a', now: 1_000 }).results).toEqual([]); // b idle for exactly 1000: not yet
    expect(op.watermark).toBeNull();
    expect(op.advanceProcessingTime(1_001).results).toHaveLength(1); // b idle for 1001
    expect(op.watermarkState().watermark).toBe(70_000);
  });

  it('restarts from a watermark snapshot without going backwards', () => {
    const op = new StreamingOperator([countPerMinute], { maxOutOfOrdernessMs: 0 });
    op.processElement(view(200_000), { partition: 0, now: 0 });
    const restarted = new StreamingOperator([countPerMinute], { maxOutOfOrdernessMs: 0 }, JSON.parse(JSON.stringify(op.watermarkState())));
    expect(restarted.watermark).toBe(200_000);
    const out = restarted.processElement(view(10_000), { partition: 1, now: 0 });
    expect(restarted.watermark).toBe(200_000);
    expect(out.late).toHaveLength(1);
  });

  it('processBatch takes events with sequence numbers; invalid events and skipped records are reported', () => {
    const h = harness([countPerMinute, { ...countPerMinute, name: 'by_product', key: 'productId' }]);
    h.processBatch([{ event: view(1), seq: 7 }, { event: { ...view(2), ts: 'x' as never }, seq: 8 }, { event: ev('product_view', 3), seq: 9 }]);
    expect(h.invalid).toMatchObject([{ seq: 8 }]);
    expect(h.skipped).toEqual({ by_product: 1 });
    expect(h.query('views')[0].value).toBe(2);
    h.clearOutput();
    expect([h.results, h.lateOutput, h.invalid, h.skipped]).toEqual([[], [], [], {}]);
  });

  it('rejects deltas for unknown metrics', () => {
    const op = new StreamingOperator([countPerMinute]);
    const base = { joins: [], late: [], skipped: {}, invalid: [], watermark: op.watermarkState(), operatorWatermark: null, partitionWatermark: null, processed: 0, replayed: 0, lastSeq: null };
    expect(() => op.applyPreAggregated({ ...base, deltas: [{ id: 'x', metric: 'x', key: 'all', windowStart: 0, windowEnd: 1, windowType: 'aligned', delta: { kind: 'count', count: 1 } }] })).toThrow(/unknown window metric/);
    expect(() => op.applyPreAggregated({ ...base, deltas: [], joins: [{ id: 'views|k', metric: 'views', key: 'k', delta: { kind: 'join', left: null, rights: [1] } }] })).toThrow(/unknown join metric/);
  });
});
