import fc from 'fast-check';
import { byScoreAsc, byScoreDesc, overflow } from './store';

/** Redis's sorted-set order written out: score ascending, ties by member ascending (UTF-16 code units). */
const redisOrder = (a: { item: string; stored: number }, b: { item: string; stored: number }) => a.stored - b.stored || (a.item < b.item ? -1 : a.item > b.item ? 1 : 0);

describe('overflow (the members a trim to `keep` removes)', () => {
  /** What ZREMRANGEBYRANK 0 (size − keep − 1) removes: the whole set sorted, the lowest first. */
  const reference = (m: Map<string, number>, keep: number) =>
    [...m]
      .map(([item, stored]) => ({ item, stored }))
      .sort(redisOrder)
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

describe('byScoreAsc and byScoreDesc', () => {
  const member = fc.record({ item: fc.string({ maxLength: 3 }), stored: fc.oneof(fc.integer({ min: -3, max: 3 }), fc.double({ noNaN: true })) });

  it('order as Redis does, ascending and reversed, and answer −1, 0 or 1 (never a fraction or −0)', () => {
    fc.assert(
      fc.property(member, member, (a, b) => {
        const asc = byScoreAsc(a, b);
        const desc = byScoreDesc(a, b);
        expect(Math.sign(asc)).toBe(Math.sign(redisOrder(a, b)) || 0);
        expect(desc).toBe(byScoreAsc(b, a));
        for (const r of [asc, desc]) expect([-1, 0, 1].some((x) => Object.is(x, r))).toBe(true);
      }),
      { numRuns: 2000 },
    );
  });
});
