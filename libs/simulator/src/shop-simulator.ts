/**
 * Realistic shop traffic, deterministic by seed, with time as an argument: sessions arrive, browse pages and
 * products (Zipf-like popularity), add to cart, some check out, order and pay (~2 % of payments fail).
 * Incidents can be switched on: a payment outage, a traffic drop, a fraud burst (one user ordering again and
 * again), duplicate resends, disorder and late events. Pure: `tick(now)` returns the events of that moment.
 */
import type { OrderItem, TidemarkEvent } from '@tidemark/contracts';
import { Random, Zipf } from './random';

export interface Product {
  productId: string;
  categoryId: string;
  price: number;
}

export interface Incidents {
  /** Share of payments that fail (default 0.02; an outage is e.g. 0.6). */
  paymentFailureRate?: number;
  /** Multiplier of the session arrival rate (a traffic drop is e.g. 0.2). */
  trafficFactor?: number;
  /** One user places an order every tick. */
  fraudUserId?: string;
  /** Share of events sent twice (same id). */
  duplicateRate?: number;
  /** Share of events whose ts is moved back by up to `disorderMs`. */
  disorderRate?: number;
  disorderMs?: number;
  /** Share of events whose ts is moved back by `lateMs` (beyond the allowed lateness). */
  lateRate?: number;
  lateMs?: number;
}

export interface SimulatorOptions {
  seed: number;
  products?: number;
  categories?: number;
  users?: number;
  /** New sessions per second. */
  sessionsPerSecond?: number;
}

const CATEGORIES = ['shoes', 'jackets', 'shirts', 'bags', 'watches', 'toys', 'books', 'kitchen', 'garden', 'beauty', 'sports', 'audio'];

interface Session {
  sessionId: string;
  userId: string;
  cart: OrderItem[];
  nextAt: number;
  state: 'browsing' | 'checkout' | 'done';
  orderId?: string;
  orderAmount?: number;
}

export class ShopSimulator {
  readonly catalog: Product[];
  private readonly rng: Random;
  private readonly popularity: Zipf;
  private readonly users: number;
  private readonly sessionsPerSecond: number;
  private readonly sessions: Session[] = [];
  private sessionCounter = 0;
  private eventCounter = 0;
  private lastTick: number | undefined;
  incidents: Incidents = {};

  constructor(opts: SimulatorOptions) {
    this.rng = new Random(opts.seed);
    const categories = CATEGORIES.slice(0, Math.max(1, Math.min(CATEGORIES.length, opts.categories ?? 8)));
    const n = opts.products ?? 500;
    this.catalog = Array.from({ length: n }, (_, i) => ({
      productId: `p-${String(i + 1).padStart(4, '0')}`,
      categoryId: categories[i % categories.length],
      price: Math.round((5 + this.rng.exponential(40)) * 100) / 100,
    }));
    this.popularity = new Zipf(n, 1.1);
    this.users = opts.users ?? 2000;
    this.sessionsPerSecond = opts.sessionsPerSecond ?? 20;
  }

  /** The events that happen between the previous tick and `now` (epoch ms). */
  tick(now: number): TidemarkEvent[] {
    const out: TidemarkEvent[] = [];
    const elapsed = this.lastTick === undefined ? 1000 : Math.max(0, now - this.lastTick);
    this.lastTick = now;
    const expected = (this.sessionsPerSecond * (this.incidents.trafficFactor ?? 1) * elapsed) / 1000;
    let arrivals = Math.floor(expected) + (this.rng.chance(expected - Math.floor(expected)) ? 1 : 0);
    while (arrivals-- > 0) this.startSession(now, out);
    for (const s of this.sessions) if (s.nextAt <= now && s.state !== 'done') this.step(s, now, out);
    for (let i = this.sessions.length - 1; i >= 0; i--) if (this.sessions[i].state === 'done') this.sessions.splice(i, 1);
    if (this.incidents.fraudUserId) this.fraudOrder(this.incidents.fraudUserId, now, out);
    return this.applyNoise(out);
  }

  private nextId(): string {
    return `sim-${(++this.eventCounter).toString(36)}-${this.rng.int(0, 1e9).toString(36)}`;
  }

