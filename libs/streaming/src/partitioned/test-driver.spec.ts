/**
 * The behaviours the old in-memory StreamingOperator / StreamingTestHarness specs checked, ported to the
 * operator that runs (PartitionedTestDriver: PartitionOperator per partition + WindowFirer + memory store).
 *
 * Semantics that changed on the way (each adapted case says so):
 *   - lateness is decided with the operator watermark at the start of a batch (the one the partition's last
 *     checkpoint returned), like Flink's periodic watermarks, not after every element;
 *   - sessions are fired by their partition at its checkpoint (through the outbox);
 *   - a window is re-fired (next version) only when its value changed;
 *   - partial (unfired) values are not queryable: the store holds fired results only (`stored()`).
 */
import { PartitionedTestDriver, type DriverOptions } from './test-driver';
import type { MetricDefinition } from '../metrics/metric-definitions';
import { ev, order, paid, view } from '../testing/events';

const MIN = 60_000;
const countPerMinute: MetricDefinition = { name: 'views', source: { types: ['product_view'] }, aggregation: { type: 'count' }, window: { type: 'tumbling', size: '1m' } };
const sessions: MetricDefinition = { name: 'visits', key: 'sessionId', source: { types: ['product_view'] }, aggregation: { type: 'count' }, window: { type: 'session', gap: '10s' } };
const late: MetricDefinition = { name: 'late_events', source: { late: true }, key: 'type', aggregation: { type: 'count' }, window: { type: 'tumbling', size: '1m' } };
const perProduct: MetricDefinition = { name: 'views', key: 'productId', source: { types: ['product_view'] }, aggregation: { type: 'count' }, window: { type: 'tumbling', size: '1m' } };

const driver = (defs: MetricDefinition[] = [countPerMinute, late], opts: DriverOptions = {}) => new PartitionedTestDriver(defs, { maxOutOfOrdernessMs: 0, ...opts });

describe('PartitionedTestDriver: firing at the window end', () => {
  it('an event at end belongs to the next window; the window fires at W >= end, not at end − 1', async () => {
    const h = driver();
    await h.processElements([view(0), view(59_999), view(1)]);
    await h.processWatermark(59_999);
    expect(h.results).toEqual([]);
    await h.processElements([view(60_000)]); // W becomes 60000 (bound 0): fires [0, 60000) with the 3 events, not this one
    expect(h.results).toEqual([{ metric: 'views', key: 'all', windowStart: 0, windowEnd: MIN, value: 3, final: true, version: 1 }]);
    await h.processWatermark(119_999);
    expect(h.results).toHaveLength(1);
    await h.processWatermark(120_000);
    expect(h.results[1]).toEqual({ metric: 'views', key: 'all', windowStart: MIN, windowEnd: 2 * MIN, value: 1, final: true, version: 1 });
  });

  it('fires from the watermark of the events: max ts − bound', async () => {
    const h = driver([countPerMinute], { maxOutOfOrdernessMs: 5_000 });
    await h.processElements([view(10_000), view(64_999)]);
    expect(await h.store.watermark()).toBe(59_999);
    expect(h.results).toEqual([]);
    await h.processElements([view(65_000)]);
    expect(await h.store.watermark()).toBe(60_000);
    expect(h.results).toMatchObject([{ windowStart: 0, value: 1, version: 1 }]);
  });

  // Was: the partial value readable through query() before firing. The store holds fired results only.
  it('a window is stored for queries once fired (nothing before)', async () => {
    const h = driver();
    await h.processElements([view(1), view(2)]);
    expect(h.stored('views')).toEqual([]);
    await h.processWatermark(MIN);
    expect(h.stored('views')).toEqual([{ metric: 'views', key: 'all', windowStart: 0, windowEnd: MIN, value: 2, final: true, version: 1 }]);
    expect(h.stored('nope')).toEqual([]);
  });
});

