import type { WindowResultDto } from '@tidemark/contracts';
import {
  Alert,
  Fetched,
  MINUTE,
  SnapshotInputs,
  activeAlerts,
  assembleSnapshot,
  funnelView,
  ingestCounts,
  lateView,
  promSamples,
  rangeStart,
  ratioView,
  serviceView,
  toSeries,
  topView,
  unpaidView,
} from './snapshot';

const T = Date.UTC(2026, 10, 24, 10, 0);
const w = (metric: string, key: string, windowStart: number, value: unknown, final = true, version = 1, size = MINUTE): WindowResultDto => ({
  metric,
  key,
  windowStart,
  windowEnd: windowStart + size,
  value,
  final,
  version,
});
const ok = <T>(value: T): Fetched<T> => ({ ok: true, value });
const down: Fetched<never> = { ok: false, error: 'not answering (ECONNREFUSED)' };

describe('rangeStart', () => {
  it('is whole minutes before the watermark, or before the clock without one', () => {
    expect(rangeStart(T + 30_000, T + 999_999, 30)).toBe(T - 30 * MINUTE);
    expect(rangeStart(null, T + 59_999, 5)).toBe(T - 5 * MINUTE);
    expect(rangeStart(T, T, 0)).toBe(T);
  });
});

describe('toSeries', () => {
  it('orders by window start, finds the last final window and the latest, and totals', () => {
    const s = toSeries([w('gmv', 'all', T + MINUTE, 10.1), w('gmv', 'all', T, 20.2), w('gmv', 'all', T + 2 * MINUTE, 5, false)]);
    expect(s.points.map((p) => [p.windowStart - T, p.value, p.final])).toEqual([
      [0, 20.2, true],
      [MINUTE, 10.1, true],
      [2 * MINUTE, 5, false],
    ]);
    expect(s.lastFinal).toEqual({ windowStart: T + MINUTE, value: 10.1, final: true });
    expect(s.latest).toEqual({ windowStart: T + 2 * MINUTE, value: 5, final: false });
    expect(s.total).toBe(35.3); // not 35.300000000000004
  });

  it('adds the keys of one window (final only when all are) and ignores non-numbers', () => {
    const s = toSeries([w('events', 'a', T, 2), w('events', 'b', T, 3, false), w('events', 'c', T, { x: 1 }), w('events', 'd', T, null)]);
    expect(s.points).toEqual([{ windowStart: T, value: 5, final: false }]);
    expect(s.lastFinal).toBeNull();
  });

  it('is empty without windows', () => {
    expect(toSeries([])).toEqual({ points: [], lastFinal: null, latest: null, total: 0 });
  });
});

describe('funnelView', () => {
  const value = (v: number, c: number, k: number, o: number) => ({
    stages: [
      { name: 'view', sessions: v },
      { name: 'cart', sessions: c },
      { name: 'checkout', sessions: k },
      { name: 'order', sessions: o },
    ],
    rates: [
      { from: 'view', to: 'cart', rate: v ? c / v : null },
      { from: 'cart', to: 'checkout', rate: c ? k / c : null },
      { from: 'checkout', to: 'order', rate: k ? o / k : null },
    ],
  });

  it('takes the latest window, open or not, with the overall conversion', () => {
    const f = funnelView([w('funnel', 'all', T, value(10, 5, 2, 1), true, 1, 5 * MINUTE), w('funnel', 'all', T + 5 * MINUTE, value(4, 2, 1, 1), false, 0, 5 * MINUTE)]);
    expect(f).toMatchObject({ windowStart: T + 5 * MINUTE, windowEnd: T + 10 * MINUTE, final: false, conversion: 0.25 });
    expect(f!.stages.map((s) => s.sessions)).toEqual([4, 2, 1, 1]);
    expect(f!.rates.map((r) => r.rate)).toEqual([0.5, 0.5, 1]);
  });

  it('has no conversion without first-stage sessions, and no view without a funnel value', () => {
    expect(funnelView([w('funnel', 'all', T, value(0, 0, 0, 0))])!.conversion).toBeNull();
    expect(funnelView([])).toBeNull();
    expect(funnelView([w('funnel', 'all', T, 3)])).toBeNull();
  });
});

