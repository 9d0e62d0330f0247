import fc from 'fast-check';
import { REBASE_HALF_LIVES, decayed, forwardWeight, needsRebase, valueAt } from './decay';

const H = 3_600_000;

describe('forward decay', () => {
  it('stores w · 2^((t − e)/h) and reads it back decayed to now (hand-computed)', () => {
    expect(forwardWeight(1, 0, 0, H)).toBe(1);
    expect(forwardWeight(3, 2 * H, 0, H)).toBe(12); // 3 · 2²
    expect(forwardWeight(4, -H, 0, H)).toBe(2); // an event before the epoch weighs less
    expect(valueAt(12, 0, 2 * H, H)).toBe(3); // the 3 at 2h, read at 2h
    expect(valueAt(12, 0, 4 * H, H)).toBe(0.75); // two half-lives later: a quarter
    expect(decayed(8, 0, 3 * H, H)).toBe(1);
  });

  it('a sum read at any time equals the sum of the decayed weights, whatever the epoch (property)', () => {
    fc.assert(
      fc.property(
        fc.array(fc.record({ w: fc.integer({ min: 1, max: 5 }), t: fc.integer({ min: 0, max: 20 * H }) }), { minLength: 1, maxLength: 20 }),
        fc.integer({ min: 0, max: 20 * H }),
        (xs, epoch) => {
          const now = Math.max(...xs.map((x) => x.t));
          const stored = xs.reduce((s, x) => s + forwardWeight(x.w, x.t, epoch, H), 0);
          const direct = xs.reduce((s, x) => s + decayed(x.w, x.t, now, H), 0);
          expect(valueAt(stored, epoch, now, H)).toBeCloseTo(direct, 9);
        },
      ),
    );
  });

  it('rebases only beyond REBASE_HALF_LIVES half-lives after the epoch', () => {
    expect(needsRebase(REBASE_HALF_LIVES * H, 0, H)).toBe(false);
    expect(needsRebase(REBASE_HALF_LIVES * H + 1, 0, H)).toBe(true);
    expect(needsRebase(-1000 * H, 0, H)).toBe(false);
  });
});
