import fc from 'fast-check';
import { ReorderBuffer } from './reorder-buffer';

describe('ReorderBuffer', () => {
  it('releases events with ts < watermark in event-time order, ties in arrival order', () => {
    const b = new ReorderBuffer<string>();
    b.add('s1', 30, 'c');
    b.add('s1', 10, 'a');
    b.add('s2', 20, 'x');
    b.add('s1', 20, 'b');
    expect(b.size()).toBe(4);
    expect(b.size('s1')).toBe(3);
    expect(b.advance(null)).toEqual([]);
    expect(b.advance(10)).toEqual([]); // ts 10 is not < 10
    expect(b.advance(21).map((r) => r.event)).toEqual(['a', 'x', 'b']);
    expect(b.size('s1')).toBe(1);
    expect(b.size('s2')).toBe(0);
    expect(b.advance(20)).toEqual([]); // never backwards
    expect(b.watermark).toBe(21);
    expect(b.advance(31)).toEqual([{ key: 's1', ts: 30, event: 'c' }]);
    expect(b.size()).toBe(0);
  });

  it('refuses an event already below the watermark, accepts one at it', () => {
    const b = new ReorderBuffer<string>();
    b.advance(100);
    expect(b.add('k', 99, 'late')).toBe('late');
    expect(b.add('k', 100, 'ok')).toBe('buffered');
    expect(b.size()).toBe(1);
  });

  it('snapshots and restores', () => {
    const b = new ReorderBuffer<{ n: number }>();
    b.add('a', 5, { n: 1 });
    b.add('b', 3, { n: 2 });
    b.add('a', 5, { n: 3 });
    b.advance(4);
    const snap = JSON.parse(JSON.stringify(b.snapshot()));
    expect(snap).toEqual({ watermark: 4, events: [{ key: 'a', ts: 5, event: { n: 1 } }, { key: 'a', ts: 5, event: { n: 3 } }] });
    const r = new ReorderBuffer<{ n: number }>(snap);
    expect(r.add('a', 3, { n: 9 })).toBe('late');
    expect(r.advance(6).map((e) => e.event.n)).toEqual([1, 3]);
  });

  it('property: per key, released in event-time order; every event released or refused exactly once', () => {
    fc.assert(
      fc.property(
        fc.array(fc.record({ key: fc.constantFrom('a', 'b', 'c'), ts: fc.integer({ min: 0, max: 200 }), wm: fc.option(fc.integer({ min: 0, max: 220 })) }), { maxLength: 80 }),
        (steps) => {
          const b = new ReorderBuffer<number>();
          const released: { key: string; ts: number; event: number }[] = [];
          const refused: number[] = [];
          let wm: number | null = null;
          steps.forEach((s, i) => {
            if (b.add(s.key, s.ts, i) === 'late') {
              expect(wm !== null && s.ts < wm).toBe(true);
              refused.push(i);
            }
            if (s.wm !== null) {
              const out = b.advance(s.wm);
              if (wm === null || s.wm > wm) wm = s.wm;
              for (const r of out) expect(r.ts).toBeLessThan(wm);
              released.push(...out);
            }
          });
          released.push(...b.advance(Infinity));
          expect([...released.map((r) => r.event), ...refused].sort((x, y) => x - y)).toEqual(steps.map((_, i) => i));
          for (const key of ['a', 'b', 'c']) {
            const mine = released.filter((r) => r.key === key);
            for (let i = 1; i < mine.length; i++) {
              expect(mine[i].ts).toBeGreaterThanOrEqual(mine[i - 1].ts);
              if (mine[i].ts === mine[i - 1].ts) expect(mine[i].event).toBeGreaterThan(mine[i - 1].event);
            }
          }
        },
      ),
    );
  });
});