describe('PartitionedTestDriver: allowed lateness', () => {
  it('an event after firing but within lateness updates the window and re-fires it with version + 1', async () => {
    const h = driver([countPerMinute, late], { allowedLatenessMs: MIN });
    await h.processElements([view(1)]);
    await h.processWatermark(MIN);
    await h.processElements([view(2)]);
    expect(h.results.map((r) => [r.value, r.version, r.final])).toEqual([
      [1, 1, true],
      [2, 2, true],
    ]);
    await h.processWatermark(2 * MIN - 1); // end + lateness − 1: still counted
    await h.processElements([view(3)]);
    expect(h.results[2]).toMatchObject({ windowStart: 0, value: 3, version: 3, final: true });
    expect(h.lateOutput).toEqual([]);
    expect(h.stored('views')).toMatchObject([{ windowStart: 0, value: 3, version: 3 }]);
  });

  it('at W = end + lateness the event is late: late output with the reason, counted in late_events, window purged', async () => {
    const h = driver([countPerMinute, late], { allowedLatenessMs: MIN });
    await h.processElements([view(1)]);
    await h.processWatermark(MIN);
    expect(h.openState).toBe(1);
    await h.processWatermark(2 * MIN);
    expect(h.openState).toBe(0); // purged at end + lateness (once the horizon reached it)
    const e = view(59_999);
    await h.processElements([e]);
    expect(h.lateOutput).toEqual([
      {
        metric: 'views',
        event: e,
        seq: 2, // the driver numbers batches per partition (the old harness had no sequence)
        partition: '0',
        windows: [{ start: 0, end: MIN }],
        watermark: 2 * MIN,
        allowedLatenessMs: MIN,
        reason: 'event at 59999 too late for views window [0, 60000): watermark 120000 >= end + allowed lateness 60000',
      },
    ]);
    expect(h.resultsOf('late_events')).toEqual([]); // late_events' window [2m, 3m) is open
    await h.processWatermark(3 * MIN);
    expect(h.resultsOf('late_events')).toMatchObject([{ key: 'product_view', windowStart: 2 * MIN, windowEnd: 3 * MIN, value: 1, version: 1 }]);
    expect(h.resultsOf('views').map((r) => r.version)).toEqual([1]); // never re-fired
  });

  it('zero lateness: late as soon as the window fired', async () => {
    const h = driver([countPerMinute], { allowedLatenessMs: 0 });
    await h.processElements([view(1)]);
    await h.processWatermark(MIN);
    await h.processElements([view(2)]);
    expect(h.lateOutput).toHaveLength(1);
    expect(h.results).toHaveLength(1);
  });

  it('several late updates within one batch re-fire once', async () => {
    const h = driver([countPerMinute], { allowedLatenessMs: MIN });
    await h.processElements([view(1)]);
    await h.processWatermark(MIN);
    await h.processBatch([view(2), view(3), view(4)]);
    expect(h.results.map((r) => [r.value, r.version])).toEqual([
      [1, 1],
      [4, 2],
    ]);
  });

  it('a batch that passes the end and brings late-but-allowed events fires once with all of them', async () => {
    const h = driver([countPerMinute], { allowedLatenessMs: MIN });
    await h.processBatch([view(1), view(70_000), view(2)]);
    expect(h.results).toEqual([{ metric: 'views', key: 'all', windowStart: 0, windowEnd: MIN, value: 2, final: true, version: 1 }]);
  });

  // Changed: lateness is decided with the watermark at the start of the batch, so an event behind the
  // watermark its own batch raised is not late (the old operator advanced the watermark per element).
  it('lateness is decided with the watermark at the start of the batch', async () => {
    const h = driver([countPerMinute], { allowedLatenessMs: 0 });
    await h.processBatch([view(200_000), view(1)]);
    expect(h.lateOutput).toEqual([]);
    expect(h.latest('views').map((r) => [r.windowStart, r.value])).toEqual([[0, 1]]);
    await h.processBatch([view(2)]); // the next batch starts at W = 200000
    expect(h.lateOutput).toHaveLength(1);
  });

  // New: a late-but-allowed update that does not change the value publishes no new version.
  it('an allowed-late update that leaves the value unchanged is not re-fired', async () => {
    const mx: MetricDefinition = { name: 'max_price', value: 'price', source: { types: ['product_view'] }, aggregation: { type: 'max' }, window: { type: 'tumbling', size: '1m' } };
    const h = driver([mx], { allowedLatenessMs: MIN });
    await h.processElements([view(1, 'p1', { price: 10 })]);
    await h.processWatermark(MIN);
    await h.processElements([view(2, 'p1', { price: 5 })]);
    expect(h.results.map((r) => [r.value, r.version])).toEqual([[10, 1]]);
    await h.processElements([view(3, 'p1', { price: 12 })]);
    expect(h.results.map((r) => [r.value, r.version])).toEqual([
      [10, 1],
      [12, 2],
    ]);
  });
});

