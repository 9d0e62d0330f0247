import fc from 'fast-check';
import { TimerQueue } from './timers';

describe('TimerQueue', () => {
  it('pops due timers (time <= watermark) in time, then registration order', () => {
    const q = new TimerQueue<string>();
    q.register(30, 'c');
    q.register(10, 'a');
    q.register(20, 'b1');
    q.register(20, 'b2');
    expect(q.popDue(null)).toEqual([]);
    expect(q.popDue(9)).toEqual([]);
    expect(q.peekTime()).toBe(10);
    expect(q.popDue(20).map((t) => t.value)).toEqual(['a', 'b1', 'b2']);
    expect(q.size).toBe(1);
    expect(q.popDue(29)).toEqual([]);
    expect(q.popDue(30)).toEqual([{ time: 30, value: 'c' }]);
    expect(q.peekTime()).toBeUndefined();
  });

  it('matches a sorted reference', () => {
    fc.assert(
      fc.property(fc.array(fc.tuple(fc.integer({ min: 0, max: 100 }), fc.boolean()), { maxLength: 100 }), fc.integer({ min: 0, max: 100 }), (ops, wm) => {
        const q = new TimerQueue<number>();
        const ref: { time: number; value: number }[] = [];
        ops.forEach(([time], i) => {
          q.register(time, i);
          ref.push({ time, value: i });
        });
        const due = ref.filter((t) => t.time <= wm).sort((a, b) => a.time - b.time || a.value - b.value);
        expect(q.popDue(wm)).toEqual(due);
        expect(q.size).toBe(ref.length - due.length);
      }),
    );
  });
});
