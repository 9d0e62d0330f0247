import { FLAG_A, FLAG_B } from '../aggregations';
import { ev, order } from '../testing/events';
import { ALL_KEY, CompiledJoinMetric, CompiledWindowMetric, MetricSet } from './compile';
import { DEFAULT_METRICS } from './default-metrics';

const set = new MetricSet(DEFAULT_METRICS);
const w = (name: string) => set.get(name) as CompiledWindowMetric;

describe('compiled metrics', () => {
  it('indexes metrics by the event types they read, late-output metrics apart', () => {
    expect(set.forType('product_view').map((m) => m.name)).toEqual(['events', 'unique_visitors', 'product_views', 'top_products', 'funnel']);
    expect(set.forType('order_placed').map((m) => m.name)).toEqual(['events', 'orders', 'gmv', 'gmv_by_category', 'unique_visitors', 'funnel', 'orders_per_user', 'cart_abandonment', 'unpaid_orders']);
    expect(set.forType('payment_failed').map((m) => m.name)).toEqual(['events', 'unique_visitors', 'payment_failure_rate']);
    expect(set.forType('payment_succeeded').map((m) => m.name)).toEqual(['events', 'unique_visitors', 'payment_failure_rate', 'unpaid_orders']);
    expect(set.forType('nope')).toEqual([]);
    expect(set.lateMetrics.map((m) => m.name)).toEqual(['late_events']);
    expect(set.names).toHaveLength(13);
    expect(set.get('missing')).toBeUndefined();
  });

  it('compiles windows from durations', () => {
    expect(w('top_products').window).toMatchObject({ type: 'aligned', assigner: { size: 3_600_000, hop: 300_000, offset: 0 } });
    expect(w('events').window).toMatchObject({ type: 'aligned', assigner: { size: 60_000, hop: 60_000 } });
    expect(w('cart_abandonment').window).toEqual({ type: 'session', gapMs: 1_800_000 });
    const j = set.get('unpaid_orders') as CompiledJoinMetric;
    expect(j.kind).toBe('join');
    expect([j.join.lowerMs, j.join.upperMs]).toEqual([0, 900_000]);
    expect(j.join.fields.map((f) => f.name)).toEqual(['userId', 'sessionId', 'amount']);
  });

  it('reads keys and inputs; undefined means skip', () => {
    const o = order(5, 'o1', 19.99, [{ productId: 'p1', categoryId: 'c1', price: 2.5, quantity: 3 }, { productId: 'p2', price: 1, quantity: 1 }]);
    const gbc = w('gmv_by_category');
    const items = gbc.explode!(o, undefined) as unknown[];
    expect(items).toHaveLength(2);
    expect(gbc.key!(o, items[0])).toBe('c1');
    expect(gbc.input(o, items[0])).toBe(7_500_000);
    expect(gbc.key!(o, items[1])).toBeUndefined();
    expect(w('gmv').input(o, undefined)).toBe(19_990_000);
    expect(w('gmv').key).toBeNull();
    expect(ALL_KEY).toBe('all');
    expect(w('gmv').input({ ...o, amount: undefined }, undefined)).toBeUndefined();
    expect(w('gmv').input({ ...o, amount: Number.NaN }, undefined)).toBeUndefined();
    expect(w('gmv').input({ ...o, amount: 1e12 }, undefined)).toBeUndefined(); // beyond exact fixed point
    expect(w('orders').input(o, undefined)).toBeNull();
    expect(w('unique_visitors').input(o, undefined)).toBe('u1');
    expect(w('funnel').input(o, undefined)).toEqual({ member: 's1', stage: 3 });
    expect(w('funnel').input(ev('page_view', 1), undefined)).toBeUndefined();
    expect(w('payment_failure_rate').input(ev('payment_failed', 1), undefined)).toBe(FLAG_A | FLAG_B);
    expect(w('payment_failure_rate').input(ev('payment_succeeded', 1), undefined)).toBe(FLAG_B);
    expect(w('cart_abandonment').input(ev('add_to_cart', 1), undefined)).toBe(FLAG_A);
    expect(w('cart_abandonment').input(ev('checkout_started', 1), undefined)).toBe(0);
    expect(w('cart_abandonment').input(o, undefined)).toBe(FLAG_B);
  });

  it('multiplies value paths and reads min/max raw', () => {
    const custom = new MetricSet([
      { name: 'biggest_line', source: { explode: 'items' }, value: ['item.price', 'item.quantity'], aggregation: { type: 'max' }, window: { type: 'tumbling', size: '1m' } },
      { name: 'cheapest', source: { types: ['product_view'] }, value: 'price', aggregation: { type: 'min' }, window: { type: 'tumbling', size: '1m' } },
    ]);
    const o = order(1, 'o', 1, [{ productId: 'p', price: 0.1, quantity: 3 }]);
    const big = custom.get('biggest_line') as CompiledWindowMetric;
    expect(big.input(o, o.items![0])).toBeCloseTo(0.3, 12);
    expect(big.input(o, { price: 'x', quantity: 1 })).toBeUndefined();
    expect(big.input(o, { price: 1e308, quantity: 10 })).toBeUndefined();
    expect((custom.get('cheapest') as CompiledWindowMetric).input(ev('product_view', 1, { price: 4.25 }), undefined)).toBe(4.25);
  });

  it('refuses invalid definitions when building a set', () => {
    expect(() => new MetricSet([{ name: 'x', aggregation: { type: 'count' }, window: { type: 'tumbling', size: 'never' } }])).toThrow(/metric "x": window.size/);
  });
});
