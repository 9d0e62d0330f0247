import fc from 'fast-check';
import { AlignedWindows, SlidingWindows, TumblingWindows } from '../assigners';
import { abandonmentAggregation, avgAggregation, countAggregation, distinctAggregation, FLAG_A, FLAG_B, funnelAggregation, maxAggregation, minAggregation, ratioAggregation, sumAggregation, topKAggregation, type Aggregation, type AggregationKind } from '../aggregations';
import { decodeAcc, encodeAcc, firstEndOfCell, mergeAll, paneCleanupTime, paneSize, panesOfWindow, windowsOfCell } from './layout';

/** Brute force: the windows (starts ≡ offset mod hop) that contain the whole pane and start at or after `from`. */
function bruteWindows(a: AlignedWindows, pane: number, from: number | null): { start: number; end: number }[] {
  const p = paneSize(a);
  const out: { start: number; end: number }[] = [];
  for (let s = pane - a.size; s <= pane + a.size; s++) {
    if ((((s - a.offset) % a.hop) + a.hop) % a.hop !== 0) continue;
    if (s <= pane && pane + p <= s + a.size && (from === null || s >= from)) out.push({ start: s, end: s + a.size });
  }
  return out;
}

const paneOf = (a: AlignedWindows, t: number) => {
  const p = paneSize(a);
  return a.offset + Math.floor((t - a.offset) / p) * p;
};

const assignerArb = fc
  .record({ size: fc.integer({ min: 1, max: 40 }), hop: fc.integer({ min: 1, max: 40 }), offset: fc.integer({ min: -50, max: 50 }) })
  .map(({ size, hop, offset }) => new AlignedWindows(size, Math.min(hop, size), offset));

describe('layout: panes', () => {
  it('pane size is gcd(size, hop)', () => {
    expect(paneSize(new TumblingWindows(60_000))).toBe(60_000);
    expect(paneSize(new SlidingWindows(3_600_000, 300_000))).toBe(300_000);
    expect(paneSize(new SlidingWindows(60, 25))).toBe(5);
    expect(paneSize(new SlidingWindows(5, 3))).toBe(1);
  });

  it('tumbling with an offset: one window per pane', () => {
    const a = new TumblingWindows(60, 15);
    expect(windowsOfCell(a, 75, null)).toEqual([{ start: 75, end: 135 }]);
    expect(windowsOfCell(a, -45, null)).toEqual([{ start: -45, end: 15 }]);
    expect(firstEndOfCell(a, 75, null)).toBe(135);
    expect(panesOfWindow(a, 75)).toEqual([75]);
    expect(paneCleanupTime(a, 75, 10)).toBe(145);
  });

  it('sliding 3m / 1m, offset 30s', () => {
    const a = new SlidingWindows(180, 60, 30);
    expect(windowsOfCell(a, 150, null)).toEqual([
      { start: 30, end: 210 },
      { start: 90, end: 270 },
      { start: 150, end: 330 },
    ]);
    expect(windowsOfCell(a, 150, 90)).toEqual([
      { start: 90, end: 270 },
      { start: 150, end: 330 },
    ]);
    expect(windowsOfCell(a, 150, 91)).toEqual([{ start: 150, end: 330 }]); // `from` between starts: the next start
    expect(firstEndOfCell(a, 150, null)).toBe(210);
    expect(firstEndOfCell(a, 150, 90)).toBe(270);
    expect(firstEndOfCell(a, 150, 30)).toBe(210); // `from` at or before the first window changes nothing
    expect(panesOfWindow(a, 90)).toEqual([90, 150, 210]);
    expect(paneCleanupTime(a, 150, 60)).toBe(150 + 180 + 60);
  });

  it('hop not dividing size: size 60, hop 25 (panes of 5), offset 3', () => {
    const a = new SlidingWindows(60, 25, 3);
    // windows start at 3 + 25k; pane [53, 58) lies in [3, 63), [28, 88), [53, 113)
    expect(windowsOfCell(a, 53, null).map((w) => w.start)).toEqual([3, 28, 53]);
    // pane [58, 63) lies in [3, 63) too (it ends at 63), pane [63, 68) no more
    expect(windowsOfCell(a, 58, null).map((w) => w.start)).toEqual([3, 28, 53]);
    expect(windowsOfCell(a, 63, null).map((w) => w.start)).toEqual([28, 53]);
    expect(windowsOfCell(a, 63, 29).map((w) => w.start)).toEqual([53]);
    expect(firstEndOfCell(a, 63, null)).toBe(88);
    expect(panesOfWindow(a, 28)).toEqual([28, 33, 38, 43, 48, 53, 58, 63, 68, 73, 78, 83]);
    expect(paneCleanupTime(a, 63, 0)).toBe(53 + 60);
  });

  it('windowsOfCell, firstEndOfCell, panesOfWindow and paneCleanupTime agree with a brute force (property)', () => {
    fc.assert(
      fc.property(assignerArb, fc.integer({ min: -200, max: 200 }), fc.option(fc.integer({ min: -300, max: 300 }), { nil: null }), fc.nat(100), (a, t, fromRaw, L) => {
        const pane = paneOf(a, t);
        const all = bruteWindows(a, pane, null);
        expect(windowsOfCell(a, pane, null)).toEqual(all);
        expect(all.length).toBeGreaterThan(0);
        // the pane is inside each of its windows and every window is a whole number of panes
        for (const w of all) expect(panesOfWindow(a, w.start)).toContain(pane);
        // a window's panes tile it
        const ps = panesOfWindow(a, all[0].start);
        expect(ps[0]).toBe(all[0].start);
        expect(ps.length * paneSize(a)).toBe(a.size);
        for (const q of ps) expect(windowsOfCell(a, q, null).map((w) => w.start)).toContain(all[0].start);
        // `from` as the pre-aggregator sets it (the earliest live window start, <= pane), or arbitrary
        const from = fromRaw === null ? null : fromRaw % 2 === 0 ? all[Math.abs(fromRaw) % all.length].start : fromRaw;
        const restricted = bruteWindows(a, pane, from);
        expect(windowsOfCell(a, pane, from)).toEqual(restricted);
        if (restricted.length > 0) expect(firstEndOfCell(a, pane, from)).toBe(restricted[0].end);
        expect(firstEndOfCell(a, pane, null)).toBe(all[0].end);
        expect(paneCleanupTime(a, pane, L)).toBe(all[all.length - 1].end + L);
      }),
      { numRuns: 400 },
    );
  });
});

