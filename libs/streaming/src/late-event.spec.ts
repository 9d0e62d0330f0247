import { lateReason } from './late-event';

describe('lateReason', () => {
  it('names the metric, the windows and the watermark', () => {
    expect(lateReason('gmv', 59_999, [{ start: 0, end: 60_000 }], 120_000, 60_000)).toBe(
      'event at 59999 too late for gmv window [0, 60000): watermark 120000 >= end + allowed lateness 60000',
    );
    expect(lateReason('x', 5, [{ start: 0, end: 10 }, { start: 5, end: 15 }], 100, 0, 'window')).toBe('event at 5 too late for x windows [0, 10), [5, 15): watermark 100 >= end + allowed lateness 0');
  });
});
