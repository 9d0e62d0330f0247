import fc from 'fast-check';
import { fnv1a32, parsePartitionList, partitionOf } from './partition';

describe('partitionOf', () => {
  it('matches the FNV-1a 32-bit reference values (stable across versions)', () => {
    expect(fnv1a32('')).toBe(0x811c9dc5);
    expect(fnv1a32('a')).toBe(0xe40c292c);
    expect(fnv1a32('foobar')).toBe(0xbf9cf968);
  });

  it('is within range and deterministic', () => {
    fc.assert(
      fc.property(fc.string(), fc.integer({ min: 1, max: 64 }), (key, n) => {
        const p = partitionOf(key, n);
        return p >= 0 && p < n && Number.isInteger(p) && p === partitionOf(key, n);
      }),
    );
  });

  it('spreads session ids over partitions', () => {
    const counts = new Array(8).fill(0);
    for (let i = 0; i < 8000; i++) counts[partitionOf(`session-${i}`, 8)]++;
    for (const c of counts) expect(c).toBeGreaterThan(800);
  });
});

describe('parsePartitionList', () => {
  it.each([
    ['all', 4, [0, 1, 2, 3]],
    ['', 2, [0, 1]],
    ['3', 8, [3]],
    ['0-3', 8, [0, 1, 2, 3]],
    ['0,2,5-7', 8, [0, 2, 5, 6, 7]],
    ['5, 1 ,1', 8, [1, 5]],
  ])('%s of %i', (spec, n, expected) => {
    expect(parsePartitionList(spec, n)).toEqual(expected);
  });

  it.each(['x', '1-', '4-2', '8', '0-8', '-1'])('rejects %s', (spec) => {
    expect(() => parsePartitionList(spec, 8)).toThrow(/invalid partition list/);
  });
});
