import fc from 'fast-check';
import { fromMicros, toMicros } from '../fixed-point';
import { HLL_SPARSE_LIMIT } from '../hll';
import {
  abandonmentAggregation,
  absorb,
  AggregateDelta,
  AnyAggregation,
  avgAggregation,
  countAggregation,
  distinctAggregation,
  FLAG_A,
  FLAG_B,
  funnelAggregation,
  maxAggregation,
  minAggregation,
  ratioAggregation,
  sumAggregation,
  topK,
  topKAggregation,
} from './index';

interface LawCase {
  name: string;
  agg: AnyAggregation;
  input: fc.Arbitrary<unknown>;
  /** The result computed the obvious way from all inputs. */
  reference: (inputs: unknown[]) => unknown;
  maxLength?: number;
}

const STAGES = ['view', 'cart', 'checkout', 'order'];
const micros = fc.integer({ min: 0, max: 1e12 });
const member = fc.integer({ min: 0, max: 40 }).map((i) => `m${i}`);

function referenceTopK(members: string[], k: number) {
  const counts = new Map<string, number>();
  for (const m of members) counts.set(m, (counts.get(m) ?? 0) + 1);
  return [...counts]
    .map(([m, count]) => ({ member: m, count }))
    .sort((a, b) => b.count - a.count || (a.member < b.member ? -1 : 1))
    .slice(0, k);
}

function referenceFunnel(inputs: { member: string; stage: number }[]) {
  const max = new Map<string, number>();
  for (const { member: m, stage } of inputs) max.set(m, Math.max(max.get(m) ?? -1, stage));
  const reached = STAGES.map((_, i) => [...max.values()].filter((s) => s >= i).length);
  return {
    stages: STAGES.map((name, i) => ({ name, sessions: reached[i] })),
    rates: [0, 1, 2].map((i) => ({ from: STAGES[i], to: STAGES[i + 1], rate: reached[i] === 0 ? null : reached[i + 1] / reached[i] })),
  };
}

const cases: LawCase[] = [
  { name: 'count', agg: countAggregation, input: fc.constant(null), reference: (xs) => xs.length },
  {
    name: 'sum',
    agg: sumAggregation,
    input: micros,
    reference: (xs) => fromMicros((xs as number[]).reduce((s, x) => s + x, 0)),
  },
  {
    name: 'avg',
    agg: avgAggregation,
    input: micros,
    reference: (xs) => (xs.length === 0 ? null : fromMicros((xs as number[]).reduce((s, x) => s + x, 0)) / xs.length),
  },
  { name: 'min', agg: minAggregation, input: fc.double({ noNaN: true, noDefaultInfinity: true }), reference: (xs) => (xs.length === 0 ? null : Math.min(...(xs as number[])) + 0) },
  { name: 'max', agg: maxAggregation, input: fc.double({ noNaN: true, noDefaultInfinity: true }), reference: (xs) => (xs.length === 0 ? null : Math.max(...(xs as number[])) + 0) },
  {
    name: 'distinct (exact range)',
    agg: distinctAggregation(12),
    input: member,
    reference: (xs) => new Set(xs).size,
  },
  { name: 'topK', agg: topKAggregation(3), input: member, reference: (xs) => referenceTopK(xs as string[], 3) },
  {
    name: 'ratio',
    agg: ratioAggregation,
    input: fc.integer({ min: 0, max: 3 }),
    reference: (xs) => {
      const n = (xs as number[]).filter((f) => f & FLAG_A).length;
      const d = (xs as number[]).filter((f) => f & FLAG_B).length;
      return { ratio: d === 0 ? null : n / d, numerator: n, denominator: d };
    },
  },
  {
    name: 'abandonment',
    agg: abandonmentAggregation,
    input: fc.integer({ min: 0, max: 3 }),
    reference: (xs) => {
      const s = (xs as number[]).filter((f) => f & FLAG_A).length;
      const c = (xs as number[]).filter((f) => f & FLAG_B).length;
      return { abandoned: s > 0 && c === 0, started: s, completed: c };
    },
  },
  {
    name: 'funnel',
    agg: funnelAggregation(STAGES),
    input: fc.record({ member, stage: fc.integer({ min: 0, max: 3 }) }),
    reference: (xs) => referenceFunnel(xs as { member: string; stage: number }[]),
  },
];

function accOf(agg: AnyAggregation, inputs: unknown[]) {
  const acc = agg.createAccumulator();
  for (const x of inputs) agg.add(acc, x);
  return acc;
}

function deltaOf(agg: AnyAggregation, inputs: unknown[]): AggregateDelta {
  const d = agg.deltaOf(inputs[0]);
  for (const x of inputs.slice(1)) agg.addToDelta(d, x);
  return agg.finalizeDelta(d);
}

