import { cleanupTime, isComplete, isLate, onWatermark } from './trigger';

describe('event-time trigger', () => {
  const L = 60_000;

  it('fires exactly when the watermark reaches the end', () => {
    expect(isComplete(60_000, null)).toBe(false);
    expect(isComplete(60_000, 59_999)).toBe(false);
    expect(isComplete(60_000, 60_000)).toBe(true);
    expect(isComplete(60_000, 60_001)).toBe(true);
  });

  it('is late exactly from end + allowed lateness', () => {
    expect(isLate(60_000, null, L)).toBe(false);
    expect(isLate(60_000, 119_999, L)).toBe(false);
    expect(isLate(60_000, 120_000, L)).toBe(true);
    expect(isLate(60_000, 60_000, 0)).toBe(true);
    expect(cleanupTime(60_000, L)).toBe(120_000);
  });

  it('decides fire / purge from the window state', () => {
    const fresh = { end: 60_000, firedVersion: 0, dirty: true };
    expect(onWatermark(fresh, null, L)).toBe('CONTINUE');
    expect(onWatermark(fresh, 59_999, L)).toBe('CONTINUE');
    expect(onWatermark(fresh, 60_000, L)).toBe('FIRE');
    expect(onWatermark(fresh, 120_000, L)).toBe('FIRE_AND_PURGE');
    const fired = { end: 60_000, firedVersion: 1, dirty: false };
    expect(onWatermark(fired, 60_000, L)).toBe('CONTINUE');
    expect(onWatermark(fired, 119_999, L)).toBe('CONTINUE');
    expect(onWatermark(fired, 120_000, L)).toBe('PURGE');
    const updated = { end: 60_000, firedVersion: 1, dirty: true };
    expect(onWatermark(updated, 70_000, L)).toBe('FIRE');
    expect(onWatermark(updated, 120_000, L)).toBe('FIRE_AND_PURGE');
  });
});
