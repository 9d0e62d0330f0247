/**
 * The WindowFirer step by step (`autoSettle: false`: the test decides when each partition checkpoints and
 * when the firer runs a round), with partitions that checkpoint at different times and so decide lateness
 * with different views of the operator watermark.
 */
import fc from 'fast-check';
import type { MetricDefinition } from '../metrics/metric-definitions';
import { DEFAULT_METRICS } from '../metrics/default-metrics';
import { order, paid, view } from '../testing/events';
import { PartitionedTestDriver } from './test-driver';

const MIN = 60_000;
const sliding: MetricDefinition = { name: 'views', source: { types: ['product_view'] }, aggregation: { type: 'count' }, window: { type: 'sliding', size: '3m', hop: '1m' } };
const stepper = (defs: MetricDefinition[], partitions = 2, allowedLatenessMs = MIN) => new PartitionedTestDriver(defs, { partitions, autoSettle: false, maxOutOfOrdernessMs: 0, allowedLatenessMs });
const vs = (d: PartitionedTestDriver, metric: string): [number, unknown, number][] => d.resultsOf(metric).map((r) => [r.windowStart, r.value, r.version]);

describe('WindowFirer: a cell restricted by `from`', () => {
  it("a partition's records too late for a pane's earlier window stay out of it when another partition's allowed update re-fires it", async () => {
    const d = stepper([sliding]);
    const ckpt = async (...ps: number[]) => {
      for (const p of ps) await d.checkpoint(p);
    };
    // round A: both partitions hold pane [2m, 3m); W = 2m + 1
    await d.processBatch([view(2 * MIN + 1)], { partition: 0 });
    await d.processBatch([view(2 * MIN + 2)], { partition: 1 });
    await ckpt(0, 1);
    await d.fire();
    expect(await d.store.watermark()).toBe(2 * MIN + 1);
    // round B: W = 3m + 100 fires [0, 3m)
    await d.processBatch([view(4 * MIN + 500)], { partition: 0 });
    await d.processBatch([view(3 * MIN + 100)], { partition: 1 });
    await ckpt(0, 1);
    await d.fire();
    expect(vs(d, 'views')).toEqual([[0, 2, 1]]);
    // round C: partition 1 learns W = 3m + 100 and moves on; W = 4m + 500 fires [1m, 4m)
    await ckpt(1);
    await d.processBatch([view(4 * MIN + 500)], { partition: 1 });
    await ckpt(1);
    await d.fire();
    expect(vs(d, 'views')).toEqual([
      [0, 2, 1],
      [MIN, 3, 1],
    ]);
    // partition 0 learns W = 4m + 500; partition 1 still decides with 3m + 100 (no checkpoint since)
    await ckpt(0);
    expect([d.operators[0].watermark, d.operators[1].watermark]).toEqual([4 * MIN + 500, 3 * MIN + 100]);
    // the same pane, one record each: too late for [0, 3m) in partition 0 (4m+500 >= 3m + 1m), allowed in 1
    const tooLate = view(2 * MIN + 3);
    await d.processBatch([tooLate], { partition: 0 });
    await d.processBatch([view(2 * MIN + 4)], { partition: 1 });
    expect(d.lateOutput.map((l) => [l.event.id, l.windows])).toEqual([[tooLate.id, [{ start: 0, end: 3 * MIN }]]]);
    await ckpt(0, 1);
    expect((await d.store.marks(0)).map((m) => [m.pane, m.from])).toEqual([[2 * MIN, MIN]]);
    expect((await d.store.marks(1)).map((m) => [m.pane, m.from])).toEqual([[2 * MIN, null]]);
    await d.fire();
    // [0, 3m) re-fired with partition 1's record only: 2m+1, 2m+2, 2m+4 (not partition 0's 2m+3)
    // [1m, 4m) with both: 2m+1, 2m+2, 3m+100, 2m+3, 2m+4
    expect(vs(d, 'views').slice(2).sort((a, b) => a[0] - b[0])).toEqual([
      [0, 3, 2],
      [MIN, 5, 2],
    ]);
    expect(await d.store.marks(0)).toEqual([]);
    expect(await d.store.marks(1)).toEqual([]);
    // and a flush changes nothing more for them; [2m, 5m) counts every record of its panes
    await d.processWatermark(1e9);
    await ckpt(0, 1);
    await d.fire();
    expect(d.latest('views').map((r) => [r.windowStart, r.value, r.version])).toEqual([
      [0, 3, 2],
      [MIN, 5, 2],
      [2 * MIN, 7, 1],
      [3 * MIN, 3, 1],
      [4 * MIN, 2, 1],
    ]);
  });
});