describe('PartitionedTestDriver: session windows', () => {
  const h0 = () => driver([sessions], { allowedLatenessMs: MIN });

  it('events less than gap apart share a session; exactly gap apart do not', async () => {
    const h = h0();
    await h.processElements([view(0), view(9_999), view(19_998), view(29_998)]);
    await h.processWatermark(1e9);
    expect(h.latest('visits').map((r) => [r.windowStart, r.windowEnd, r.value])).toEqual([
      [0, 29_998, 3], // 0, 9999 (gap − 1 later), 19998 (gap − 1 later)
      [29_998, 39_998, 1], // exactly gap after 19998: a new session
    ]);
  });

  it('fires a session when W >= last event + gap', async () => {
    const h = h0();
    await h.processElements([view(0), view(5_000)]);
    await h.processWatermark(14_999);
    expect(h.results).toEqual([]);
    await h.processWatermark(15_000);
    expect(h.results).toEqual([{ metric: 'visits', key: 's1', windowStart: 0, windowEnd: 15_000, value: 2, final: true, version: 1 }]);
  });

  it('a late event that bridges two fired sessions merges them and re-fires with the next version', async () => {
    const h = h0();
    await h.processElements([view(0), view(15_000)]);
    await h.processWatermark(25_000);
    expect(h.results.map((r) => [r.windowStart, r.windowEnd, r.value, r.version])).toEqual([
      [0, 10_000, 1, 1],
      [15_000, 25_000, 1, 1],
    ]);
    await h.processElements([view(7_000)]); // [7000, 17000) intersects both
    expect(h.results[2]).toEqual({ metric: 'visits', key: 's1', windowStart: 0, windowEnd: 25_000, value: 3, final: true, version: 2 });
    // the two merged sessions leave the store; the merged one is there
    expect(h.stored('visits')).toEqual([{ metric: 'visits', key: 's1', windowStart: 0, windowEnd: 25_000, value: 3, final: true, version: 2 }]);
    expect(h.openState).toBe(1);
  });

  // Changed: the old operator's query showed the extended session as a partial (final: false, version 1);
  // here the fired [0, 10000) leaves the store when it is superseded, and the extended one is stored once fired.
  it('an event extending a fired session past W fires it again at its new end', async () => {
    const h = h0();
    await h.processElements([view(0)]);
    await h.processWatermark(10_000);
    await h.processElements([view(5_000)]); // session becomes [0, 15000), not complete at W = 10000
    expect(h.results).toHaveLength(1);
    expect(h.stored('visits')).toEqual([]);
    await h.processWatermark(15_000);
    expect(h.results[1]).toMatchObject({ windowStart: 0, windowEnd: 15_000, value: 2, version: 2 });
    expect(h.stored('visits')).toMatchObject([{ windowStart: 0, windowEnd: 15_000, value: 2, version: 2 }]);
  });

  it('keys have separate sessions; sessions are purged after end + lateness', async () => {
    const h = h0();
    await h.processElements([view(0, 'p', { sessionId: 'a' }), view(1, 'p', { sessionId: 'b' })]);
    await h.processWatermark(10_001);
    expect(h.results.map((r) => r.key)).toEqual(['a', 'b']);
    await h.processWatermark(70_000);
    expect(h.openState).toBe(1);
    await h.processWatermark(70_001);
    expect(h.openState).toBe(0);
  });
});