describe('ratioView', () => {
  const r = (n: number, d: number) => ({ ratio: d ? n / d : null, numerator: n, denominator: d });
  it('prefers the latest final window over a later open one', () => {
    const v = ratioView([w('pfr', 'all', T, r(1, 10)), w('pfr', 'all', T + MINUTE, r(2, 10)), w('pfr', 'all', T + 2 * MINUTE, r(5, 5), false)]);
    expect(v).toEqual({ windowStart: T + MINUTE, windowEnd: T + 2 * MINUTE, final: true, ratio: 0.2, numerator: 2, denominator: 10 });
  });

  it('falls back to the latest open window, and keeps a null ratio', () => {
    expect(ratioView([w('pfr', 'all', T, r(0, 0), false)])).toMatchObject({ final: false, ratio: null, denominator: 0 });
    expect(ratioView([])).toBeNull();
  });
});

describe('topView', () => {
  it('passes the ranking through, and is empty before the first window', () => {
    expect(topView({ windowStart: T, windowEnd: T + 3_600_000, final: false, items: [{ key: 'p-1', value: 9 }] })).toEqual({
      windowStart: T,
      windowEnd: T + 3_600_000,
      final: false,
      items: [{ key: 'p-1', value: 9 }],
    });
    expect(topView({ items: [] })).toEqual({ windowStart: null, windowEnd: null, final: false, items: [] });
  });
});

describe('lateView', () => {
  it('adds up by type over the windows, largest first', () => {
    expect(lateView([w('late_events', 'product_view', T, 2), w('late_events', 'order_placed', T, 2), w('late_events', 'product_view', T + MINUTE, 1)])).toEqual({
      total: 5,
      byType: [
        { type: 'product_view', count: 3 },
        { type: 'order_placed', count: 2 },
      ],
    });
    expect(lateView([])).toEqual({ total: 0, byType: [] });
  });
});

describe('unpaidView', () => {
  const v = (status: string, amount: number) => ({ status, leftId: 'e', leftTs: T, matchedTs: status === 'matched' ? T + 1 : null, fields: { userId: 'u', sessionId: 's', amount } });
  it('counts fired orders whose latest version is unmatched, with their amounts', () => {
    const u = unpaidView([
      w('unpaid_orders', 'o-1', T, v('unmatched', 10.1), true, 1),
      w('unpaid_orders', 'o-2', T, v('unmatched', 20.2), true, 1),
      w('unpaid_orders', 'o-2', T, v('matched', 20.2), true, 2), // paid late
      w('unpaid_orders', 'o-3', T, v('unmatched', 5), false, 0), // its 15 minutes are not over
      w('unpaid_orders', 'o-4', T, v('unmatched', 0.2), true, 1),
    ]);
    expect(u).toEqual({ count: 2, amount: 10.3 });
  });
});

describe('activeAlerts', () => {
  const a = (fingerprint: string, state: Alert['state'], severity: Alert['severity'], startsAt: number, updatedAt = startsAt): Alert => ({
    fingerprint,
    rule: fingerprint.split(':')[0],
    severity,
    labels: {},
    state,
    value: 1,
    summary: '',
    startsAt,
    updatedAt,
    endsAt: null,
  });
  it('drops resolved alerts, keeps the newest per fingerprint, firing first, then by severity and age', () => {
    const list = activeAlerts([
      a('pending:x', 'pending', 'critical', 1),
      a('info:x', 'firing', 'info', 1),
      a('warn:x', 'firing', 'warning', 5),
      a('crit:old', 'firing', 'critical', 3),
      a('crit:new', 'firing', 'critical', 4),
      a('gone:x', 'resolved', 'critical', 1),
      a('warn:x', 'firing', 'warning', 5, 9), // a newer copy of the same alert
    ]);
    expect(list.map((x) => x.fingerprint)).toEqual(['crit:old', 'crit:new', 'warn:x', 'info:x', 'pending:x']);
    expect(list.find((x) => x.fingerprint === 'warn:x')!.updatedAt).toBe(9);
  });
});