describe('WindowFirer: re-firing allowed-late updates', () => {
  const maxPrice: MetricDefinition = { name: 'max_price', value: 'price', source: { types: ['product_view'] }, aggregation: { type: 'max' }, window: { type: 'tumbling', size: '1m' } };

  it('a fired window updated by a partition within lateness is re-fired at the next round as version 2; unchanged values are not', async () => {
    const d = stepper([sliding, maxPrice]);
    await d.processBatch([view(10, 'p', { price: 5 })], { partition: 0 });
    await d.processBatch([view(20, 'p', { price: 7 })], { partition: 1 });
    await d.checkpoint(0);
    await d.checkpoint(1);
    await d.processWatermark(MIN); // the firer's round: [0, 1m) of max_price fires
    await d.fire();
    expect(d.resultsOf('max_price').map((r) => [r.value, r.version])).toEqual([[7, 1]]);
    // partition 1 learns W and gets a late-but-allowed view, lower than the max: no new version
    await d.checkpoint(1);
    await d.processBatch([view(30, 'p', { price: 6 })], { partition: 1 });
    await d.fire(); // not checkpointed yet: the firer does not see it
    expect(d.resultsOf('max_price')).toHaveLength(1);
    await d.checkpoint(1);
    expect(await d.store.marks(1)).toHaveLength(2); // one cell for each metric
    await d.fire();
    expect(d.resultsOf('max_price').map((r) => [r.value, r.version])).toEqual([[7, 1]]);
    expect(await d.store.marks(1)).toEqual([]);
    // partition 0 (it decides with W = null still) raises the max: version 2 at the next round
    await d.processBatch([view(40, 'p', { price: 9 })], { partition: 0 });
    await d.checkpoint(0);
    await d.fire();
    expect(d.resultsOf('max_price').map((r) => [r.value, r.version, r.final])).toEqual([
      [7, 1, true],
      [9, 2, true],
    ]);
    await d.fire(); // nothing marked any more: no version 3
    expect(d.resultsOf('max_price')).toHaveLength(2);
    expect(d.stored('max_price')).toMatchObject([{ value: 9, version: 2 }]);
    // the sliding metric: [0, 3m) has not fired (W = 1m); its panes took every record
    await d.processWatermark(3 * MIN);
    await d.fire();
    expect(d.latest('views').map((r) => [r.windowStart, r.value])).toEqual([
      [-2 * MIN, 4],
      [-MIN, 4],
      [0, 4],
    ]);
  });

  it('a window is not re-fired while its pane is only in a partition that has not checkpointed', async () => {
    const d = stepper([maxPrice], 1);
    await d.processBatch([view(10, 'p', { price: 5 })]);
    await d.checkpoint(0);
    await d.processWatermark(MIN);
    await d.fire();
    await d.checkpoint(0);
    await d.processBatch([view(11, 'p', { price: 8 })]);
    await d.fire();
    await d.fire();
    expect(d.resultsOf('max_price').map((r) => r.version)).toEqual([1]);
    await d.checkpoint(0);
    await d.fire();
    expect(d.resultsOf('max_price').map((r) => [r.value, r.version])).toEqual([
      [5, 1],
      [8, 2],
    ]);
  });
});

