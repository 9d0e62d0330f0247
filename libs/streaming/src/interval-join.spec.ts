import fc from 'fast-check';
import {
  addLeftToDelta,
  addRightToDelta,
  applyJoinDelta,
  emptyJoinState,
  finalizeJoinDelta,
  IntervalJoinOperator,
  isLeftLate,
  isRightLate,
  joinCleanupTime,
  JoinDelta,
  joinDeltaOfLeft,
  joinDeltaOfRight,
  matchOf,
  mergeJoinDelta,
} from './interval-join';

const B = { lowerMs: 0, upperMs: 100 };
const L = 50;
const left = (ts: number, id = `l${ts}`) => ({ ts, id, fields: { amount: 1 } });

describe('interval join: pure pieces', () => {
  it('matches rights in [l + lower, l + upper)', () => {
    const st = (rights: number[]) => ({ left: left(1000), rights });
    expect(matchOf(st([1000]), B)).toBe(1000);
    expect(matchOf(st([1099]), B)).toBe(1099);
    expect(matchOf(st([1100]), B)).toBeNull();
    expect(matchOf(st([999]), B)).toBeNull();
    expect(matchOf(st([999, 1050, 1060]), B)).toBe(1050);
    expect(matchOf(st([990]), { lowerMs: -10, upperMs: 100 })).toBe(990);
    expect(matchOf(st([989]), { lowerMs: -10, upperMs: 100 })).toBeNull();
    expect(matchOf({ left: null, rights: [1] }, B)).toBeNull();
  });

  it('lateness: a left at W >= l + upper + L, a right at W >= r + L', () => {
    expect(isLeftLate(0, 149, B, L)).toBe(false);
    expect(isLeftLate(0, 150, B, L)).toBe(true);
    expect(isLeftLate(0, null, B, L)).toBe(false);
    expect(isRightLate(0, 49, L)).toBe(false);
    expect(isRightLate(0, 50, L)).toBe(true);
    expect(isRightLate(0, null, L)).toBe(false);
  });

  it('cleanup time covers the left and every right', () => {
    expect(joinCleanupTime({ left: left(0), rights: [] }, B, L)).toBe(150);
    expect(joinCleanupTime({ left: left(0), rights: [70] }, B, L)).toBe(220);
    expect(joinCleanupTime({ left: null, rights: [10] }, { lowerMs: -5, upperMs: 100 }, L)).toBe(165);
  });

  it('builds deltas: earliest left (ts, then id), rights sorted and unique', () => {
    const d = joinDeltaOfRight(30);
    addRightToDelta(d, 10);
    addRightToDelta(d, 30);
    addLeftToDelta(d, left(5, 'b'));
    addLeftToDelta(d, left(5, 'a'));
    addLeftToDelta(d, left(6, '0'));
    expect(finalizeJoinDelta(d)).toEqual({ kind: 'join', left: left(5, 'a'), rights: [10, 30] });
    expect(joinDeltaOfLeft(left(1))).toEqual({ kind: 'join', left: left(1), rights: [] });
  });

  it('mergeJoinDelta is associative and commutative; applying deltas in any grouping gives one state', () => {
    const delta = fc
      .record({ l: fc.option(fc.record({ ts: fc.integer({ min: 0, max: 50 }), id: fc.constantFrom('a', 'b', 'c') })), r: fc.array(fc.integer({ min: 0, max: 50 }), { maxLength: 5 }) })
      .map(({ l, r }): JoinDelta => finalizeJoinDelta({ kind: 'join', left: l ? { ...l, fields: {} } : null, rights: r }));
    fc.assert(
      fc.property(delta, delta, delta, (a, b, c) => {
        const snapshot = JSON.stringify([a, b, c]);
        expect(mergeJoinDelta(mergeJoinDelta(a, b), c)).toEqual(mergeJoinDelta(a, mergeJoinDelta(b, c)));
        expect(mergeJoinDelta(a, b)).toEqual(mergeJoinDelta(b, a));
        expect(JSON.stringify([a, b, c])).toBe(snapshot);
        const stepwise = applyJoinDelta(applyJoinDelta(applyJoinDelta(emptyJoinState(), a), b), c);
        const once = applyJoinDelta(emptyJoinState(), mergeJoinDelta(a, mergeJoinDelta(b, c)));
        expect(stepwise).toEqual(once);
      }),
    );
  });
});

