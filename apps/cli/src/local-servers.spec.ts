import { restartablePortRanges } from './local-servers';

describe('restartablePortRanges', () => {
  it('puts restartable servers, Redis nodes and their bus ports below the ephemeral range, apart from each other', () => {
    for (const low of [28_000, 32_768, 49_152, 65_536]) {
      const r = restartablePortRanges(low)!;
      const bus = { from: r.redisNodes.from + 10_000, to: r.redisNodes.to + 10_000 };
      const ranges = [r.restartable, r.redisNodes, bus].sort((a, b) => a.from - b.from);
      // each below the ephemeral range, none overlapping the next, none empty
      for (const x of ranges) {
        expect(x.to).toBeLessThanOrEqual(low);
        expect(x.to - x.from).toBeGreaterThanOrEqual(2_000);
        expect(x.from).toBeGreaterThanOrEqual(1_024);
      }
      for (let i = 1; i < ranges.length; i++) expect(ranges[i].from).toBeGreaterThanOrEqual(ranges[i - 1].to);
    }
    expect(restartablePortRanges(32_768)).toEqual({ restartable: { from: 26_768, to: 32_768 }, redisNodes: { from: 10_000, to: 16_768 } });
  });

  it('gives none when the ephemeral range starts too low or is unknown', () => {
    expect(restartablePortRanges(27_999)).toBeUndefined();
    expect(restartablePortRanges(1_024)).toBeUndefined();
    expect(restartablePortRanges(undefined)).toBeUndefined();
    expect(restartablePortRanges(NaN)).toBeUndefined();
  });
});