describe('PartitionedTestDriver: default metrics', () => {
  it('computes every default metric for a small shop', async () => {
    const h = new PartitionedTestDriver(undefined, { maxOutOfOrdernessMs: 0 });
    await h.processBatch([
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
    await h.processWatermark(4 * 3_600_000);
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
    expect(h.openState).toBe(0);
  });

  // Changed: pending (unresolved) orders are not queryable any more; resolved ones are, through the store.
  it('unpaid_orders: resolved orders are stored; a late payment corrects, a too-late one is reported', async () => {
    const h = new PartitionedTestDriver(undefined, { maxOutOfOrdernessMs: 0 });
    await h.processElements([order(0, 'o1', 5), order(1, 'o2', 5)]);
    expect(h.resultsOf('unpaid_orders')).toEqual([]);
    await h.processWatermark(900_001);
    expect(h.resultsOf('unpaid_orders').map((r) => [r.key, r.version, (r.value as { status: string }).status])).toEqual([
      ['o1', 1, 'unmatched'],
      ['o2', 1, 'unmatched'],
    ]);
    await h.processElements([paid(899_999, 'o1')]); // W 900001 < 899999 + 60000: within lateness
    expect(h.resultsOf('unpaid_orders', 'o1').map((r) => [r.version, (r.value as { status: string }).status])).toEqual([
      [1, 'unmatched'],
      [2, 'matched'],
    ]);
    await h.processWatermark(959_999 + 1);
    await h.processElements([paid(900_000, 'o2')]);
    expect(h.lateOf('unpaid_orders').map((l) => l.event.orderId)).toEqual(['o2']);
    expect(h.stored('unpaid_orders').filter((r) => r.windowStart < 1)).toMatchObject([{ key: 'o1', final: true, version: 2, value: { status: 'matched' } }]);
  });
});

describe('PartitionedTestDriver: partitions and processing time', () => {
  it('the watermark is the minimum over partitions; an idle partition is skipped', async () => {
    const h = driver([countPerMinute], { idleTimeoutMs: 10_000, partitions: 2 });
    await h.processElements([view(30_000)], { partition: 1 });
    await h.processElements([view(100_000)], { partition: 0 });
    expect(await h.store.watermark()).toBe(30_000);
    expect(h.results).toEqual([]);
    await h.setProcessingTime(10_000);
    expect(h.results).toEqual([]);
    await h.processElements([view(100_001)], { partition: 0 }); // 0 active at 10000
    await h.setProcessingTime(10_001); // 1 idle for 10001 > 10000
    expect(await h.store.watermark()).toBe(100_001);
    expect(h.results.map((r) => r.windowStart)).toEqual([0]);
    const st = await h.firer.watermarkState();
    expect(Object.fromEntries(Object.entries(st.partitions).map(([p, s]) => [p, s.maxTs]))).toEqual({ '0': 100_001, '1': 30_000 });
  });

  it('wall-clock advance when every partition is idle', async () => {
    const h = driver([countPerMinute], { idleTimeoutMs: 1_000, idleAdvance: 'wallclock', maxOutOfOrdernessMs: 5_000 });
    await h.processElements([view(10_000)]);
    await h.setProcessingTime(65_000); // idle: W = max(5000, 65000 − 5000) = 60000
    expect(await h.store.watermark()).toBe(60_000);
    expect(h.results).toHaveLength(1);
    await h.setProcessingTime(1); // processing time never goes back
    expect(h.processingTime).toBe(65_000);
  });

  // Changed: the old operator could register a partition (addPartition) that held the watermark before its
  // first event. Here the watermark comes from checkpoints, so a partition holds it once it has one.
  it('a partition that has checkpointed holds the watermark until it sends or goes idle', async () => {
    const h = driver([countPerMinute], { idleTimeoutMs: 1_000, partitions: 2 });
    await h.processElements([view(0)], { partition: 1 });
    await h.processElements([view(1_000)], { partition: 0 });
    await h.setProcessingTime(1_000);
    await h.processElements([view(70_000)], { partition: 0 }); // 1 idle for exactly 1000: not yet
    expect(await h.store.watermark()).toBe(0);
    expect(h.results).toEqual([]);
    await h.setProcessingTime(1_001); // 1 idle for 1001
    expect(h.results).toMatchObject([{ windowStart: 0, value: 2 }]);
    expect(await h.store.watermark()).toBe(70_000);
  });

  // Like the service, which opens every owned partition at start (CheckpointedPartitions.open): a partition
  // that has checkpointed without events holds the watermark until it goes idle.
  it('an opened partition without events holds the watermark until it goes idle', async () => {
    const h = driver([countPerMinute], { partitions: 2, idleTimeoutMs: 1_000 });
    await h.processElements([view(70_000)], { partition: 0 });
    expect(await h.store.watermark()).toBeNull();
    await h.setProcessingTime(1_001);
    expect(await h.store.watermark()).toBe(70_000);
  });

  // Was: a new operator restored from a watermark snapshot. Here: a crash restores the checkpoint.
  it('restarts from a checkpoint without the watermark going backwards', async () => {
    const h = driver([countPerMinute], { partitions: 2 });
    await h.processElements([view(200_000)], { partition: 0 });
    await h.processWatermark(200_000);
    await h.crash(0);
    await h.crash(1);
    expect(await h.store.watermark()).toBe(200_000);
    expect(h.operators[1].watermark).toBe(200_000);
    await h.processElements([view(10_000)], { partition: 1 });
    expect(await h.store.watermark()).toBe(200_000);
    expect(h.lateOutput).toHaveLength(1);
  });

  it('invalid events and skipped records are reported; clearOutput empties the outputs', async () => {
    const h = driver([countPerMinute, { ...countPerMinute, name: 'by_product', key: 'productId' }]);
    await h.processBatch([view(1), { ...view(2), ts: 'x' as never }, ev('product_view', 3)]);
    expect(h.invalid).toMatchObject([{ seq: 1 }]);
    expect(h.skipped).toEqual({ by_product: 1 });
    await h.processWatermark(MIN);
    expect(h.latest('views')[0].value).toBe(2);
    h.clearOutput();
    expect([h.results, h.lateOutput, h.invalid, h.skipped]).toEqual([[], [], [], {}]);
  });
  // Dropped: 'rejects deltas for unknown metrics' (the old operator's applyPreAggregated took deltas from
  // outside; PartitionOperator makes its own). Restoring a checkpoint of a removed metric is tested in
  // partition-operator.spec.ts.
});

describe('PartitionedTestDriver (ported from the StreamingTestHarness spec)', () => {
  it('defaults to the 13 default metrics and one partition', () => {
    const d = new PartitionedTestDriver();
    expect(d.metrics.names).toHaveLength(13);
    expect(d.partitions).toBe(1);
  });

  it('drives elements, watermarks and processing time, and keeps every output', async () => {
    const h = new PartitionedTestDriver([perProduct], { maxOutOfOrdernessMs: 0, allowedLatenessMs: 60_000, partitions: 8 });
    await h.processElements([view(1, 'a'), view(2, 'b'), view(3, 'a')], { partition: 7 });
    // Every partition has checkpointed (opened); only 7 has events.
    expect((await h.firer.watermarkState()).partitions['7']).toEqual({ maxTs: 3, lastActiveAt: 0 });
    expect(Object.values((await h.firer.watermarkState()).partitions).filter((p) => p.maxTs !== null)).toHaveLength(1);
    await h.processWatermark(60_000);
    await h.processElements([view(4, 'a')], { partition: 7 });
    expect(h.resultsOf('views')).toHaveLength(3);
    expect(h.resultsOf('views', 'a').map((r) => [r.value, r.version])).toEqual([
      [2, 1],
      [3, 2],
    ]);
    expect(h.latest('views').map((r) => [r.key, r.value, r.version])).toEqual([
      ['a', 3, 2],
      ['b', 1, 1],
    ]);
    await h.processWatermark(120_000);
    await h.processElements([view(5, 'b')], { partition: 7 });
    expect(h.lateOf('views')).toMatchObject([{ seq: 5, partition: '7', event: { productId: 'b' } }]);
    expect(h.lateOf('other')).toEqual([]);
    await h.setProcessingTime(50);
    await h.setProcessingTime(10);
    expect(h.processingTime).toBe(50);
    expect(await h.store.watermark()).toBe(120_000);
  });
});
