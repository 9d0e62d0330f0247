import fc from 'fast-check';
import { BoundedOutOfOrdernessWatermarks, WatermarkState, WatermarkTracker, emptyWatermarkState, resolveWatermarkOptions } from './watermark';

describe('BoundedOutOfOrdernessWatermarks', () => {
  it('is max ts seen minus the bound, null before any event', () => {
    const g = new BoundedOutOfOrdernessWatermarks(5000);
    expect(g.currentWatermark()).toBeNull();
    g.onEvent(10_000);
    expect(g.currentWatermark()).toBe(5000);
    g.onEvent(9_000);
    expect(g.currentWatermark()).toBe(5000);
    g.onEvent(10_001);
    expect(g.currentWatermark()).toBe(5001);
  });
});

describe('WatermarkTracker', () => {
  it('defaults: bound 5 s, idle 10 s, no wall-clock advance', () => {
    expect(resolveWatermarkOptions()).toEqual({ maxOutOfOrdernessMs: 5000, idleTimeoutMs: 10_000, idleAdvance: 'off' });
    expect(() => resolveWatermarkOptions({ maxOutOfOrdernessMs: -1 })).toThrow(RangeError);
    expect(() => resolveWatermarkOptions({ idleTimeoutMs: Number.NaN })).toThrow(RangeError);
    expect(() => resolveWatermarkOptions({ idleAdvance: 'sometimes' as never })).toThrow(RangeError);
  });

  it('is null before any event, then max ts − bound (no extra −1 ms)', () => {
    const t = new WatermarkTracker();
    expect(t.advance(0)).toBeNull();
    t.onEvent(0, 60_000, 0);
    expect(t.advance(0)).toBe(55_000);
    expect(t.partitionWatermark(0)).toBe(55_000);
    expect(t.partitionWatermark(7)).toBeNull();
  });

  it('is the minimum over partitions', () => {
    const t = new WatermarkTracker({ maxOutOfOrdernessMs: 0 });
    t.onEvent('a', 100, 0);
    t.onEvent('b', 50, 0);
    expect(t.advance(0)).toBe(50);
    t.onEvent('b', 200, 0);
    expect(t.advance(0)).toBe(100);
    expect(t.partitionWatermarks()).toEqual({ a: 100, b: 200 });
  });

  it('never goes backwards', () => {
    const t = new WatermarkTracker({ maxOutOfOrdernessMs: 0 });
    t.onEvent('a', 100, 0);
    expect(t.advance(0)).toBe(100);
    t.onEvent('b', 10, 0); // a new partition far behind
    expect(t.advance(0)).toBe(100);
    t.onEvent('a', 90, 0);
    expect(t.advance(0)).toBe(100);
    t.advanceTo(50);
    expect(t.watermark).toBe(100);
    t.advanceTo(150);
    expect(t.watermark).toBe(150);
  });

  it('skips a partition idle for longer than idleTimeout (strictly longer)', () => {
    const t = new WatermarkTracker({ maxOutOfOrdernessMs: 0, idleTimeoutMs: 1000 });
    t.onEvent('a', 100, 0);
    t.onEvent('b', 500, 0);
    expect(t.advance(0)).toBe(100);
    t.onEvent('b', 600, 1000);
    expect(t.advance(1000)).toBe(100); // a idle for exactly 1000: not idle yet
    expect(t.isIdle('a', 1000)).toBe(false);
    expect(t.advance(1001)).toBe(600); // a idle for 1001 ms: skipped
    expect(t.isIdle('a', 1001)).toBe(true);
    t.onEvent('a', 700, 1002); // back, but behind: no regression
    expect(t.advance(1002)).toBe(600);
    t.onEvent('a', 900, 1003);
    expect(t.advance(1003)).toBe(600); // min(a=900, b=600)
  });

  it('a registered partition without events holds the watermark until it is idle', () => {
    const t = new WatermarkTracker({ maxOutOfOrdernessMs: 0, idleTimeoutMs: 1000 });
    t.addPartition('b', 0);
    t.onEvent('a', 100, 0);
    expect(t.advance(500)).toBeNull();
    expect(t.advance(1001)).toBe(100);
    t.addPartition('a', 2000); // already known: no effect
    expect(t.snapshot().partitions.a).toEqual({ maxTs: 100, lastActiveAt: 0 });
  });

  it('all idle, idleAdvance off: flushes to the highest partition watermark, no further', () => {
    const t = new WatermarkTracker({ maxOutOfOrdernessMs: 10, idleTimeoutMs: 1000, idleAdvance: 'off' });
    t.onEvent('a', 100, 0);
    t.onEvent('b', 300, 0);
    expect(t.advance(0)).toBe(90);
    expect(t.advance(1001)).toBe(290);
    expect(t.advance(1_000_000)).toBe(290);
  });

  it('all idle, idleAdvance wallclock: advances with now − bound', () => {
    const t = new WatermarkTracker({ maxOutOfOrdernessMs: 10, idleTimeoutMs: 1000, idleAdvance: 'wallclock' });
    expect(t.advance(5000)).toBeNull(); // nothing seen yet: null
    t.onEvent('a', 100, 0);
    expect(t.advance(500)).toBe(90); // active: event time only
    expect(t.advance(1001)).toBe(991); // idle: max(90, 1001 − 10)
    expect(t.advance(2000)).toBe(1990);
    t.onEvent('a', 120, 2001); // active again but behind: stays
    expect(t.advance(2001)).toBe(1990);
  });

  it('onEvent says whether the partition changed (only then can the watermark move)', () => {
    const t = new WatermarkTracker();
    expect(t.onEvent('a', 100, 0)).toBe(true); // new partition
    expect(t.onEvent('a', 100, 0)).toBe(false);
    expect(t.onEvent('a', 99, 0)).toBe(false);
    expect(t.onEvent('a', 101, 0)).toBe(true);
    expect(t.onEvent('a', 50, 1)).toBe(true); // later activity
    t.addPartition('b', 0);
    expect(t.onEvent('b', 1, 0)).toBe(true); // first event of a registered partition
  });

  it('refuses a non-finite event time', () => {
    expect(() => new WatermarkTracker().onEvent(0, Number.NaN, 0)).toThrow(RangeError);
  });

  it('snapshots to JSON and restores without going backwards', () => {
    const t = new WatermarkTracker({ maxOutOfOrdernessMs: 0, idleTimeoutMs: 1000 });
    t.onEvent('a', 100, 0);
    t.onEvent('b', 500, 0);
    t.advance(0);
    t.advance(5000); // both idle → 500
    const snap: WatermarkState = JSON.parse(JSON.stringify(t.snapshot()));
    expect(snap).toEqual({ partitions: { a: { maxTs: 100, lastActiveAt: 0 }, b: { maxTs: 500, lastActiveAt: 0 } }, watermark: 500 });
    const r = WatermarkTracker.restore(snap, { maxOutOfOrdernessMs: 0, idleTimeoutMs: 1000 }, 10_000);
    expect(r.watermark).toBe(500);
    expect(r.isIdle('a', 10_000)).toBe(false); // active from the restart
    expect(r.advance(10_000)).toBe(500); // min would be 100: floor holds
    r.onEvent('a', 800, 10_001);
    r.onEvent('b', 700, 10_001);
    expect(r.advance(10_001)).toBe(700);
  });

  it('restores from several per-partition snapshots', () => {
    const s1: WatermarkState = { partitions: { '0': { maxTs: 100, lastActiveAt: 0 } }, watermark: 40 };
    const s2: WatermarkState = { partitions: { '0': { maxTs: 90, lastActiveAt: 5 }, '1': { maxTs: 200, lastActiveAt: 5 } }, watermark: 60 };
    const r = WatermarkTracker.restore([s1, s2, emptyWatermarkState()], { maxOutOfOrdernessMs: 0 }, 7);
    expect(r.snapshot()).toEqual({
      partitions: { '0': { maxTs: 100, lastActiveAt: 7 }, '1': { maxTs: 200, lastActiveAt: 7 } },
      watermark: 60,
    });
    expect(r.advance(7)).toBe(100);
  });

  it('the snapshot is a copy', () => {
    const t = new WatermarkTracker();
    t.onEvent(0, 10, 0);
    const s = t.snapshot();
    s.partitions['0'].maxTs = 99_999;
    expect(t.snapshot().partitions['0'].maxTs).toBe(10);
    const u = new WatermarkTracker({}, s);
    s.partitions['0'].maxTs = 1;
    expect(u.snapshot().partitions['0'].maxTs).toBe(99_999);
  });

  it('property: monotone, equal to the reference min over active partitions when none is idle', () => {
    fc.assert(
      fc.property(
        fc.array(fc.record({ p: fc.integer({ min: 0, max: 3 }), ts: fc.integer({ min: 0, max: 10_000 }) }), { minLength: 1, maxLength: 60 }),
        fc.integer({ min: 0, max: 100 }),
        (events, bound) => {
          const t = new WatermarkTracker({ maxOutOfOrdernessMs: bound });
          const max = new Map<number, number>();
          let prev: number | null = null;
          let refFloor: number | null = null;
          for (const e of events) {
            t.onEvent(e.p, e.ts, 0);
            max.set(e.p, Math.max(max.get(e.p) ?? -Infinity, e.ts));
            const wm = t.advance(0);
            const ref = Math.min(...max.values()) - bound;
            refFloor = refFloor === null ? ref : Math.max(refFloor, ref);
            expect(wm).toBe(refFloor);
            if (prev !== null) expect(wm!).toBeGreaterThanOrEqual(prev);
            prev = wm;
          }
        },
      ),
    );
  });
});
