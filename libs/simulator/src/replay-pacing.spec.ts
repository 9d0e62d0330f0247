import { dueAt, parseSpeed, progressBar } from './replay-pacing';

describe('replay pacing', () => {
  it.each([
    ['max', Infinity],
    ['60x', 60],
    ['1x', 1],
    ['2.5', 2.5],
    [' 10X ', 10],
  ])('parses %s', (text, speed) => expect(parseSpeed(text)).toBe(speed));

  it.each(['0x', '-1x', 'fast', ''])('rejects %s', (text) => expect(() => parseSpeed(text)).toThrow(/--speed/));

  it('schedules by event time over speed, never before the start', () => {
    expect(dueAt(60_000, 0, 1000, 60)).toBe(2000);
    expect(dueAt(0, 0, 1000, 60)).toBe(1000);
    expect(dueAt(-5000, 0, 1000, 60)).toBe(1000); // disorder in the log: send at once
    expect(dueAt(10 ** 9, 0, 1000, Infinity)).toBe(1000);
  });

  it('draws a progress bar', () => {
    expect(progressBar(0, 10, 10)).toBe('[..........]   0%');
    expect(progressBar(5, 10, 10)).toBe('[#####.....]  50%');
    expect(progressBar(10, 10, 10)).toBe('[##########] 100%');
    expect(progressBar(0, 0, 4)).toBe('[####] 100%');
  });
});