describe('WindowFirer: the purge horizon', () => {
  it("never passes the watermark a partition decides with; a lagging partition's allowed-late update still re-fires", async () => {
    const d = stepper([sliding]);
    await d.processBatch([view(10)], { partition: 0 });
    await d.processBatch([view(20)], { partition: 1 });
    await d.checkpoint(0);
    await d.checkpoint(1); // both decide with W = null
    await d.processWatermark(10 * MIN);
    await d.fire();
    expect(await d.store.horizon()).toBeNull(); // a partition with seen = null holds it
    await d.checkpoint(0); // 0 learns 10m (its checkpoint said it decided with null)
    await d.checkpoint(0); // now it says 10m
    await d.fire();
    expect(await d.store.horizon()).toBeNull(); // 1 still at null
    await d.checkpoint(1);
    await d.checkpoint(1);
    await d.fire();
    expect(await d.store.horizon()).toBe(10 * MIN);
    // 0 moves on to 30m; 1 lags at 10m: the horizon stays at 10m
    await d.processWatermark(30 * MIN);
    await d.fire();
    await d.checkpoint(0);
    await d.checkpoint(0);
    await d.fire();
    expect(await d.store.horizon()).toBe(10 * MIN);
    expect(d.operators[0].watermark).toBe(30 * MIN);
    expect(d.operators[1].watermark).toBe(10 * MIN);
    // partition 1 can still take an allowed-late update for a window that 0 considers past lateness
    await d.processBatch([view(9 * MIN + 30_000)], { partition: 1 });
    await d.checkpoint(1);
    await d.fire();
    expect(d.latest('views').filter((r) => r.windowStart >= 7 * MIN).map((r) => [r.windowStart, r.value, r.version])).toEqual([
      [7 * MIN, 1, 1],
      [8 * MIN, 1, 1],
      [9 * MIN, 1, 1],
    ]);
  });

  it('property: after every round, horizon <= the lowest watermark any checkpointed partition decided with', async () => {
    await fc.assert(
      fc.asyncProperty(
        fc.integer({ min: 1, max: 3 }),
        fc.array(
          fc.oneof(
            fc.record({ k: fc.constant('batch' as const), p: fc.nat(2), ts: fc.array(fc.integer({ min: 0, max: 30 * MIN }), { minLength: 1, maxLength: 4 }) }),
            fc.record({ k: fc.constant('ckpt' as const), p: fc.nat(2) }),
            fc.record({ k: fc.constant('fire' as const) }),
            fc.record({ k: fc.constant('time' as const), now: fc.integer({ min: 0, max: 100_000 }) }),
          ),
          { maxLength: 40 },
        ),
        async (partitions, steps) => {
          const d = new PartitionedTestDriver([sliding, DEFAULT_METRICS.find((m) => m.name === 'unpaid_orders')!], { partitions, autoSettle: false, maxOutOfOrdernessMs: 1_000, allowedLatenessMs: MIN, idleTimeoutMs: 20_000 });
          let n = 0;
          for (const s of steps) {
            if (s.k === 'batch') await d.processBatch(s.ts.map((t) => (n++ % 3 === 0 ? order(t, `o${n % 4}`, 1) : view(t))), { partition: s.p % partitions });
            else if (s.k === 'ckpt') await d.checkpoint(s.p % partitions);
            else if (s.k === 'time') await d.setProcessingTime(s.now);
            else {
              await d.fire();
              const h = await d.store.horizon();
              if (h === null) continue;
              for (const st of await d.store.statuses(partitions)) {
                expect(st.seenWatermark).not.toBeNull();
                expect(h).toBeLessThanOrEqual(st.seenWatermark!);
              }
              // and every partition's operator decides with at least the horizon it was given
              for (const op of d.operators) if (op.watermark !== null) expect(op.watermark).toBeGreaterThanOrEqual((await d.store.restore(op.partition)).horizon ?? -Infinity);
            }
          }
        },
      ),
      { numRuns: 60 },
    );
  });
});

