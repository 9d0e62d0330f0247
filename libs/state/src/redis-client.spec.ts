import { NotDurableError, isDurable, planKeyMove } from './redis-client';
import { sweepOrder } from './redis-dedup.store';

describe('redis-client decisions', () => {
  it('a write is durable when at least the asked replicas acknowledged it', () => {
    expect(isDurable(1, { replicas: 1, timeoutMs: 100 })).toBe(true);
    expect(isDurable(2, { replicas: 1, timeoutMs: 100 })).toBe(true);
    expect(isDurable(0, { replicas: 1, timeoutMs: 100 })).toBe(false);
    expect(isDurable(1, { replicas: 2, timeoutMs: 100 })).toBe(false);
    expect(new NotDurableError(0, 1).message).toMatch(/0 of 1 replica/);
  });

  it('moves a key only from an existing old name to a free new name', () => {
    expect(planKeyMove(true, false)).toBe('move');
    expect(planKeyMove(true, true)).toBe('keep');
    expect(planKeyMove(false, false)).toBe('keep');
    expect(planKeyMove(false, true)).toBe('keep');
  });

  it('sweeps every dedup slot once, one hash-tag group per call, at most 256 a call', () => {
    const order = sweepOrder(65_536);
    const all = order.flat();
    expect(all.length).toBe(65_536);
    expect(new Set(all).size).toBe(65_536);
    for (const call of order) {
      expect(call.length).toBeLessThanOrEqual(256);
      expect(new Set(call.map((s) => s % 16)).size).toBe(1);
    }
    expect(sweepOrder(5)).toEqual([[0], [1], [2], [3], [4]]);
  });
});