describe('promSamples', () => {
  const text = [
    '# HELP tidemark_consumer_lag Messages waiting',
    '# TYPE tidemark_consumer_lag gauge',
    'tidemark_consumer_lag{durable="aggregation-p0",service="aggregation"} 12',
    'tidemark_consumer_lag{durable="aggregation-p1",service="aggregation"} 3',
    'tidemark_consumer_lag_seconds{durable="x"} 99',
    'tidemark_watermark_ms{service="aggregation"} 1795932935697',
    'tidemark_up 1',
    'tidemark_odd{label="with \\"quotes\\", a } and a comma",other="b"} 2.5e3 1700000000000',
    'tidemark_inf +Inf',
  ].join('\n');

  it('reads the samples of one metric with their labels, not of a longer name', () => {
    expect(promSamples(text, 'tidemark_consumer_lag')).toEqual([
      { labels: { durable: 'aggregation-p0', service: 'aggregation' }, value: 12 },
      { labels: { durable: 'aggregation-p1', service: 'aggregation' }, value: 3 },
    ]);
    expect(promSamples(text, 'tidemark_up')).toEqual([{ labels: {}, value: 1 }]);
    expect(promSamples(text, 'tidemark_odd')).toEqual([{ labels: { label: 'with "quotes", a } and a comma', other: 'b' }, value: 2500 }]);
    expect(promSamples(text, 'tidemark_inf')).toEqual([{ labels: {}, value: Infinity }]);
    expect(promSamples(text, 'missing')).toEqual([]);
    expect(promSamples('', 'tidemark_up')).toEqual([]);
  });
});

describe('serviceView', () => {
  const metrics = (processed: number) =>
    ok(
      [
        `tidemark_consumer_lag{durable="d-p0"} 4`,
        `tidemark_consumer_lag{durable="d-p1"} 6`,
        `tidemark_consumer_messages_total{durable="d-p0"} ${processed}`,
        `tidemark_consumer_messages_total{durable="d-p1"} 100`,
        `tidemark_watermark_ms 1700000000000`,
      ].join('\n'),
    );

  it('reads health, lag per durable, watermark, and the rate since the previous snapshot', () => {
    const v = serviceView('aggregation', ok(200), metrics(1100), { processed: 200, at: T }, T + 2000);
    expect(v).toEqual({
      name: 'aggregation',
      health: 'ready',
      lag: 10,
      lagByDurable: { 'd-p0': 4, 'd-p1': 6 },
      watermark: 1_700_000_000_000,
      processed: 1200,
      rate: 500,
    });
  });

  it('says not-ready on a 503, down without an answer, and has no rate after a restart (counter reset)', () => {
    expect(serviceView('dedup', ok(503), metrics(0), { processed: 5000, at: T }, T + 1000)).toMatchObject({ health: 'not-ready', rate: null });
    expect(serviceView('alerting', down, down, undefined, T)).toEqual({
      name: 'alerting',
      health: 'down',
      lag: null,
      lagByDurable: {},
      watermark: null,
      processed: null,
      rate: null,
    });
  });

  it('has no lag for a service without consumers; ingestion counts the records it accepted', () => {
    const text = 'tidemark_ingest_events_total{transport="http",outcome="accepted"} 5\ntidemark_ingest_events_total{transport="tcp",outcome="rejected"} 9';
    expect(serviceView('ingestion', ok(200), ok(text), undefined, T)).toMatchObject({ lag: null, processed: 5 });
    expect(serviceView('other', ok(200), ok('tidemark_up 1'), undefined, T)).toMatchObject({ lag: null, processed: null });
  });
});