describe.each(cases)('$name aggregation laws', ({ agg, input, reference }) => {
  const inputs = fc.array(input, { maxLength: 30 });
  const nonEmpty = fc.array(input, { minLength: 1, maxLength: 30 });

  it('result equals the reference computation', () => {
    fc.assert(fc.property(inputs, (xs) => expect(agg.result(accOf(agg, xs))).toEqual(reference(xs))));
  });

  it('add ≡ applyDelta(deltaOf); a delta built from many inputs ≡ adding them', () => {
    fc.assert(
      fc.property(nonEmpty, (xs) => {
        const viaDeltas = agg.createAccumulator();
        for (const x of xs) agg.applyDelta(viaDeltas, agg.deltaOf(x));
        expect(agg.result(viaDeltas)).toEqual(reference(xs));
        expect(agg.result(agg.applyDelta(agg.createAccumulator(), deltaOf(agg, xs)))).toEqual(reference(xs));
      }),
    );
  });

  it('mergeDelta: associative, commutative, and applying the merge ≡ applying both; deltas survive JSON', () => {
    fc.assert(
      fc.property(nonEmpty, nonEmpty, nonEmpty, (a, b, c) => {
        const [da, db, dc] = [a, b, c].map((xs) => deltaOf(agg, xs));
        const snapshot = JSON.stringify([da, db, dc]);
        const left = agg.mergeDelta(agg.mergeDelta(da, db), dc);
        const right = agg.mergeDelta(da, agg.mergeDelta(db, dc));
        expect(JSON.parse(JSON.stringify(left))).toEqual(JSON.parse(JSON.stringify(right)));
        expect(JSON.parse(JSON.stringify(agg.mergeDelta(da, db)))).toEqual(JSON.parse(JSON.stringify(agg.mergeDelta(db, da))));
        expect(JSON.stringify([da, db, dc])).toBe(snapshot); // pure
        const all = [...a, ...b, ...c];
        expect(agg.result(agg.applyDelta(agg.createAccumulator(), left))).toEqual(reference(all));
        const stepwise = agg.applyDelta(agg.applyDelta(agg.applyDelta(agg.createAccumulator(), da), db), dc);
        expect(agg.result(stepwise)).toEqual(reference(all));
        const fromJson = agg.applyDelta(agg.createAccumulator(), JSON.parse(JSON.stringify(left)));
        expect(agg.result(fromJson)).toEqual(reference(all));
      }),
    );
  });

  it('merge: associative and commutative, arguments unchanged', () => {
    fc.assert(
      fc.property(inputs, inputs, inputs, (a, b, c) => {
        const [x, y, z] = [a, b, c].map((xs) => accOf(agg, xs));
        const before = [x, y, z].map((acc) => agg.result(acc));
        const all = reference([...a, ...b, ...c]);
        expect(agg.result(agg.merge(agg.merge(x, y), z))).toEqual(all);
        expect(agg.result(agg.merge(x, agg.merge(y, z)))).toEqual(all);
        expect(agg.result(agg.merge(z, agg.merge(y, x)))).toEqual(all);
        expect([x, y, z].map((acc) => agg.result(acc))).toEqual(before);
      }),
    );
  });

  it('absorb ≡ merge into a target the caller owns: the source unchanged, folding in place', () => {
    // the whole state (maps as entries, a HyperLogLog as its JSON), so a change to the source shows
    const snap = (acc: unknown) => JSON.stringify(acc, (_, v: unknown) => (v instanceof Map ? [...v] : v));
    fc.assert(
      fc.property(inputs, inputs, inputs, (a, b, c) => {
        const [x, y, z] = [a, b, c].map((xs) => accOf(agg, xs));
        const before = [y, z].map(snap);
        const folded = absorb(agg, absorb(agg, x, y), z);
        expect(agg.result(folded)).toEqual(reference([...a, ...b, ...c]));
        expect(snap(folded)).toBe(snap(agg.merge(agg.merge(accOf(agg, a), y), z)));
        expect([y, z].map(snap)).toEqual(before);
        // the kinds whose merge copies a collection update the target instead
        if (agg.absorb) expect(folded).toBe(x);
      }),
    );
  });
});

