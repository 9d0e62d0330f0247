import fc from 'fast-check';
import { SessionWindows, SlidingWindows, TumblingWindows } from './assigners';
import { contains } from './window';

describe('TumblingWindows', () => {
  const w = new TumblingWindows(60_000);

  it('puts an event in exactly one window, [start, end)', () => {
    expect(w.assignWindows(0)).toEqual([{ start: 0, end: 60_000 }]);
    expect(w.assignWindows(59_999)).toEqual([{ start: 0, end: 60_000 }]);
    expect(w.assignWindows(60_000)).toEqual([{ start: 60_000, end: 120_000 }]);
    expect(w.assignWindows(60_001)).toEqual([{ start: 60_000, end: 120_000 }]);
  });

  it('handles negative timestamps', () => {
    expect(w.assignWindows(-1)).toEqual([{ start: -60_000, end: 0 }]);
    expect(w.assignWindows(-60_000)).toEqual([{ start: -60_000, end: 0 }]);
    expect(w.assignWindows(-60_001)).toEqual([{ start: -120_000, end: -60_000 }]);
  });

  it('applies an offset', () => {
    const o = new TumblingWindows(60_000, 15_000);
    expect(o.assignWindows(14_999)).toEqual([{ start: -45_000, end: 15_000 }]);
    expect(o.assignWindows(15_000)).toEqual([{ start: 15_000, end: 75_000 }]);
    expect(o.assignWindows(74_999)).toEqual([{ start: 15_000, end: 75_000 }]);
    expect(o.kind).toBe('tumbling');
  });

  it('refuses bad parameters', () => {
    expect(() => new TumblingWindows(0)).toThrow(RangeError);
    expect(() => new TumblingWindows(1.5)).toThrow(RangeError);
    expect(() => new TumblingWindows(10, 0.5)).toThrow(RangeError);
  });
});

describe('SlidingWindows', () => {
  it('assigns size/hop windows, latest first, boundaries exact', () => {
    const w = new SlidingWindows(300_000, 60_000);
    expect(w.kind).toBe('sliding');
    expect(w.assignWindows(60_000)).toEqual([
      { start: 60_000, end: 360_000 },
      { start: 0, end: 300_000 },
      { start: -60_000, end: 240_000 },
      { start: -120_000, end: 180_000 },
      { start: -180_000, end: 120_000 },
    ]);
    // 59_999 is not in [60_000, ...) but is in [-240_000, 60_000)
    expect(w.assignWindows(59_999).map((x) => x.start)).toEqual([0, -60_000, -120_000, -180_000, -240_000]);
  });

  it('firstEnd: the end of the earliest window holding ts, a boundary included', () => {
    const w = new SlidingWindows(3_600_000, 300_000);
    expect(w.firstEnd(61_000)).toBe(300_000);
    expect(w.firstEnd(300_000)).toBe(600_000); // a window [.., 300000) does not hold 300000
    expect(w.firstEnd(299_999)).toBe(300_000);
    expect(new TumblingWindows(60_000, 5_000).firstEnd(-1)).toBe(5_000);
  });

  it('handles a hop that does not divide the size', () => {
    const w = new SlidingWindows(10, 4);
    expect(w.assignWindows(9)).toEqual([
      { start: 8, end: 18 },
      { start: 4, end: 14 },
      { start: 0, end: 10 },
    ]);
    expect(w.assignWindows(10)).toEqual([
      { start: 8, end: 18 },
      { start: 4, end: 14 },
    ]);
  });

  it('refuses a hop larger than the size (events would fall in no window)', () => {
    expect(() => new SlidingWindows(10, 11)).toThrow(RangeError);
  });

  it('assigns exactly the windows that contain the event (brute force)', () => {
    fc.assert(
      fc.property(
        fc.integer({ min: 1, max: 50 }),
        fc.integer({ min: 1, max: 50 }),
        fc.integer({ min: -30, max: 30 }),
        fc.integer({ min: -1000, max: 1000 }),
        (size, hopRaw, offset, ts) => {
          const hop = Math.min(hopRaw, size);
          const w = new SlidingWindows(size, hop, offset);
          const expected: number[] = [];
          for (let s = -2000; s <= 2000; s++) {
            if (((s - offset) % hop) === 0 && s <= ts && ts < s + size) expected.push(s);
          }
          const got = w.assignWindows(ts);
          expect(got.map((x) => x.start).sort((a, b) => a - b)).toEqual(expected);
          expect(w.firstEnd(ts)).toBe(Math.min(...expected) + size);
          for (const x of got) {
            expect(contains(x, ts)).toBe(true);
            expect(x.end - x.start).toBe(size);
          }
        },
      ),
    );
  });
});

describe('SessionWindows', () => {
  it('gives each event its own [ts, ts + gap) window', () => {
    const s = new SessionWindows(1_800_000);
    expect(s.assignWindows(1000)).toEqual([{ start: 1000, end: 1_801_000 }]);
    expect(() => new SessionWindows(0)).toThrow(RangeError);
  });
});
