import { DEFAULT_PARAMS, RecParams } from './params';
import { planEvents, sessionsOf } from './planner';
import { Recommender, anchorWeight } from './recommender';
import { InMemoryRecStore, checkpointOps } from './store';

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

  it('writes a checkpoint with its fence, and refuses a stale one without writing (dropping what it held)', async () => {
    const store = new InMemoryRecStore(P);
    const ops = planEvents([view('A', T, 's')], new Map(), P).ops;
    expect(await checkpointOps(store, { partition: 1, expectedSeq: 0, newSeq: 5 }, ops)).toEqual({ status: 'ok' });
    expect(store.writer(1).empty).toBe(true);
    expect(await checkpointOps(store, { partition: 1, expectedSeq: 0, newSeq: 5 }, ops)).toEqual({ status: 'conflict', lastSeq: 5 });
    expect([store.writer(1).empty, store.writer(1).windows.size]).toEqual([true, 0]);
    expect((await store.trending(null, 5)).items).toEqual([{ item: 'A', stored: 1 }]);
    // a restore drops what was planned and not checkpointed
    const w = store.writer(1);
    for (const o of planEvents([view('B', T, 's2')], new Map(), P).ops) if (o.op === 'session') w.onSession(o.sessionId, o.items);
    expect(w.windows.has('s2')).toBe(true);
    expect(await store.restore(1)).toBe(5);
    expect([store.writer(1).empty, store.writer(1).windows.size]).toEqual([true, 0]);
    expect(await store.lastSeq(1)).toBe(5);
    expect(await store.lastSeq(2)).toBe(0);
  });
});

