import fc from 'fast-check';
import { byScoreAsc, overflow } from './store';

describe('overflow (the members a trim to `keep` removes)', () => {
  /** What ZREMRANGEBYRANK 0 (size − keep − 1) removes: the whole set sorted, the lowest first. */
  const reference = (m: Map<string, number>, keep: number) =>
    [...m]
      .map(([item, stored]) => ({ item, stored }))
      .sort(byScoreAsc)
      .slice(0, Math.max(0, m.size - keep))
      .map((x) => x.item);

  it('equals sorting the whole set, lowest first, ties by the smaller member, for few and many removed', () => {
    fc.assert(
      fc.property(
        // few distinct scores: many ties
        fc.array(fc.tuple(fc.string({ maxLength: 3 }), fc.integer({ min: 0, max: 6 })), { maxLength: 60 }),
        fc.integer({ min: 0, max: 60 }),
        (pairs, keep) => {
          const m = new Map(pairs);
          expect(overflow(m, keep)).toEqual(reference(m, keep));
        },
      ),
      { numRuns: 2000 },
    );
  });

  it('removes nothing from a set at or below its cap', () => {
    expect(overflow(new Map([['a', 1]]), 1)).toEqual([]);
    expect(overflow(new Map(), 0)).toEqual([]);
  });
});