  private base(s: Session, type: TidemarkEvent['type'], now: number): TidemarkEvent {
    return { id: this.nextId(), type, ts: now, userId: s.userId, sessionId: s.sessionId };
  }

  private startSession(now: number, out: TidemarkEvent[]): void {
    const s: Session = {
      sessionId: `s-${(++this.sessionCounter).toString(36)}-${this.rng.int(0, 1e6).toString(36)}`,
      userId: `u-${this.rng.int(1, this.users)}`,
      cart: [],
      nextAt: now + this.rng.exponential(3000),
      state: 'browsing',
    };
    this.sessions.push(s);
    out.push({ ...this.base(s, 'page_view', now), attrs: { page: '/' } });
  }

  private product(): Product {
    return this.catalog[this.popularity.sample(this.rng)];
  }

  private step(s: Session, now: number, out: TidemarkEvent[]): void {
    s.nextAt = now + this.rng.exponential(4000);
    if (s.state === 'browsing') {
      const r = this.rng.next();
      if (r < 0.55) {
        const p = this.product();
        out.push({ ...this.base(s, 'product_view', now), productId: p.productId, categoryId: p.categoryId, price: p.price });
      } else if (r < 0.67) {
        const p = this.product();
        const quantity = this.rng.chance(0.85) ? 1 : this.rng.int(2, 3);
        s.cart.push({ productId: p.productId, categoryId: p.categoryId, price: p.price, quantity });
        out.push({ ...this.base(s, 'add_to_cart', now), productId: p.productId, categoryId: p.categoryId, price: p.price, quantity });
      } else if (r < 0.7 && s.cart.length > 0) {
        const item = s.cart.pop()!;
        out.push({ ...this.base(s, 'remove_from_cart', now), productId: item.productId, categoryId: item.categoryId, price: item.price, quantity: item.quantity });
      } else if (r < 0.8 && s.cart.length > 0) {
        s.state = 'checkout';
        out.push(this.base(s, 'checkout_started', now));
      } else if (r < 0.9) {
        s.state = 'done'; // leaves (abandons any cart)
      } else {
        out.push({ ...this.base(s, 'page_view', now), attrs: { page: '/search' } });
      }
      return;
    }
    if (s.state === 'checkout') {
      if (this.rng.chance(0.3)) {
        s.state = 'done';
        return;
      }
      this.placeOrder(s, now, out);
      s.state = 'done';
    }
  }

  private placeOrder(s: Session, now: number, out: TidemarkEvent[]): void {
    const items = s.cart.length > 0 ? s.cart : [{ ...this.product(), quantity: 1 }];
    const amount = Math.round(items.reduce((sum, i) => sum + i.price * i.quantity, 0) * 100) / 100;
    const orderId = `o-${(this.eventCounter + 1).toString(36)}-${this.rng.int(0, 1e9).toString(36)}`;
    out.push({ ...this.base(s, 'order_placed', now), orderId, amount, items: items.map((i) => ({ productId: i.productId, categoryId: i.categoryId, price: i.price, quantity: i.quantity })) });
    const failed = this.rng.chance(this.incidents.paymentFailureRate ?? 0.02);
    const payTs = now + this.rng.int(200, 3000);
    out.push(
      failed
        ? { ...this.base(s, 'payment_failed', payTs), orderId, amount, reason: this.rng.pick(['card_declined', 'insufficient_funds', 'timeout']) }
        : { ...this.base(s, 'payment_succeeded', payTs), orderId, amount },
    );
  }

  private fraudOrder(userId: string, now: number, out: TidemarkEvent[]): void {
    const s: Session = { sessionId: `s-fraud-${userId}`, userId, cart: [], nextAt: now, state: 'checkout' };
    this.placeOrder(s, now, out);
  }

  private applyNoise(events: TidemarkEvent[]): TidemarkEvent[] {
    const { duplicateRate = 0, disorderRate = 0, disorderMs = 3000, lateRate = 0, lateMs = 120_000 } = this.incidents;
    const out: TidemarkEvent[] = [];
    for (const e of events) {
      if (this.rng.chance(lateRate)) e.ts -= lateMs;
      else if (this.rng.chance(disorderRate)) e.ts -= this.rng.int(1, disorderMs);
      out.push(e);
      if (this.rng.chance(duplicateRate)) out.push({ ...e });
    }
    return out;
  }
}
