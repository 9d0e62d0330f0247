import type { WindowResultDto } from '@tidemark/contracts';
import { Alert, activeAlerts, funnel, lastMinute, lateEvents, paymentFailure, perMinute, sumGauge } from './snapshot';

const M = 60_000;
const T = Date.UTC(2026, 10, 3, 10, 0);
const r = (metric: string, start: number, value: unknown, final = true, key = 'all', size = M): WindowResultDto => ({ metric, key, windowStart: start, windowEnd: start + size, value, final, version: final ? 1 : 0 });

describe('sumGauge', () => {
  it('adds the samples of one gauge over its labels, and tells an absent gauge from zero', () => {
    const text = [
      '# HELP tidemark_consumer_lag Messages waiting',
      '# TYPE tidemark_consumer_lag gauge',
      'tidemark_consumer_lag{service="dedup",durable="dedup-p0"} 3',
      'tidemark_consumer_lag{service="dedup",durable="dedup-p1"} 4',
      'tidemark_consumer_lag_other 100',
      'tidemark_consumer_batch_seconds_count{durable="dedup-p0"} 9',
    ].join('\n');
    expect(sumGauge(text, 'tidemark_consumer_lag')).toBe(7);
    expect(sumGauge('tidemark_consumer_lag 0\n', 'tidemark_consumer_lag')).toBe(0);
    expect(sumGauge('process_cpu_seconds_total 1\n', 'tidemark_consumer_lag')).toBeNull();
  });
});

describe('perMinute', () => {
  it('pairs GMV and orders by minute, fills minutes without orders with zero, keeps the last N', () => {
    const gmv = [r('gmv', T, 10.5), r('gmv', T + 2 * M, 7, false)];
    const orders = [r('orders', T, 2), r('orders', T + 2 * M, 1, false)];
    expect(perMinute(gmv, orders)).toEqual([
      { windowStart: T, windowEnd: T + M, gmv: 10.5, orders: 2, final: true },
      { windowStart: T + M, windowEnd: T + 2 * M, gmv: 0, orders: 0, final: true },
      { windowStart: T + 2 * M, windowEnd: T + 3 * M, gmv: 7, orders: 1, final: false },
    ]);
    expect(perMinute(gmv, orders, 2).map((p) => p.windowStart)).toEqual([T + M, T + 2 * M]);
    expect(perMinute([], [])).toEqual([]);
  });
});

describe('lastMinute', () => {
  it('is the latest final minute of unique visitors, with its GMV and orders (zero when none)', () => {
    const visitors = [r('unique_visitors', T, 5), r('unique_visitors', T + M, 3), r('unique_visitors', T + 2 * M, 9, false)];
    const gmv = [r('gmv', T, 10), r('gmv', T + 2 * M, 4, false)];
    const orders = [r('orders', T, 1)];
    expect(lastMinute(gmv, orders, visitors)).toEqual({ windowStart: T + M, windowEnd: T + 2 * M, gmv: 0, orders: 0, uniqueVisitors: 3 });
    expect(lastMinute(gmv, orders, [r('unique_visitors', T, 5, false)])).toBeNull();
  });
});

describe('funnel, payment failures, late events, alerts', () => {
  const stages = (n: number[]) => ({
    stages: ['view', 'cart', 'checkout', 'order'].map((name, i) => ({ name, sessions: n[i] })),
    rates: [{ from: 'view', to: 'cart', rate: n[1] / n[0] }],
  });

  it('shows the latest final funnel, else the open one', () => {
    expect(funnel([r('funnel', T, stages([4, 2, 1, 1]), true, 'all', 5 * M), r('funnel', T + 5 * M, stages([1, 0, 0, 0]), false, 'all', 5 * M)])).toMatchObject({
      windowStart: T,
      final: true,
      stages: [{ name: 'view', sessions: 4 }, { name: 'cart', sessions: 2 }, { name: 'checkout', sessions: 1 }, { name: 'order', sessions: 1 }],
    });
    expect(funnel([r('funnel', T + 5 * M, stages([1, 0, 0, 0]), false)])).toMatchObject({ final: false });
    expect(funnel([])).toBeNull();
  });

  it('lists the failure ratio by window end and names the latest final window', () => {
    const pf = paymentFailure([
      r('payment_failure_rate', T + M, { ratio: 0.5, numerator: 1, denominator: 2 }, false, 'all', 5 * M),
      r('payment_failure_rate', T, { ratio: 0.25, numerator: 1, denominator: 4 }, true, 'all', 5 * M),
    ]);
    expect(pf.series).toEqual([
      { windowEnd: T + 5 * M, ratio: 0.25 },
      { windowEnd: T + 6 * M, ratio: 0.5 },
    ]);
    expect(pf.latest).toEqual({ windowStart: T, windowEnd: T + 5 * M, ratio: 0.25, failed: 1, payments: 4 });
  });

  it('adds late events up by type', () => {
    expect(lateEvents([r('late_events', T, 2, true, 'product_view'), r('late_events', T + M, 1, false, 'product_view'), r('late_events', T, 1, true, 'order_placed')])).toEqual({
      total: 4,
      byType: { product_view: 3, order_placed: 1 },
    });
  });

  it('keeps pending and firing alerts, firing first, then the most recent', () => {
    const a = (fingerprint: string, state: Alert['state'], updatedAt: number): Alert => ({ fingerprint, rule: 'r', severity: 'warning', labels: {}, state, value: 1, summary: '', startsAt: 0, updatedAt, endsAt: null });
    expect(activeAlerts([a('1', 'pending', 5), a('2', 'resolved', 9), a('3', 'firing', 1), a('4', 'firing', 3)]).map((x) => x.fingerprint)).toEqual(['4', '3', '1']);
  });
});