describe('WindowFirer: interval joins across partitions', () => {
  const unpaid = DEFAULT_METRICS.find((m) => m.name === 'unpaid_orders')!;
  const UPPER = 15 * MIN;
  const status = (d: PartitionedTestDriver) => d.resultsOf('unpaid_orders').map((r) => [r.key, r.version, (r.value as { status: string }).status]);

  it('order in one partition, payment in another: matched (no result), unmatched (v1), late payment flips to matched (v2)', async () => {
    const d = stepper([unpaid]);
    await d.processBatch([order(0, 'matched', 5), order(1, 'unpaid', 5), order(2, 'late', 5)], { partition: 0 });
    await d.processBatch([paid(100, 'matched')], { partition: 1 });
    await d.checkpoint(0);
    await d.checkpoint(1);
    await d.processWatermark(UPPER + 2);
    await d.fire(); // 'matched' and 'unpaid' due at 15m, 'late' at 15m + 2: W passed them all
    expect(status(d)).toEqual([
      ['unpaid', 1, 'unmatched'],
      ['late', 1, 'unmatched'],
    ]);
    expect(await d.store.joinDue(0, Infinity)).toEqual([]);
    await d.fire();
    expect(status(d)).toHaveLength(2);
    // partition 1 learns W, then the payment of 'late' arrives there (ts + lateness > W: allowed)
    await d.checkpoint(1);
    await d.processBatch([paid(UPPER - 1, 'late')], { partition: 1 });
    expect(d.lateOutput).toEqual([]);
    await d.checkpoint(1);
    expect(await d.store.joinDue(1, Infinity)).toEqual([{ metric: 'unpaid_orders', key: 'late', due: UPPER - 1 }]);
    await d.fire();
    expect(status(d)).toEqual([
      ['unpaid', 1, 'unmatched'],
      ['late', 1, 'unmatched'],
      ['late', 2, 'matched'],
    ]);
    expect(d.stored('unpaid_orders').map((r) => [r.key, r.version])).toEqual([
      ['unpaid', 1],
      ['late', 2],
    ]);
  });

  it('an order paid in time elsewhere is not decided again once the horizon passed it (a later payment outside its interval, the matching one purged)', async () => {
    // Found by the property "fired results equal a batch computation": the order's partition keeps the key
    // for the later payment; the paying partition purges its payment at the order's deadline + lateness; the
    // later payment's due made the firer merge the key again without it, and publish "unmatched".
    const d = new PartitionedTestDriver([unpaid], { partitions: 2, maxOutOfOrdernessMs: 2 * MIN, allowedLatenessMs: MIN });
    const T = 1_700_001_059_999;
    await d.processBatch([order(T, 'o0', 5)], { partition: 0 });
    await d.processBatch([paid(T, 'o0')], { partition: 1 });
    await d.processBatch([view(T + 17 * MIN + 1)], { partition: 0 });
    await d.processBatch([view(T + 18 * MIN + 1)], { partition: 1 }); // W = T + 15m + 1: due, matched, nothing out
    expect(status(d)).toEqual([]);
    await d.processBatch([paid(T + 18 * MIN, 'o0')], { partition: 0 }); // outside [T, T + 15m)
    await d.processWatermark(T + 60 * MIN);
    expect(status(d)).toEqual([]);
    expect(d.lateOutput).toEqual([]);
  });

  it('a key not yet due is rescheduled to its deadline (a payment seen before the order elsewhere)', async () => {
    const d = stepper([unpaid]);
    await d.processBatch([paid(50, 'o')], { partition: 1 });
    await d.processBatch([order(0, 'o', 5), order(10, 'x', 5)], { partition: 0 });
    await d.checkpoint(1);
    await d.processWatermark(60);
    await d.fire(); // the payment's due (50) is passed, the order's deadline (15m) is not
    // no left anywhere yet: the payment's entry is done (the order's own entry resolves the key later)
    expect(await d.store.joinDue(1, Infinity)).toEqual([]);
    await d.checkpoint(0);
    await d.fire();
    expect(await d.store.joinDue(0, Infinity)).toEqual([
      { metric: 'unpaid_orders', key: 'o', due: UPPER },
      { metric: 'unpaid_orders', key: 'x', due: UPPER + 10 },
    ]);
    await d.processWatermark(UPPER + 10);
    await d.fire();
    expect(status(d)).toEqual([['x', 1, 'unmatched']]);
  });
});