describe('Recommender.forSession (hand-computed)', () => {
  const only = (...on: (keyof RecParams['signals'])[]): RecParams => ({ ...P, signals: { neighbours: on.includes('neighbours'), sequence: on.includes('sequence'), knn: on.includes('knn'), category: on.includes('category') } });
  const visit = (s: string, ps: string[], t = T) => ps.map((p) => view(p, t, s));
  const ids = (r: { items: { productId: string }[] }) => r.items.map((i) => i.productId);

  it('neighbours: Σ over anchors of anchorWeight(i) · cooc(a, b) / cooc(a, a), scaled to a best of 1', async () => {
    const p = only('neighbours');
    // A's visits: s1 (B), s2 (C), s3 (B) and the current one: cooc(A, A) = 4, cooc(A, B) = 2, cooc(A, C) = 1.
    // D's: s4 (C), s5 (C) and the current one: cooc(D, D) = 3, cooc(D, C) = 2. The current visit: D, then A.
    const store = storeWith([...visit('s1', ['A', 'B']), ...visit('s2', ['A', 'C']), ...visit('s3', ['A', 'B']), ...visit('s4', ['D', 'C']), ...visit('s5', ['D', 'C']), ...visit('now', ['D', 'A'])], p);
    // anchors A (weight 1), D (1/2): B = 2/4 = 0.5; C = 1/4 + 1/2 · 2/3 = 0.58333 → C 1, B 0.5 / 0.58333
    expect(await new Recommender(store, p).forSession('now', 2)).toEqual({
      sessionId: 'now',
      strategy: 'session',
      items: [
        { productId: 'C', score: 1, reason: 'viewed together with D' },
        { productId: 'B', score: 0.857143, reason: 'viewed together with A' },
      ],
    });
    expect(anchorWeight(0)).toBe(1);
    expect(anchorWeight(2)).toBeCloseTo(1 / 3, 12);
  });

  it('sequence: rule(a → b) / rule(a, a), the rules counting 1/d for b within seqSteps after a', async () => {
    const p = only('sequence');
    // s1: A, B, C → A→B 1, A→C 1/2, B→C 1; s2: A, C → A→C + 1; the current visit: A. A's own count 3.
    const store = storeWith([...visit('s1', ['A', 'B', 'C']), ...visit('s2', ['A', 'C']), ...visit('now', ['A'])], p);
    expect(await new Recommender(store, p).forSession('now', 2)).toEqual({
      sessionId: 'now',
      strategy: 'session',
      items: [
        { productId: 'C', score: 1, reason: 'often next after A' }, // 1.5 / 3
        { productId: 'B', score: 0.666667, reason: 'often next after A' }, // 1 / 3, scaled by 1 / 0.5
      ],
    });
  });

  it('knn: the visits sharing the anchors, sim = Σ shared anchorWeight / √|visit|; their other products score Σ sim', async () => {
    const p = only('knn');
    const store = storeWith([...visit('s1', ['A', 'B']), ...visit('s2', ['A', 'C', 'E']), ...visit('s3', ['F', 'G']), ...visit('now', ['A'])], p);
    // s1: 1/√2, s2: 1/√3; s3 shares nothing. B = 0.70711, C = E = 0.57735 → B 1, C and E 0.816497
    const r = await new Recommender(store, p).forSession('now', 3);
    expect(r.items).toEqual([
      { productId: 'B', score: 1, reason: 'in similar visits' },
      { productId: 'C', score: 0.816497, reason: 'in similar visits' },
      { productId: 'E', score: 0.816497, reason: 'in similar visits' },
    ]);
    // the read: posting lists of the anchors, the current visit left out, best first
    const ctx = await store.sessionContext({ sessionId: 'now', anchors: 5, neighbours: 0, sequences: 0, knnVisits: 10, knnNeighbours: 1, trending: 0 });
    expect(ctx.visits).toEqual([{ sessionId: 's1', items: [{ p: 'A', l: 1, t: T }, { p: 'B', l: 1, t: T }] }]); // a tie on anchors shared and on time: the smaller id
  });

  it('signals add up, each scaled to a best of 1; seen products are left out unless excludeSeen is false (then only the last one)', async () => {
    const p = only('neighbours', 'sequence');
    const store = storeWith([...visit('s1', ['A', 'B']), ...visit('s2', ['B', 'C']), ...visit('now', ['B', 'A'])], p);
    const rec = new Recommender(store, p);
    // seen excluded: B and A out; C comes from B (neighbours 1/2 · 1/2 → 1 after scaling; rules B→C 1/2 · 1/2 → 1): 2
    expect((await rec.forSession('now', 1)).items).toEqual([{ productId: 'C', score: 2, reason: 'viewed together with B' }]);
    // seen included: B (the anchor before the last) is a candidate through A's lists
    expect(ids(await rec.forSession('now', 2, { excludeSeen: false }))).toEqual(['B', 'C']);
  });

  it('category: trending in the anchors’ categories fills the rest (most recent anchor first), then overall; off: overall only', async () => {
    const events = [view('T1', T, 'x1', 'u', 'tv'), view('T1', T, 'x2', 'u', 'tv'), view('P1', T, 'x3', 'u', 'phones'), view('Q', T, 'x4', 'u', 'toys'), view('Q', T, 'x5', 'u', 'toys'), view('Q', T, 'x6', 'u', 'toys'), view('A', T, 'now', 'me', 'phones')];
    const on = only('category');
    const r = await new Recommender(storeWith(events, on), on).forSession('now', 3);
    expect(r).toEqual({
      sessionId: 'now',
      strategy: 'trending',
      items: [
        { productId: 'P1', score: 1, reason: 'trending in phones' },
        { productId: 'Q', score: 3, reason: 'trending overall' },
        { productId: 'T1', score: 2, reason: 'trending overall' },
      ],
    });
    const off = only();
    expect(ids(await new Recommender(storeWith(events, off), off).forSession('now', 3))).toEqual(['Q', 'T1', 'P1']);
  });

  it('a visit never seen gets trending overall', async () => {
    const store = storeWith(visit('s1', ['A', 'B', 'A']));
    const r = await new Recommender(store, P).forSession('nobody', 2);
    expect(r).toEqual({ sessionId: 'nobody', strategy: 'trending', items: [{ productId: 'A', score: 2, reason: 'trending overall' }, { productId: 'B', score: 1, reason: 'trending overall' }] });
  });
});
