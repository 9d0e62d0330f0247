import fc from 'fast-check';
import {
  addLeftToDelta,
  addRightToDelta,
  applyJoinDelta,
  emptyJoinState,
  finalizeJoinDelta,
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