describe('interval join through the driver (ported from the IntervalJoinOperator spec)', () => {
  const join: MetricDefinition = { name: 'j', key: 'orderId', aggregation: { type: 'join', left: ['order_placed'], right: ['payment_succeeded'], fields: ['amount'] }, window: { type: 'interval', upper: 100 } };
  const driver = (partitions = 1) => new PartitionedTestDriver([join], { maxOutOfOrdernessMs: 0, allowedLatenessMs: 50, partitions });
  const out = (d: PartitionedTestDriver) => d.resultsOf('j').map((r) => [r.key, r.version, r.windowStart, r.windowEnd, (r.value as { status: string }).status]);

  it('emits unmatched exactly when W reaches l + upper', async () => {
    const d = driver();
    await d.processElements([order(0, 'o1', 1)]);
    await d.processWatermark(99);
    expect(d.results).toEqual([]);
    await d.processWatermark(100);
    expect(d.results).toEqual([{ metric: 'j', key: 'o1', windowStart: 0, windowEnd: 100, final: true, version: 1, value: { status: 'unmatched', leftId: expect.any(String), leftTs: 0, matchedTs: null, fields: { amount: 1 } } }]);
    await d.processWatermark(120);
    expect(d.results).toHaveLength(1);
  });

  it('nothing for a left matched in time (a right at l + upper − 1, even before the left); a right at l + upper does not match', async () => {
    const d = driver(2);
    await d.processElements([paid(99, 'o1')], { partition: 1 });
    await d.processElements([order(0, 'o1', 1), order(0, 'o2', 1)], { partition: 0 });
    await d.processElements([paid(100, 'o2')], { partition: 1 });
    await d.processWatermark(1_000);
    expect(out(d)).toEqual([['o2', 1, 0, 100, 'unmatched']]);
  });

  it('a match within lateness after the emission re-emits version 2; another match changes nothing', async () => {
    const d = driver();
    await d.processElements([order(0, 'o1', 1)]);
    await d.processWatermark(105);
    // (the old operator took these deltas without a lateness check; here a right is late at W >= r + 50)
    await d.processElements([paid(60, 'o1')]);
    await d.processElements([paid(70, 'o1')]);
    expect(out(d)).toEqual([
      ['o1', 1, 0, 100, 'unmatched'],
      ['o1', 2, 0, 100, 'matched'],
    ]);
    expect((d.latest('j')[0].value as { matchedTs: number }).matchedTs).toBe(60);
  });

  it('an earlier left for the same key replaces the emitted one', async () => {
    const d = driver(2);
    await d.processElements([order(50, 'o1', 1)], { partition: 0 });
    await d.processWatermark(150);
    await d.processElements([order(40, 'o1', 1)], { partition: 1 });
    expect(out(d)).toEqual([
      ['o1', 1, 50, 150, 'unmatched'],
      ['o1', 2, 40, 140, 'unmatched'],
    ]);
  });

  it('purges a key once the horizon passes its cleanup time; a later left of the key starts a new join', async () => {
    const d = driver();
    await d.processBatch([order(0, 'a', 1), paid(70, 'a'), paid(10, 'b')]); // one batch: none late
    await d.processWatermark(159);
    expect(d.openState).toBe(2);
    await d.processWatermark(160); // a: max(0 + 100, 70 + 100) + 50 = 220; b: 10 + 100 + 50 = 160
    expect(d.openState).toBe(1);
    await d.processWatermark(219);
    expect(d.openState).toBe(1);
    await d.processWatermark(220);
    expect(d.openState).toBe(0);
    const e = await d.processElements([order(266, 'd', 1)]);
    await e.processWatermark(366);
    expect(out(d).filter((r) => r[0] === 'd')).toEqual([['d', 1, 266, 366, 'unmatched']]);
  });
});
