import fc from 'fast-check';
import { InMemoryDedupStore, claimPlace, claimValue, classify, dedupKey, horizonHours, isExpired } from './dedup';

const HOUR = 3_600_000;
const TTL = 24 * HOUR;

describe('dedup claims', () => {
  it('packs the hour and the place of the event in 8 bytes', () => {
    const v = claimValue(123_456_789, 4095, 5 * HOUR + 1);
    expect(v).toHaveLength(8);
    expect(v.readUInt16BE(0)).toBe(5);
    expect(v.readUIntBE(2, 6)).toBe(123_456_789 * 4096 + 4095);
    expect(claimPlace(v)).toEqual({ seq: 123_456_789, index: 4095 });
    expect(claimPlace(claimValue(2 ** 36 - 1, 0, 0))).toEqual({ seq: 2 ** 36 - 1, index: 0 });
    expect(() => claimValue(1, 4096, 0)).toThrow(RangeError);
    expect(() => claimValue(2 ** 36, 0, 0)).toThrow(RangeError);
  });

  it('classifies: nothing → first, same place → retry, another place → duplicate, an old claim → expired', () => {
    const mine = claimValue(7, 2, 100 * HOUR);
    expect(classify(null, mine, 100 * HOUR, TTL)).toBe('first');
    expect(classify(Buffer.from(mine), mine, 100 * HOUR, TTL)).toBe('retry');
    expect(classify(claimValue(7, 3, 100 * HOUR), mine, 100 * HOUR, TTL)).toBe('duplicate');
    expect(classify(claimValue(3, 0, 99 * HOUR), mine, 100 * HOUR, TTL)).toBe('duplicate');
    const old = claimValue(3, 0, 100 * HOUR - (horizonHours(TTL) + 1) * HOUR);
    expect(classify(old, mine, 100 * HOUR, TTL)).toBe('expired');
  });

  it('keeps a claim at least the TTL and at most TTL + 2 h, also across the 16-bit hour wrap', () => {
    fc.assert(
      fc.property(fc.integer({ min: 0, max: 2 ** 22 }), fc.integer({ min: 0, max: 60 * HOUR }), (hour, age) => {
        const made = hour * HOUR + 1234;
        const expired = isExpired(claimValue(1, 0, made), made + age, TTL);
        if (age <= TTL) expect(expired).toBe(false);
        if (age > TTL + 2 * HOUR) expect(expired).toBe(true);
      }),
    );
  });

  it('spreads ids over the slots with 8-byte fields', () => {
    const k = dedupKey('order-1', 1024);
    expect(k.field).toHaveLength(8);
    expect(k.slot).toBeGreaterThanOrEqual(0);
    expect(k.slot).toBeLessThan(1024);
    expect(dedupKey(Buffer.from('order-1'), 1024)).toEqual(k);
    const used = new Set(Array.from({ length: 4000 }, (_, i) => dedupKey(`id-${i}`, 64).slot));
    expect(used.size).toBe(64);
  });
});

describe('InMemoryDedupStore', () => {
  it('decides in order within one call: the first occurrence claims, later ones are duplicates', async () => {
    const s = new InMemoryDedupStore(TTL, 4);
    const items = ['a', 'b', 'a'].map((id, index) => ({ id, seq: 1, index, timeMs: 0 }));
    expect(await s.claim(items, 0)).toEqual(['first', 'first', 'duplicate']);
    expect(await s.claim(items, 0)).toEqual(['retry', 'retry', 'duplicate']);
    // an id is one id in every partition: sent again with another session (another raw frame), a duplicate
    expect(await s.claim([{ id: 'a', seq: 2, index: 0, timeMs: 0 }], 0)).toEqual(['duplicate']);
  });

  it('sweeps claims past the horizon and only those', async () => {
    const s = new InMemoryDedupStore(TTL, 4);
    await s.claim([{ id: 'old', seq: 1, index: 0, timeMs: 0 }], 0);
    await s.claim([{ id: 'new', seq: 2, index: 0, timeMs: 20 * HOUR }], 20 * HOUR);
    expect(await s.sweep(27 * HOUR)).toBe(1);
    expect(await s.claim([{ id: 'new', seq: 3, index: 0, timeMs: 27 * HOUR }], 27 * HOUR)).toEqual(['duplicate']);
    expect(await s.claim([{ id: 'old', seq: 3, index: 1, timeMs: 27 * HOUR }], 27 * HOUR)).toEqual(['first']);
  });
});