describe('aggregation specifics', () => {
  it('sums exactly in micro-units whatever the order', () => {
    const agg: AnyAggregation = sumAggregation;
    const values = [0.1, 0.2, 0.3, 19.99, 1e-6, 1234.5678];
    const a = values.reduce((acc, v) => agg.add(acc, toMicros(v)), agg.createAccumulator());
    const b = [...values].reverse().reduce((acc, v) => agg.add(acc, toMicros(v)), agg.createAccumulator());
    expect(agg.result(a)).toBe(1255.157801);
    expect(agg.result(b)).toBe(1255.157801);
  });

  it('avg, min, max are null without records', () => {
    expect(avgAggregation.result(avgAggregation.createAccumulator())).toBeNull();
    expect(minAggregation.result(minAggregation.createAccumulator())).toBeNull();
    expect(maxAggregation.result(maxAggregation.createAccumulator())).toBeNull();
    expect(avgAggregation.result({ micros: 3_000_000, count: 2 })).toBe(1.5);
  });

  it('top-K breaks ties by member ascending and keeps K', () => {
    expect(topK([['b', 2], ['a', 2], ['c', 5], ['d', 1], ['z', 0]], 3)).toEqual([
      { member: 'c', count: 5 },
      { member: 'a', count: 2 },
      { member: 'b', count: 2 },
    ]);
    expect(topK([['x', 1]], 10)).toEqual([{ member: 'x', count: 1 }]);
    expect(() => topKAggregation(0)).toThrow(RangeError);
  });

  it('distinct deltas are the sorted distinct members (PFADD)', () => {
    const agg = distinctAggregation();
    const d = agg.deltaOf('b');
    agg.addToDelta(d, 'a');
    agg.addToDelta(d, 'b');
    expect(agg.finalizeDelta(d)).toEqual({ kind: 'distinct', members: ['a', 'b'] });
    expect(agg.mergeDelta({ kind: 'distinct', members: ['a', 'c'] }, { kind: 'distinct', members: ['b', 'c', 'd'] })).toEqual({
      kind: 'distinct',
      members: ['a', 'b', 'c', 'd'],
    });
  });

  it('distinct: deltas applied in any grouping give the very sketch of all members, across the exact/dense switch', () => {
    const agg = distinctAggregation(10);
    fc.assert(
      fc.property(
        fc.array(fc.array(fc.integer({ min: 0, max: 3000 }).map((i) => `u${i}`), { minLength: 1, maxLength: 400 }), { minLength: 1, maxLength: 5 }),
        (batches) => {
          const whole = agg.createAccumulator();
          for (const m of batches.flat()) agg.add(whole, m);
          const deltas = batches.map((b) => agg.finalizeDelta(b.slice(1).reduce((d, m) => agg.addToDelta(d, m), agg.deltaOf(b[0]))));
          const stepwise = deltas.reduce((acc, d) => agg.applyDelta(acc, d), agg.createAccumulator());
          const merged = agg.applyDelta(agg.createAccumulator(), deltas.reduce((a, b) => agg.mergeDelta(a, b)));
          expect(stepwise.toJSON()).toEqual(whole.toJSON());
          expect(merged.toJSON()).toEqual(whole.toJSON());
          const accs = batches.map((b) => b.reduce((acc, m) => agg.add(acc, m), agg.createAccumulator()));
          expect(accs.reduceRight((a, b) => agg.merge(a, b)).toJSON()).toEqual(whole.toJSON());
        },
      ),
      { numRuns: 40 },
    );
  });

  it('distinct stays within 2 % past the exact range', () => {
    const agg = distinctAggregation();
    const n = HLL_SPARSE_LIMIT * 20;
    const acc = agg.createAccumulator();
    for (let i = 0; i < n; i++) agg.add(acc, `user-${i}`);
    expect(Math.abs(agg.result(acc) - n) / n).toBeLessThanOrEqual(0.02);
  });

  it('funnel counts a session for every stage up to its highest and gives the rates', () => {
    const agg = funnelAggregation(STAGES);
    const acc = agg.createAccumulator();
    agg.add(acc, { member: 's1', stage: 0 });
    agg.add(acc, { member: 's1', stage: 1 });
    agg.add(acc, { member: 's2', stage: 3 }); // ordered without a view in this window
    agg.add(acc, { member: 's3', stage: 0 });
    agg.add(acc, { member: 's3', stage: 0 });
    expect(agg.result(acc)).toEqual({
      stages: [
        { name: 'view', sessions: 3 },
        { name: 'cart', sessions: 2 },
        { name: 'checkout', sessions: 1 },
        { name: 'order', sessions: 1 },
      ],
      rates: [
        { from: 'view', to: 'cart', rate: 2 / 3 },
        { from: 'cart', to: 'checkout', rate: 0.5 },
        { from: 'checkout', to: 'order', rate: 1 },
      ],
    });
    expect(agg.result(agg.createAccumulator()).rates.every((r) => r.rate === null)).toBe(true);
    expect(() => funnelAggregation([])).toThrow(RangeError);
  });

  it('ratio and abandonment use the two flags', () => {
    const r = ratioAggregation.createAccumulator();
    ratioAggregation.add(r, FLAG_A | FLAG_B);
    ratioAggregation.add(r, FLAG_B);
    ratioAggregation.add(r, FLAG_B);
    ratioAggregation.add(r, FLAG_B);
    expect(ratioAggregation.result(r)).toEqual({ ratio: 0.25, numerator: 1, denominator: 4 });
    expect(ratioAggregation.result(ratioAggregation.createAccumulator()).ratio).toBeNull();
    const a = abandonmentAggregation.createAccumulator();
    abandonmentAggregation.add(a, FLAG_A);
    expect(abandonmentAggregation.result(a).abandoned).toBe(true);
    abandonmentAggregation.add(a, FLAG_B);
    expect(abandonmentAggregation.result(a)).toEqual({ abandoned: false, started: 1, completed: 1 });
  });

  it('member names that look like object keys are safe', () => {
    const agg = topKAggregation(5);
    const d = agg.deltaOf('__proto__');
    agg.addToDelta(d, 'constructor');
    agg.addToDelta(d, '__proto__');
    const acc = agg.applyDelta(agg.createAccumulator(), JSON.parse(JSON.stringify(d)));
    expect(agg.result(acc)).toEqual([
      { member: '__proto__', count: 2 },
      { member: 'constructor', count: 1 },
    ]);
  });
});
