import { validateEvent } from '@tidemark/contracts';
import { Random, Zipf } from './random';
import { ShopSimulator } from './shop-simulator';

const T0 = Date.UTC(2026, 10, 24, 12);

function run(seed: number, seconds: number, configure?: (s: ShopSimulator) => void) {
  const sim = new ShopSimulator({ seed, sessionsPerSecond: 50 });
  configure?.(sim);
  const events = [];
  for (let t = 0; t < seconds * 10; t++) events.push(...sim.tick(T0 + t * 100));
  return events;
}

describe('ShopSimulator', () => {
  it('is deterministic by seed', () => {
    expect(run(42, 30)).toEqual(run(42, 30));
    expect(run(42, 30)).not.toEqual(run(43, 30));
  });

  it('emits only valid events, with a realistic mix', () => {
    const events = run(7, 120);
    for (const e of events) expect(validateEvent(e, { now: T0 + 200_000 })).toEqual({ ok: true, event: e });
    const count = (t: string) => events.filter((e) => e.type === t).length;
    expect(count('product_view')).toBeGreaterThan(count('add_to_cart'));
    expect(count('add_to_cart')).toBeGreaterThan(count('order_placed'));
    expect(count('order_placed')).toBeGreaterThan(10);
    expect(count('payment_succeeded') + count('payment_failed')).toBe(count('order_placed'));
    for (const o of events.filter((e) => e.type === 'order_placed')) {
      expect(o.amount).toBeCloseTo(o.items!.reduce((s, i) => s + i.price * i.quantity, 0), 2);
    }
    expect(new Set(events.map((e) => e.id)).size).toBe(events.length);
  });

  it('injects a payment outage, duplicates and a fraud burst when asked', () => {
    const events = run(9, 120, (s) => (s.incidents = { paymentFailureRate: 1, duplicateRate: 0.1, fraudUserId: 'u-fraud' }));
    expect(events.filter((e) => e.type === 'payment_succeeded')).toHaveLength(0);
    expect(new Set(events.map((e) => e.id)).size).toBeLessThan(events.length);
    expect(new Set(events.filter((e) => e.type === 'order_placed' && e.userId === 'u-fraud').map((e) => e.id)).size).toBe(1200);
  });
});

describe('Random and Zipf', () => {
  it('Zipf favours the first ranks', () => {
    const rng = new Random(1);
    const z = new Zipf(100, 1.1);
    const counts = new Array(100).fill(0);
    for (let i = 0; i < 20000; i++) counts[z.sample(rng)]++;
    expect(counts[0]).toBeGreaterThan(counts[9] * 5);
    expect(counts.every((c) => c >= 0)).toBe(true);
  });

  it('stays in range', () => {
    const rng = new Random(5);
    for (let i = 0; i < 1000; i++) {
      const n = rng.int(3, 7);
      expect(n >= 3 && n <= 7).toBe(true);
    }
  });
});