describe('layout: accumulator encoding', () => {
  type Case = { kind: AggregationKind; agg: Aggregation<any, any, any, any>; inputs: (n: number) => unknown[] };
  const cases: Case[] = [
    { kind: 'count', agg: countAggregation, inputs: (n) => Array.from({ length: n }, () => null) },
    { kind: 'sum', agg: sumAggregation, inputs: (n) => Array.from({ length: n }, (_, i) => i * 1_250_000 - 3_000_000) },
    { kind: 'avg', agg: avgAggregation, inputs: (n) => Array.from({ length: n }, (_, i) => i * 333_333) },
    { kind: 'min', agg: minAggregation, inputs: (n) => Array.from({ length: n }, (_, i) => ((i * 7) % 11) - 5.5) },
    { kind: 'max', agg: maxAggregation, inputs: (n) => Array.from({ length: n }, (_, i) => ((i * 7) % 11) - 5.5) },
    { kind: 'distinct', agg: distinctAggregation(), inputs: (n) => Array.from({ length: n }, (_, i) => `u${i % 700}`) },
    { kind: 'topK', agg: topKAggregation(3), inputs: (n) => Array.from({ length: n }, (_, i) => `p${(i * i) % 7}`) },
    { kind: 'ratio', agg: ratioAggregation, inputs: (n) => Array.from({ length: n }, (_, i) => [FLAG_A, FLAG_B, FLAG_A | FLAG_B, 0][i % 4]) },
    { kind: 'funnel', agg: funnelAggregation(['view', 'cart', 'order']), inputs: (n) => Array.from({ length: n }, (_, i) => ({ member: `s${i % 5}`, stage: i % 3 })) },
    { kind: 'abandonment', agg: abandonmentAggregation, inputs: (n) => Array.from({ length: n }, (_, i) => [FLAG_A, FLAG_B, 0][i % 3]) },
  ];

  it('covers every aggregation kind', () => {
    const kinds: Record<AggregationKind, true> = { count: true, sum: true, avg: true, min: true, max: true, distinct: true, topK: true, ratio: true, funnel: true, abandonment: true };
    expect(cases.map((c) => c.kind).sort()).toEqual(Object.keys(kinds).sort());
  });

  describe.each(cases)('$kind', ({ kind, agg, inputs }) => {
    const build = (xs: unknown[]) => {
      const acc = agg.createAccumulator();
      for (const x of xs) agg.add(acc, x);
      return acc;
    };

    it.each([0, 1, 4, 1_000])('round trip with %i inputs: same result, same encoding, merges like the original', (n) => {
      const acc = build(inputs(n));
      const s = encodeAcc(kind, acc);
      expect(typeof s).toBe('string');
      const back = decodeAcc(kind, s);
      expect(agg.result(back)).toEqual(agg.result(acc));
      expect(encodeAcc(kind, back)).toBe(s);
      // a decoded accumulator is a working one: merging and adding behave like on the original
      const other = build(inputs(7).reverse());
      expect(agg.result(agg.merge(back, other))).toEqual(agg.result(agg.merge(acc, other)));
      expect(agg.result(mergeAll(agg, [back, other]))).toEqual(agg.result(mergeAll(agg, [acc, other])));
      const x = inputs(3)[2];
      expect(agg.result(agg.add(decodeAcc(kind, s), x))).toEqual(agg.result(agg.add(build(inputs(n)), x)));
    });
  });

  it('mergeAll leaves its inputs alone and equals the aggregate of the union', () => {
    const agg = topKAggregation(2);
    const a = agg.createAccumulator();
    agg.add(a, 'x');
    const b = agg.createAccumulator();
    agg.add(b, 'x');
    agg.add(b, 'y');
    const before = [encodeAcc('topK', a), encodeAcc('topK', b)];
    expect(agg.result(mergeAll(agg, [a, b]) as typeof a)).toEqual([
      { member: 'x', count: 2 },
      { member: 'y', count: 1 },
    ]);
    expect([encodeAcc('topK', a), encodeAcc('topK', b)]).toEqual(before);
    expect(agg.result(mergeAll(agg, []) as typeof a)).toEqual([]);
  });
});
