import { unavailableFor } from './partition-consumer';

describe('unavailableFor (when a consumer that keeps failing is re-created)', () => {
  it('only after failing for the whole limit; never while the last call worked', () => {
    expect(unavailableFor(undefined, 1_000_000, 15_000)).toBe(false);
    expect(unavailableFor(1_000, 1_000, 15_000)).toBe(false);
    expect(unavailableFor(1_000, 15_999, 15_000)).toBe(false);
    expect(unavailableFor(1_000, 16_000, 15_000)).toBe(true);
    expect(unavailableFor(1_000, 1_000, 0)).toBe(true);
  });
});