describe('IntervalJoinOperator', () => {
  it('emits unmatched exactly when W reaches l + upper', () => {
    const j = new IntervalJoinOperator(B, L);
    j.apply('o1', joinDeltaOfLeft(left(0)));
    expect(j.advance(null)).toEqual([]);
    expect(j.advance(99)).toEqual([]);
    expect(j.emitted('o1')).toEqual({ resolved: false, version: 0 });
    expect(j.advance(100)).toEqual([
      { key: 'o1', windowStart: 0, windowEnd: 100, version: 1, value: { status: 'unmatched', leftId: 'l0', leftTs: 0, matchedTs: null, fields: { amount: 1 } } },
    ]);
    expect(j.emitted('o1')).toEqual({ resolved: true, version: 1 });
    expect(j.advance(120)).toEqual([]);
  });

  it('emits nothing for a left matched in time (a right at l + upper − 1)', () => {
    const j = new IntervalJoinOperator(B, L);
    j.apply('o1', joinDeltaOfRight(99));
    j.apply('o1', joinDeltaOfLeft(left(0)));
    expect(j.advance(1000)).toEqual([]);
  });

  it('a right at exactly l + upper does not match', () => {
    const j = new IntervalJoinOperator(B, L);
    j.apply('o1', joinDeltaOfLeft(left(0)));
    j.apply('o1', joinDeltaOfRight(100));
    expect(j.advance(100).map((e) => e.value.status)).toEqual(['unmatched']);
  });

  it('a match arriving within lateness after the emission re-emits version 2 as matched', () => {
    const j = new IntervalJoinOperator(B, L);
    j.apply('o1', joinDeltaOfLeft(left(0)));
    expect(j.advance(110)).toHaveLength(1);
    j.apply('o1', joinDeltaOfRight(60));
    const [e] = j.advance(111);
    expect(e).toMatchObject({ version: 2, value: { status: 'matched', matchedTs: 60 } });
    j.apply('o1', joinDeltaOfRight(70)); // another match changes nothing
    expect(j.advance(112)).toEqual([]);
  });

  it('an earlier left for the same key replaces the emitted one', () => {
    const j = new IntervalJoinOperator(B, L);
    j.apply('o1', joinDeltaOfLeft(left(50)));
    expect(j.advance(150)).toHaveLength(1);
    j.apply('o1', joinDeltaOfLeft(left(40)));
    expect(j.advance(151)).toMatchObject([{ version: 2, windowStart: 40, windowEnd: 140, value: { status: 'unmatched', leftTs: 40 } }]);
  });

  it('purges a key once W >= its cleanup time', () => {
    const j = new IntervalJoinOperator(B, L);
    j.apply('a', joinDeltaOfLeft(left(0)));
    j.apply('a', joinDeltaOfRight(70));
    j.apply('b', joinDeltaOfRight(10));
    j.advance(159);
    expect(j.size).toBe(2);
    j.advance(160);
    expect(j.keys()).toEqual(['a']);
    j.advance(219);
    expect(j.size).toBe(1);
    j.advance(220);
    expect(j.size).toBe(0);
    expect(j.state('a')).toBeUndefined();
  });

  it('matches the reference for in-bound disorder, one left per key (property)', () => {
    const keyArb = fc.record({ left: fc.option(fc.integer({ min: 0, max: 1000 })), rights: fc.array(fc.integer({ min: 0, max: 1000 }), { maxLength: 4 }) });
    fc.assert(
      fc.property(fc.array(keyArb, { maxLength: 12, size: 'max' }), fc.array(fc.integer({ min: 0, max: 30 }), { minLength: 60, maxLength: 60 }), (keys, delays) => {
        const bound = 30;
        const raw = keys.flatMap((k, i) => [
          ...(k.left === null ? [] : [{ key: `k${i}`, ts: k.left, isLeft: true, id: `l${i}` }]),
          ...k.rights.map((ts, n) => ({ key: `k${i}`, ts, isLeft: false, id: `r${i}.${n}` })),
        ]);
        const events = raw.map((e, i) => ({ ...e, arrival: e.ts + delays[i % delays.length] })).sort((a, b) => a.arrival - b.arrival);
        const j = new IntervalJoinOperator(B, L);
        const out: { key: string; status: string; version: number }[] = [];
        let max = -Infinity;
        for (const e of events) {
          const wm = max === -Infinity ? null : max - bound;
          if (e.isLeft) expect(isLeftLate(e.ts, wm, B, L)).toBe(false);
          else expect(isRightLate(e.ts, wm, L)).toBe(false);
          j.apply(e.key, e.isLeft ? joinDeltaOfLeft({ ts: e.ts, id: e.id, fields: {} }) : joinDeltaOfRight(e.ts));
          max = Math.max(max, e.ts);
          for (const x of j.advance(max - bound)) out.push({ key: x.key, status: x.value.status, version: x.version });
        }
        for (const x of j.advance(1e9)) out.push({ key: x.key, status: x.value.status, version: x.version });
        const expected = keys.flatMap((k, i) => (k.left !== null && !k.rights.some((r) => r >= k.left! && r < k.left! + 100) ? [`k${i}`] : []));
        // in-bound: every emission is final at version 1 and unmatched
        expect(out.every((o) => o.version === 1 && o.status === 'unmatched')).toBe(true);
        expect(out.map((o) => o.key).sort()).toEqual(expected.sort());
        expect(j.size).toBe(0);
      }),
    );
  });

  it('treats two lefts of one key further apart than its state lives as two joins', () => {
    const j = new IntervalJoinOperator(B, L);
    j.apply('d', joinDeltaOfLeft(left(0)));
    expect(j.advance(150)).toHaveLength(1); // emitted and purged (cleanup 0 + 100 + 50)
    j.apply('d', joinDeltaOfLeft(left(166)));
    expect(j.advance(266)).toMatchObject([{ version: 1, windowStart: 166, value: { status: 'unmatched' } }]);
  });
});