describe('ingestCounts', () => {
  it('adds up the transports per outcome', () => {
    const text = [
      'tidemark_ingest_events_total{transport="http",outcome="accepted"} 5',
      'tidemark_ingest_events_total{transport="tcp",outcome="accepted"} 7',
      'tidemark_ingest_events_total{transport="http",outcome="rejected"} 1',
    ].join('\n');
    expect(ingestCounts(ok(text))).toEqual({ accepted: 12, rejected: 1, duplicates: 0 });
    expect(ingestCounts(down)).toEqual({ accepted: null, rejected: null, duplicates: null });
  });
});

describe('assembleSnapshot', () => {
  const inputs = (over: Partial<SnapshotInputs> = {}): SnapshotInputs => ({
    now: T + 10 * MINUTE,
    minutes: 30,
    watermark: ok({ watermark: T + 5 * MINUTE + 1, partitions: { '0': T + 5 * MINUTE + 1 } }),
    gmv: ok([w('gmv', 'all', T, 12.5)]),
    orders: ok([w('orders', 'all', T, 2)]),
    uniqueVisitors: ok([w('unique_visitors', 'all', T, 7)]),
    funnel: ok([]),
    topProducts: ok({ metric: 'top_products', items: [] } as never),
    paymentFailure: ok([]),
    lateEvents: ok([]),
    unpaidOrders: { ok: false, error: 'HTTP 404: unknown metric "unpaid_orders"' },
    alerts: down,
    services: [{ name: 'aggregation', health: ok(200), metrics: ok('tidemark_consumer_messages_total{durable="a"} 50') }],
    ...over,
  });

  it('makes a panel of every answer, and an unavailable panel with the reason of every failure', () => {
    const s = assembleSnapshot(inputs());
    expect(s.generatedAt).toBe(T + 10 * MINUTE);
    expect(s.range).toEqual({ from: T - 25 * MINUTE, minutes: 30 });
    expect(s.watermark).toEqual({ status: 'ok', watermark: T + 5 * MINUTE + 1, partitions: { '0': T + 5 * MINUTE + 1 } });
    expect(s.gmv).toMatchObject({ status: 'ok', total: 12.5, lastFinal: { value: 12.5 } });
    expect(s.funnel).toEqual({ status: 'ok', window: null });
    expect(s.paymentFailure).toEqual({ status: 'ok', window: null });
    expect(s.unpaidOrders).toEqual({ status: 'unavailable', error: 'HTTP 404: unknown metric "unpaid_orders"' });
    expect(s.alerts).toEqual({ status: 'unavailable', error: 'not answering (ECONNREFUSED)' });
    expect(s.services[0]).toMatchObject({ name: 'aggregation', processed: 50, rate: null });
    expect(s.ingest).toEqual({ accepted: null, rejected: null, duplicates: null });
  });

  it('uses the clock for the range without a watermark, and rates against the previous snapshot', () => {
    const first = assembleSnapshot(inputs({ watermark: down }));
    expect(first.watermark.status).toBe('unavailable');
    expect(first.range.from).toBe(T + 10 * MINUTE - 30 * MINUTE);
    const second = assembleSnapshot(
      inputs({
        now: T + 10 * MINUTE + 500,
        previous: first,
        services: [{ name: 'aggregation', health: ok(200), metrics: ok('tidemark_consumer_messages_total{durable="a"} 150') }],
      }),
    );
    expect(second.services[0].rate).toBe(200);
  });

  it('turns an answer of the wrong shape into an unavailable panel instead of failing the snapshot', () => {
    const s = assembleSnapshot(inputs({ gmv: ok({ error: 'x' } as never), alerts: ok({} as never) }));
    expect(s.gmv).toEqual({ status: 'unavailable', error: 'unexpected answer: not an array' });
    expect(s.alerts.status).toBe('unavailable');
    expect(s.orders.status).toBe('ok');
  });
});
