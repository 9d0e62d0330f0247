import { DEFAULT_PARAMS, RecParams } from './params';
import { planEvents, sessionsOf } from './planner';
import { Recommender } from './recommender';
import { InMemoryRecStore } from './store';

const H = 3_600_000;
const T = Date.UTC(2026, 0, 1);
/** Both half-lives one hour, so decay is easy to compute by hand. */
const P: RecParams = { ...DEFAULT_PARAMS, coocHalfLifeMs: H, trendingHalfLifeMs: H, includeViewed: true };

const view = (p: string, t: number, s: string, u = 'u-' + s, c = 'phones') => ({ type: 'product_view', id: `v-${p}-${t}-${s}`, ts: t, userId: u, sessionId: s, productId: p, categoryId: c });
const order = (p: string, t: number, s: string, u = 'u-' + s) => ({ type: 'order_placed', id: `o-${p}-${t}`, ts: t, userId: u, sessionId: s, orderId: 'o', amount: 1, items: [{ productId: p, categoryId: 'phones', price: 1, quantity: 1 }] });

function storeWith(events: unknown[], params = P): InMemoryRecStore {
  const store = new InMemoryRecStore(params);
  for (const e of events) store.applyOps(planEvents([e], store.sessionsSync(sessionsOf([e])), params).ops);
  return store;
}

describe('Recommender (hand-computed)', () => {
  // s1 at 0 h: A, B viewed together. s2 at 2 h: A, C viewed together. Clock: 2 h.
  const base = [view('A', T, 's1'), view('B', T, 's1'), view('A', T + 2 * H, 's2'), view('C', T + 2 * H, 's2')];

  it('similar: decayed co-occurrence, newest pairs first', async () => {
    const r = await new Recommender(storeWith(base), P).similar('A', 2);
    // cooc(A,C) = 1 (just now); cooc(A,B) = 1 two half-lives ago = 0.25
    expect(r).toEqual({
      productId: 'A',
      strategy: 'similar',
      known: true,
      items: [
        { productId: 'C', score: 1, reason: 'viewed together with A' },
        { productId: 'B', score: 0.25, reason: 'viewed together with A' },
      ],
    });
  });

  it('similar: backfills with trending in the category, then overall; an unknown product gets trending', async () => {
    const store = storeWith([...base, view('Z', T + 2 * H, 's3', 'u3', 'tv')]);
    const r = await new Recommender(store, P).similar('A', 4);
    // trending in phones at 2 h: A = 1·¼ + 1 = 1.25, B = 0.25, C = 1 → only A is left, and A is excluded; then Z overall
    expect(r.items.slice(2)).toEqual([{ productId: 'Z', score: 1, reason: 'trending overall' }]);
    const unknown = await new Recommender(store, P).similar('nope', 2);
    expect(unknown).toEqual({
      productId: 'nope',
      strategy: 'trending',
      known: false,
      items: [
        { productId: 'A', score: 1.25, reason: 'trending overall' },
        { productId: 'C', score: 1, reason: 'trending overall' },
      ],
    });
  });

  it('trending decays with event time: older activity counts for less', async () => {
    const store = storeWith([view('X', T, 'a'), view('X', T, 'b'), view('X', T, 'c'), view('Y', T + 2 * H, 'd', 'u', 'tv')]);
    const r = new Recommender(store, P);
    // X: 3 views two half-lives ago = 0.75; Y: 1 view now = 1
    expect((await r.trending(null, 5)).items).toEqual([
      { productId: 'Y', score: 1, reason: 'trending overall' },
      { productId: 'X', score: 0.75, reason: 'trending overall' },
    ]);
    expect(await r.trending('phones', 5)).toEqual({ categoryId: 'phones', scope: 'category', items: [{ productId: 'X', score: 0.75, reason: 'trending in phones' }] });
    expect((await r.trending('garden', 5)).scope).toBe('overall');
  });

  it('per user: sim(a, b) = cooc(a, b) / cooc(a, a), weighted by the anchor recency; own recent products first', async () => {
    const store = storeWith([...base, view('A', T + 2 * H, 's9', 'me')]);
    const r = await new Recommender(store, P).forUser('me', 3);
    // cooc(A,A) at 2 h: 1·¼ + 1 + 1 = 2.25; cooc(A,C) = 1, cooc(A,B) = 0.25 → sim 4/9 and 1/9; anchor A is 0 h old: weight 1
    expect(r).toEqual({
      userId: 'me',
      strategy: 'personalised',
      items: [
        { productId: 'A', score: 1, reason: 'you viewed it recently' },
        { productId: 'C', score: Number((4 / 9).toPrecision(6)), reason: 'viewed together with A' },
        { productId: 'B', score: Number((1 / 9).toPrecision(6)), reason: 'viewed together with A' },
      ],
    });
  });

  it('per user: never recommends what the user bought; names "bought together" pairs', async () => {
    const store = storeWith([order('A', T, 's1'), order('B', T, 's1'), view('A', T, 's9', 'me'), order('A', T, 's9', 'me')]);
    const r = await new Recommender(store, P).forUser('me', 2);
    expect(r.items[0]).toEqual({ productId: 'B', score: expect.any(Number), reason: 'bought together with A' });
    expect(r.items.map((i) => i.productId)).not.toContain('A');
  });

  it('per user: without includeViewed the anchors are left out too', async () => {
    const params = { ...P, includeViewed: false };
    const store = storeWith([...base, view('A', T + 2 * H, 's9', 'me')], params);
    const r = await new Recommender(store, params).forUser('me', 2);
    expect(r.items.map((i) => i.productId)).toEqual(['C', 'B']);
  });

  it('per user: an unknown user gets trending', async () => {
    const r = await new Recommender(storeWith(base), P).forUser('stranger', 2);
    expect(r).toEqual({
      userId: 'stranger',
      strategy: 'trending',
      items: [
        { productId: 'A', score: 1.25, reason: 'trending overall' },
        { productId: 'C', score: 1, reason: 'trending overall' },
      ],
    });
  });

  it('an empty store answers empty lists, not errors', async () => {
    const r = new Recommender(new InMemoryRecStore(P), P);
    expect((await r.forUser('u', 5)).items).toEqual([]);
    expect((await r.similar('p', 5)).items).toEqual([]);
    expect((await r.trending(null, 5)).items).toEqual([]);
  });
});

