import { parseDuration } from './duration';

describe('parseDuration', () => {
  it.each([
    [0, 0],
    [1500, 1500],
    ['500ms', 500],
    ['30s', 30_000],
    ['1m', 60_000],
    ['5m', 300_000],
    ['1h', 3_600_000],
    ['1d', 86_400_000],
    ['1.5s', 1_500],
    ['-1m', -60_000],
    [' 2m ', 120_000],
  ])('%p is %p ms', (input, ms) => {
    expect(parseDuration(input)).toBe(ms);
  });

  it.each([['1x'], ['m'], [''], ['1.0005s'], [1.5], [null], [undefined], [{}], ['5 m']])('rejects %p with a message', (input) => {
    expect(() => parseDuration(input)).toThrow(/must be/);
  });
});
