import { HyperLogLog } from '../hll';
import { applyDelta, mergeDelta } from './delta';
import type { AggregateDelta } from './aggregation';

describe('kind-dispatched deltas', () => {
  it('merges deltas of every kind', () => {
    const pairs: [AggregateDelta, AggregateDelta, AggregateDelta][] = [
      [{ kind: 'count', count: 1 }, { kind: 'count', count: 2 }, { kind: 'count', count: 3 }],
      [{ kind: 'sum', micros: 1 }, { kind: 'sum', micros: 2 }, { kind: 'sum', micros: 3 }],
      [{ kind: 'avg', micros: 1, count: 1 }, { kind: 'avg', micros: 2, count: 3 }, { kind: 'avg', micros: 3, count: 4 }],
      [{ kind: 'min', value: 1 }, { kind: 'min', value: -2 }, { kind: 'min', value: -2 }],
      [{ kind: 'max', value: 1 }, { kind: 'max', value: -2 }, { kind: 'max', value: 1 }],
      [{ kind: 'distinct', members: ['b'] }, { kind: 'distinct', members: ['a', 'b'] }, { kind: 'distinct', members: ['a', 'b'] }],
      [{ kind: 'topK', counts: { a: 1 } }, { kind: 'topK', counts: { a: 2, b: 1 } }, { kind: 'topK', counts: { a: 3, b: 1 } }],
      [{ kind: 'ratio', numerator: 1, denominator: 2 }, { kind: 'ratio', numerator: 0, denominator: 1 }, { kind: 'ratio', numerator: 1, denominator: 3 }],
      [{ kind: 'funnel', sessions: { s: 1 } }, { kind: 'funnel', sessions: { s: 0, t: 2 } }, { kind: 'funnel', sessions: { s: 1, t: 2 } }],
      [{ kind: 'abandonment', started: 1, completed: 0 }, { kind: 'abandonment', started: 0, completed: 1 }, { kind: 'abandonment', started: 1, completed: 1 }],
    ];
    for (const [a, b, ab] of pairs) expect(JSON.parse(JSON.stringify(mergeDelta(a, b)))).toEqual(ab);
  });

  it('applies deltas to accumulators of their kind', () => {
    expect(applyDelta({ count: 1 }, { kind: 'count', count: 2 })).toEqual({ count: 3 });
    expect(applyDelta({ value: null }, { kind: 'max', value: 4 })).toEqual({ value: 4 });
    expect(applyDelta(new HyperLogLog(), { kind: 'distinct', members: ['a', 'b'] }).count()).toBe(2);
    expect(applyDelta({ counts: new Map([['a', 1]]) }, { kind: 'topK', counts: { a: 1 } }).counts.get('a')).toBe(2);
  });

  it('refuses mixed or unknown kinds', () => {
    expect(() => mergeDelta({ kind: 'count', count: 1 } as AggregateDelta, { kind: 'sum', micros: 1 })).toThrow(/cannot merge a count delta with a sum delta/);
    expect(() => applyDelta({}, { kind: 'median' } as unknown as AggregateDelta)).toThrow(/unknown delta kind/);
    expect(() => mergeDelta({ kind: 'median' } as unknown as AggregateDelta, { kind: 'median' } as unknown as AggregateDelta)).toThrow(/unknown delta kind/);
  });
});