describe('InMemoryRecStore', () => {
  it('keeps the top neighbours per product and the most recent products per user', async () => {
    const params = { ...P, neighbours: 2, userRecent: 2 };
    // X's own count is its top entry; of B, C, D the best one stays (C: two visits)
    const store = storeWith([view('X', T, 'a'), view('B', T, 'a'), view('X', T, 'b'), view('C', T, 'b'), view('X', T, 'c'), view('C', T, 'c'), view('X', T, 'd'), view('D', T, 'd', 'me')], params);
    const n = (await store.neighbours(['X'], 10)).get('X')!;
    expect(n.items.map((i) => [i.item, i.stored])).toEqual([
      ['X', 4],
      ['C', 2],
    ]);
    const s2 = storeWith([view('A', T, 's', 'me'), view('B', T + 1, 's', 'me'), view('C', T + 2, 's', 'me')], params);
    expect((await s2.user('me')).recent).toEqual([
      { item: 'C', t: T + 2 },
      { item: 'B', t: T + 1 },
    ]);
  });

  it('rebases a list far in the future of its epoch without changing values, dropping what decayed away', async () => {
    const store = storeWith([view('A', T, 's1'), view('B', T, 's1'), view('A', T + 33 * H, 's2'), view('C', T + 33 * H, 's2')]);
    const l = (await store.neighbours(['A'], 10)).get('A')!;
    expect(l.epoch).toBe(T + 33 * H);
    // at the new epoch the old visit (A's own 1, the pair with B) is worth 2^-33 ≈ 1.2e-10 < MIN_SCORE: dropped;
    // the new visit's A and C weigh 1 each (a tie: ZREVRANGE order, member descending)
    expect(l.items.map((i) => i.item)).toEqual(['C', 'A']);
    expect(l.items.find((i) => i.item === 'A')!.stored).toBeCloseTo(1, 9);
  });

  it('applies a batch with its fence, and refuses a stale one without writing', async () => {
    const store = new InMemoryRecStore(P);
    const ops = planEvents([view('A', T, 's')], new Map(), P).ops;
    expect(await store.apply({ partition: 1, expectedSeq: 0, newSeq: 5 }, ops)).toEqual({ status: 'applied' });
    expect(await store.apply({ partition: 1, expectedSeq: 0, newSeq: 5 }, ops)).toEqual({ status: 'conflict', lastSeq: 5 });
    expect((await store.trending(null, 5)).items).toEqual([{ item: 'A', stored: 1 }]);
    expect(await store.lastSeq(1)).toBe(5);
    expect(await store.lastSeq(2)).toBe(0);
  });
});
