/** Test support: fast-check arbitraries for realistic shop streams and in-bound disorder. */
import fc from 'fast-check';
import type { EventType, OrderItem, TidemarkEvent } from '@tidemark/contracts';

/** A minute-aligned epoch base (not hour-aligned), so windows are checked on real-looking timestamps. */
export const BASE = 1_700_000_040_000;
const MIN = 60_000;

const TYPES: EventType[] = ['page_view', 'product_view', 'product_view', 'add_to_cart', 'remove_from_cart', 'checkout_started', 'order_placed', 'payment_succeeded', 'payment_failed'];

/** A time offset in [0, span): uniform, or exactly on / just before a minute boundary. */
export function offsetArb(span: number): fc.Arbitrary<number> {
  const minutes = Math.floor(span / MIN);
  return fc.oneof(
    fc.integer({ min: 0, max: span - 1 }),
    fc.integer({ min: 0, max: minutes - 1 }).map((k) => k * MIN),
    fc.integer({ min: 1, max: minutes - 1 }).map((k) => k * MIN - 1),
  );
}

const itemArb: fc.Arbitrary<OrderItem> = fc
  .record({ p: fc.integer({ min: 0, max: 6 }), c: fc.option(fc.integer({ min: 0, max: 2 }), { freq: 5 }), cents: fc.integer({ min: 0, max: 20_000 }), q: fc.integer({ min: 1, max: 3 }) })
  .map(({ p, c, cents, q }) => ({ productId: `p${p}`, ...(c === null ? {} : { categoryId: `c${c}` }), price: cents / 100, quantity: q }));

/** Shop events (ids unique per stream) spread over `span` ms after BASE. */
export function shopStreamArb(span: number, maxLength: number): fc.Arbitrary<TidemarkEvent[]> {
  const one = fc.record({
    type: fc.constantFrom(...TYPES),
    dt: offsetArb(span),
    s: fc.integer({ min: 0, max: 6 }),
    p: fc.integer({ min: 0, max: 8 }),
    o: fc.integer({ min: 0, max: 6 }),
    cents: fc.integer({ min: 0, max: 100_000 }),
    items: fc.array(itemArb, { maxLength: 3 }),
  });
  return fc.array(one, { maxLength, size: 'max' }).map((xs) => {
    // one order_placed per orderId (as in a shop); payments refer to an order placed earlier in the list, when any
    const orderIds: string[] = [];
    return xs.map((x, i) => {
      const e: TidemarkEvent = { id: `g${i}`, type: x.type, ts: BASE + x.dt, userId: `u${x.s % 4}`, sessionId: `s${x.s}` };
      if (x.type === 'product_view' || x.type === 'add_to_cart' || x.type === 'remove_from_cart') Object.assign(e, { productId: `p${x.p}`, categoryId: `c${x.p % 3}`, price: x.cents / 100, quantity: 1 });
      if (x.type === 'order_placed') {
        orderIds.push(`o${i}`);
        Object.assign(e, { orderId: `o${i}`, amount: x.cents / 100, items: x.items });
      }
      if (x.type === 'payment_succeeded' || x.type === 'payment_failed') Object.assign(e, { orderId: orderIds.length ? orderIds[x.o % orderIds.length] : `o-none`, amount: x.cents / 100 });
      return e;
    });
  });
}

/**
 * Arrival order with disorder within `bound`: arrival = ts + delay (delay in [0, bound]), stable sort.
 * Then every event's ts >= (highest ts seen before it) − bound: none is ever late.
 */
export function inBoundOrder<T extends { ts: number }>(events: readonly T[], delays: readonly number[], bound: number): T[] {
  return events
    .map((e, i) => ({ e, i, arrival: e.ts + (delays.length === 0 ? 0 : delays[i % delays.length] % (bound + 1)) }))
    .sort((a, b) => a.arrival - b.arrival || a.i - b.i)
    .map((x) => x.e);
}

/** Splits a sequence into consecutive chunks of sizes taken from `cuts` (1 + cut % 8). */
export function chunks<T>(xs: readonly T[], cuts: readonly number[]): T[][] {
  const out: T[][] = [];
  let i = 0;
  let c = 0;
  while (i < xs.length) {
    const n = 1 + ((cuts.length ? cuts[c++ % cuts.length] : 0) % 8);
    out.push(xs.slice(i, i + n));
    i += n;
  }
  return out;
}
