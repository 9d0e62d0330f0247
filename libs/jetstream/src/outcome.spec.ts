import { backoffDelay, isBatchOutcome, Outcome } from './outcome';

describe('outcomes', () => {
  it('builds and recognises outcomes', () => {
    expect(Outcome.ack()).toEqual({ kind: 'ack' });
    expect(Outcome.ack([])).toEqual({ kind: 'ack' });
    expect(Outcome.ack([{ seq: 3, reason: 'bad' }])).toEqual({ kind: 'ack', deadLetters: [{ seq: 3, reason: 'bad' }] });
    expect(Outcome.retry(500, 'redis')).toEqual({ kind: 'retry', delayMs: 500, reason: 'redis' });
    expect(Outcome.deadLetter('nope')).toEqual({ kind: 'deadLetter', reason: 'nope' });
    expect(isBatchOutcome(Outcome.retry())).toBe(true);
    expect(isBatchOutcome({ kind: 'other' })).toBe(false);
    expect(isBatchOutcome(undefined)).toBe(false);
  });

  it('backs off exponentially up to the cap', () => {
    const p = { initialMs: 100, maxMs: 1000, factor: 2 };
    expect([1, 2, 3, 4, 5, 100].map((a) => backoffDelay(a, p))).toEqual([100, 200, 400, 800, 1000, 1000]);
    expect(backoffDelay(0, p)).toBe(100);
  });
});
