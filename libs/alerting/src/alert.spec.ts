import { Alert, Evaluation, fingerprint, notificationKey, step } from './alert';

const id = { fingerprint: 'fp', rule: 'r', severity: 'critical' as const, labels: { key: 'all' } };
const ev = (active: boolean, ready: boolean, at: number, since = 100): Evaluation => ({ active, ready, at, since, value: 1, summary: 's' });

describe('fingerprint', () => {
  it('depends on the rule and the labels, not on their order', () => {
    expect(fingerprint('r', { a: '1', b: '2' })).toBe(fingerprint('r', { b: '2', a: '1' }));
    expect(fingerprint('r', { a: '1' })).not.toBe(fingerprint('r2', { a: '1' }));
    expect(fingerprint('r', { a: '1' })).not.toBe(fingerprint('r', { a: '2' }));
    expect(fingerprint('r', { a: '1b' })).not.toBe(fingerprint('r', { a1: 'b' }));
    expect(fingerprint('r', {})).toMatch(/^[0-9a-f]{16}$/);
    // stored with alert states: the same values as every earlier version computed
    expect(fingerprint('payment_failure_rate_high', { metric: 'payment_failure_rate', key: 'all', team: 'payments' })).toBe('d1b93072ee0051d1');
    expect(fingerprint('r', {})).toBe('454349e422f05297');
    expect(fingerprint('orders_per_user_spike', { key: 'u-ü-1', metric: 'orders_per_user' })).toBe('729f7e16883e7f14');
  });
});

describe('lifecycle step', () => {
  it('inactive stays inactive without a change', () => {
    expect(step(null, ev(false, false, 1), id)).toEqual({ alert: null, change: null });
  });

  it('inactive → pending → firing → resolved, one change each', () => {
    const p = step(null, ev(true, false, 100), id);
    expect(p.change).toBe('pending');
    expect(p.alert).toMatchObject({ state: 'pending', startsAt: 100, updatedAt: 100, endsAt: null });
    const f = step(p.alert, ev(true, true, 160), id);
    expect(f.change).toBe('firing');
    expect(f.alert).toMatchObject({ state: 'firing', startsAt: 100, updatedAt: 160 });
    const again = step(f.alert, ev(true, true, 220), id);
    expect(again.change).toBeNull();
    expect(again.alert!.updatedAt).toBe(220);
    const r = step(again.alert, ev(false, false, 280), id);
    expect(r.change).toBe('resolved');
    expect(r.alert).toMatchObject({ state: 'resolved', startsAt: 100, endsAt: 280 });
    expect(step(r.alert, ev(false, false, 340), id)).toEqual({ alert: r.alert, change: null });
  });

  it('fires at once when ready on the first window; a pending alert that clears is cancelled', () => {
    expect(step(null, ev(true, true, 5, 5), id).alert!.state).toBe('firing');
    const p = step(null, ev(true, false, 5), id).alert;
    expect(step(p, ev(true, false, 6), id).change).toBeNull();
    expect(step(p, ev(false, false, 6), id)).toEqual({ alert: null, change: 'cancelled' });
  });

  it('a resolved alert whose condition returns starts a new incident', () => {
    const resolved: Alert = { ...id, state: 'resolved', value: 1, summary: 's', startsAt: 1, updatedAt: 2, endsAt: 2 };
    expect(step(resolved, ev(true, true, 10, 10), id).alert).toMatchObject({ state: 'firing', startsAt: 10, endsAt: null });
  });

  it('keys notifications by fingerprint, incident start, change number and kind', () => {
    expect(notificationKey('abc', 1000, 3, 'resolved')).toBe('abc.1000.3.resolved');
  });
});
