import fc from 'fast-check';
import { HLL_SPARSE_LIMIT, HyperLogLog, hash32 } from './hll';

function sketch(members: Iterable<string>, p?: number): HyperLogLog {
  const h = new HyperLogLog(p);
  for (const m of members) h.add(m);
  return h;
}

const range = (prefix: string, from: number, to: number): string[] => Array.from({ length: to - from }, (_, i) => `${prefix}${from + i}`);

describe('hash32', () => {
  it('is MurmurHash3-like: deterministic, seed-dependent, spreads similar strings', () => {
    expect(hash32('u-1')).toBe(hash32('u-1'));
    expect(hash32('u-1')).not.toBe(hash32('u-2'));
    expect(hash32('u-1', 1)).not.toBe(hash32('u-1'));
    expect(hash32('')).toBe(0);
    expect(hash32('a')).not.toBe(hash32('a\u0000'));
    // top 4 bits of sequential ids are spread over all 16 buckets, roughly evenly
    const buckets = new Array(16).fill(0);
    for (let i = 0; i < 16_000; i++) buckets[hash32(`u-${i}`) >>> 28]++;
    for (const b of buckets) expect(Math.abs(b - 1000)).toBeLessThan(150);
  });
});

describe('HyperLogLog', () => {
  it('counts small sets exactly', () => {
    const h = sketch(['a', 'b', 'a', 'c', 'b']);
    expect(h.count()).toBe(3);
    expect(h.exact).toBe(true);
    expect(new HyperLogLog().count()).toBe(0);
    expect(sketch(range('u-', 0, HLL_SPARSE_LIMIT)).count()).toBe(HLL_SPARSE_LIMIT);
    expect(sketch(range('u-', 0, HLL_SPARSE_LIMIT)).exact).toBe(true);
    expect(sketch(range('u-', 0, HLL_SPARSE_LIMIT + 1)).exact).toBe(false);
  });

  it.each([600, 1_000, 2_500, 5_000, 10_000, 25_000, 50_000, 100_000])('estimates %p distinct members within 2 %', (n) => {
    for (const prefix of ['u-', 'session:7f3a-']) {
      const h = sketch(range(prefix, 0, n));
      // duplicates change nothing
      for (let i = 0; i < Math.min(n, 1000); i++) h.add(`${prefix}${i}`);
      expect(Math.abs(h.count() - n) / n).toBeLessThanOrEqual(0.02);
    }
  });

  it('merges as the union: any order, any grouping, idempotent', () => {
    const a = range('a', 0, 3000);
    const b = range('b', 0, 200);
    const c = range('a', 2000, 6000);
    const union = sketch([...a, ...b, ...c]);
    const left = sketch(a).merge(sketch(b)).merge(sketch(c));
    const right = sketch(a).merge(sketch(b).merge(sketch(c)));
    const reversed = sketch(c).merge(sketch(b)).merge(sketch(a));
    for (const x of [left, right, reversed]) {
      expect(x.toJSON()).toEqual(union.toJSON());
      expect(x.count()).toBe(union.count());
    }
    const again = union.clone().merge(union);
    expect(again.toJSON()).toEqual(union.toJSON());
    expect(() => new HyperLogLog(14).merge(new HyperLogLog(16))).toThrow(RangeError);
  });

  it('state depends only on the set of members (property)', () => {
    fc.assert(
      fc.property(fc.array(fc.integer({ min: 0, max: 2000 }), { maxLength: 1500 }), fc.integer({ min: 0, max: 1500 }), (ids, cut) => {
        const members = ids.map((i) => `m${i}`);
        const whole = sketch(members, 10);
        const parts = sketch(members.slice(0, cut), 10).merge(sketch(members.slice(cut).reverse(), 10));
        expect(parts.toJSON()).toEqual(whole.toJSON());
        expect(whole.count()).toBe(new Set(members).size > HLL_SPARSE_LIMIT ? whole.count() : new Set(members).size);
      }),
      { numRuns: 30 },
    );
  });

  it('keeps its count of set registers through adds, merges, clones and both JSON forms (the form and its bytes depend on it)', () => {
    // p = 12: 4,096 registers, the sparse form below 1,366 set ones — reached by 513…~1,600 members, dense past that
    const dense = (j: ReturnType<HyperLogLog['toJSON']>) => ('registers' in j ? [...Buffer.from(j.registers, 'base64')].filter((r) => r !== 0).length : null);
    fc.assert(
      fc.property(fc.array(fc.integer({ min: 0, max: 4000 }), { maxLength: 3000 }), fc.integer({ min: 0, max: 3000 }), (ids, cut) => {
        const members = ids.map((i) => `m${i}`);
        const whole = sketch(members, 12);
        const viaJson = HyperLogLog.fromJSON(JSON.parse(JSON.stringify(sketch(members.slice(0, cut), 12))));
        const parts = viaJson.merge(sketch(members.slice(cut), 12).clone());
        expect(parts.toJSON()).toEqual(whole.toJSON());
        expect(HyperLogLog.fromJSON(JSON.parse(JSON.stringify(parts))).add('one-more').toJSON()).toEqual(whole.clone().add('one-more').toJSON());
        const j = whole.toJSON();
        if ('sparse' in j) expect(Buffer.from(j.sparse, 'base64').length % 3).toBe(0);
        if (dense(j) !== null) expect(dense(j)! * 3).toBeGreaterThanOrEqual(4096);
      }),
      { numRuns: 40 },
    );
  });

  it('round-trips through JSON (exact, sparse registers and dense) and clones independently', () => {
    const forms = [range('x', 0, 10), range('x', 0, 5000), range('x', 0, 60_000)].map((m) => Object.keys(sketch(m).toJSON()).sort().join());
    expect(forms).toEqual(['members,p', 'p,sparse', 'p,registers']);
    for (const members of [range('x', 0, 10), range('x', 0, 5000), range('x', 0, 60_000)]) {
      const h = sketch(members);
      const back = HyperLogLog.fromJSON(JSON.parse(JSON.stringify(h)));
      expect(back.count()).toBe(h.count());
      expect(back.toJSON()).toEqual(h.toJSON());
      const c = h.clone();
      c.add('another-one-1').add('another-one-2');
      expect(h.toJSON()).toEqual(back.toJSON());
    }
    // sparse triples naming an index twice, or a 0: read as written last, and the count of set registers stays exact
    const triples = (...t: [number, number][]) => ({ p: 4, sparse: Buffer.concat(t.map(([i, v]) => Buffer.from([i, 0, v]))).toString('base64') });
    expect(HyperLogLog.fromJSON(triples([1, 3], [1, 0], [2, 5])).toJSON()).toEqual(triples([2, 5]));
    expect(HyperLogLog.fromJSON(triples([1, 0], [1, 4], [2, 5], [2, 6])).toJSON()).toEqual(triples([1, 4], [2, 6]));
    expect(() => HyperLogLog.fromJSON({ p: 16, registers: 'AAAA' })).toThrow(RangeError);
    expect(() => HyperLogLog.fromJSON({ p: 16, sparse: 'AAA=' })).toThrow(RangeError);
    expect(() => HyperLogLog.fromJSON({ p: 4, sparse: Buffer.from([200, 0, 1]).toString('base64') })).toThrow(RangeError);
    expect(() => new HyperLogLog(3)).toThrow(RangeError);
  });
});
