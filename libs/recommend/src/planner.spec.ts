import fc from 'fast-check';
import type { RecOp, SessionItem } from './ops';
import { DEFAULT_PARAMS, Level, RecParams } from './params';
import { planEvents, planInteractions, sessionsOf } from './planner';
import { InMemoryRecStore } from './store';

const P: RecParams = { ...DEFAULT_PARAMS, weights: { view: 1, cart: 3, purchase: 5 } };
const T = Date.UTC(2026, 0, 1);
const view = (p: string, t = T, s = 's1', u = 'u1', c?: string) => ({ type: 'product_view', id: `v-${p}-${t}`, ts: t, userId: u, sessionId: s, productId: p, ...(c ? { categoryId: c } : {}) });
const cart = (p: string, t = T, s = 's1', u = 'u1') => ({ type: 'add_to_cart', id: `c-${p}-${t}`, ts: t, userId: u, sessionId: s, productId: p });
const order = (ps: string[], t = T, s = 's1', u = 'u1') => ({ type: 'order_placed', id: `o-${t}`, ts: t, userId: u, sessionId: s, orderId: 'o', amount: 1, items: ps.map((productId) => ({ productId, price: 1, quantity: 1 })) });

/** Runs events through plan + apply one batch at a time, like the service (sessions read from the store first). */
function run(batches: unknown[][], params = P): { store: InMemoryRecStore; ops: RecOp[] } {
  const store = new InMemoryRecStore(params);
  const ops: RecOp[] = [];
  for (const b of batches) {
    const plan = planEvents(b, store.sessionsSync(sessionsOf(b)), params);
    ops.push(...plan.ops);
    store.applyOps(plan.ops);
  }
  return { store, ops };
}

const pairs = (ops: RecOp[]) => ops.filter((o): o is Extract<RecOp, { op: 'pair' }> => o.op === 'pair').map((o) => `${o.a}>${o.b}:${o.w}@${o.level}`);

describe('planner: co-occurrence within a visit', () => {
  it('a visit contributes W[min(level x, level y)] to a pair, once (hand-computed)', () => {
    const { ops } = run([[view('A'), view('B'), view('A'), cart('B'), order(['A']), order(['B'])]]);
    expect(pairs(ops)).toEqual([
      'A>A:1@1', // A viewed: its own visit count
      'B>B:1@1', // B viewed
      'B>A:1@1',
      'A>B:1@1', // A and B viewed together: W[view] = 1
      // A viewed again: nothing
      'B>B:2@2', // B carted: its own count rises to W[cart] = 3; the pair stays min(view, cart) = view
      'A>A:4@3', // A bought: own count 1 → 5
      'A>B:2@2',
      'B>A:2@2', // pair: min(purchase, cart) = cart: 1 → 3
      'B>B:2@3', // B bought: own 3 → 5
      'B>A:2@3',
      'A>B:2@3', // pair: min(purchase, purchase): 3 → 5
    ]);
    const total = (a: string, b: string) => ops.filter((o) => o.op === 'pair' && o.a === a && o.b === b).reduce((s, o) => s + (o as { w: number }).w, 0);
    expect([total('A', 'B'), total('B', 'A'), total('A', 'A'), total('B', 'B')]).toEqual([5, 5, 5, 5]);
  });

  it('pairs only within the visit window of the most recent distinct products', () => {
    const { ops } = run([[view('A'), view('B'), view('C'), view('D')]], { ...P, sessionWindow: 2 });
    expect(pairs(ops).filter((p) => !/^(\w)>\1/.test(p))).toEqual(['B>A:1@1', 'A>B:1@1', 'C>A:1@1', 'A>C:1@1', 'C>B:1@1', 'B>C:1@1', 'D>B:1@1', 'B>D:1@1', 'D>C:1@1', 'C>D:1@1']);
  });

  it('keeps a visit window across batches (read back from the store) and never pairs across visits', () => {
    const { ops, store } = run([[view('A')], [view('B'), view('X', T, 's2')], [cart('B')]]);
    expect(pairs(ops).filter((p) => !/^(\w)>\1/.test(p))).toEqual(['B>A:1@1', 'A>B:1@1']);
    expect(store.sessionsSync(['s1']).get('s1')).toEqual<SessionItem[]>([
      { p: 'A', l: 1, t: T },
      { p: 'B', l: 2, t: T },
    ]);
  });

  it('emits trending, seen, bought, category and clock ops', () => {
    const plan = planInteractions([{ userId: 'u', sessionId: 's', productId: 'A', categoryId: 'shoes', level: 3, ts: T + 5 }], new Map(), P);
    expect(plan.ops).toEqual([
      { op: 'pair', a: 'A', b: 'A', w: 5, t: T + 5, level: 3 },
      { op: 'seq', a: 'A', b: 'A', w: 1, t: T + 5 },
      { op: 'visit', item: 'A', sessionId: 's', t: T + 5 },
      { op: 'trend', item: 'A', category: 'shoes', w: 5, t: T + 5 },
      { op: 'seen', user: 'u', item: 'A', t: T + 5 },
      { op: 'bought', user: 'u', item: 'A', t: T + 5 },
      { op: 'category', item: 'A', category: 'shoes', t: T + 5 },
      { op: 'session', sessionId: 's', items: [{ p: 'A', l: 3, t: T + 5 }] },
      { op: 'clock', t: T + 5 },
    ]);
  });

  it('sequential rules: a product entering the visit gets y → x with 1/d from the seqSteps products before it, and counts itself (hand-computed)', () => {
    const rules = (ops: RecOp[]) => ops.filter((o): o is Extract<RecOp, { op: 'seq' }> => o.op === 'seq').map((o) => `${o.a}>${o.b}:${+o.w.toFixed(3)}`);
    const { ops } = run([[view('A'), view('B'), view('C'), view('B'), cart('C'), view('D')]], { ...P, seqSteps: 2 });
    expect(rules(ops)).toEqual([
      'A>A:1',
      'B>B:1',
      'A>B:1',
      'C>C:1',
      'B>C:1',
      'A>C:0.5',
      // B again, C carted: nothing (not new to the visit); the window's order is now A, B, C (C touched last)
      'D>D:1',
      'C>D:1',
      'B>D:0.5',
    ]);
    // visits: one posting per product entering the visit
    expect(ops.filter((o) => o.op === 'visit').map((o) => (o as { item: string }).item)).toEqual(['A', 'B', 'C', 'D']);
  });

  it('a switched-off signal costs no state: no rules without sequence, no postings without knn', () => {
    const { ops } = run([[view('A'), view('B')]], { ...P, signals: { ...P.signals, sequence: false, knn: false } });
    expect(ops.some((o) => o.op === 'seq' || o.op === 'visit')).toBe(false);
  });

  it('per event, bounded work: at most 2·sessionWindow + 1 pairs, seqSteps + 1 rules and one posting (property)', () => {
    fc.assert(
      fc.property(fc.array(fc.record({ p: fc.constantFrom('A', 'B', 'C', 'D', 'E', 'F', 'G'), l: fc.constantFrom<Level>(1, 2, 3) }), { maxLength: 40 }), fc.integer({ min: 1, max: 5 }), fc.integer({ min: 1, max: 4 }), (xs, win, steps) => {
        const params = { ...P, sessionWindow: win, seqSteps: steps };
        let windows = new Map<string, SessionItem[]>();
        for (const x of xs) {
          const plan = planInteractions([{ userId: 'u', sessionId: 's', productId: x.p, level: x.l, ts: T }], windows, params);
          const count = (op: string) => plan.ops.filter((o) => o.op === op).length;
          expect(count('pair')).toBeLessThanOrEqual(2 * win + 1);
          expect(count('seq')).toBeLessThanOrEqual(steps + 1);
          expect(count('visit')).toBeLessThanOrEqual(1);
          windows = plan.sessions;
        }
      }),
    );
  });

  it('ignores events that say nothing about products, and malformed ones', () => {
    const plan = planEvents([{ type: 'page_view', ts: T, userId: 'u', sessionId: 's' }, { type: 'product_view', ts: 'x' }, null, 7, { type: 'payment_succeeded', ts: T, userId: 'u', sessionId: 's', orderId: 'o' }], new Map(), P);
    expect(plan.ops).toEqual([]);
  });

  it('the order of visits does not change any score (property)', () => {
    const H = 3_600_000;
    const arb = fc.array(
      fc.record({ s: fc.constantFrom('s1', 's2', 's3'), p: fc.constantFrom('A', 'B', 'C', 'D'), l: fc.constantFrom<Level>(1, 2, 3), dt: fc.integer({ min: 0, max: 10 * H }) }),
      { maxLength: 30 },
    );
    fc.assert(
      fc.asyncProperty(arb, fc.integer(), async (xs, seed) => {
        const inter = xs.map((x) => ({ userId: 'u-' + x.s, sessionId: x.s, productId: x.p, level: x.l, ts: T + x.dt }));
        // visits interleaved differently: keep each visit's own order, shuffle which visit goes next
        const bySession = new Map<string, typeof inter>();
        for (const i of inter) bySession.set(i.sessionId, [...(bySession.get(i.sessionId) ?? []), i]);
        const queues = [...bySession.values()].map((q) => [...q]);
        let r = seed;
        const shuffled: typeof inter = [];
        while (queues.some((q) => q.length)) {
          r = (r * 1103515245 + 12345) & 0x7fffffff;
          const live = queues.filter((q) => q.length);
          shuffled.push(live[r % live.length].shift()!);
        }
        const a = new InMemoryRecStore(P);
        a.applyOps(planInteractions(inter, new Map(), P).ops);
        const b = new InMemoryRecStore(P);
        b.applyOps(planInteractions(shuffled, new Map(), P).ops);
        for (const p of ['A', 'B', 'C', 'D']) {
          const [la, lb] = [(await a.neighbours([p], 10)).get(p)!, (await b.neighbours([p], 10)).get(p)!];
          const value = (l: typeof la) => new Map(l.items.map((i) => [i.item, (i.stored * Math.pow(2, (l.epoch! - T) / P.coocHalfLifeMs)).toFixed(9)]));
          expect(value(lb)).toEqual(value(la));
        }
      }),
    );
  });

  it('equals a brute-force count: Σ over visits of W[min(highest level of x, highest level of y)] (property)', async () => {
    const arb = fc.array(
      fc.record({ s: fc.constantFrom('s1', 's2', 's3', 's4'), p: fc.constantFrom('A', 'B', 'C', 'D', 'E'), l: fc.constantFrom<Level>(1, 2, 3) }),
      { maxLength: 40 },
    );
    await fc.assert(
      fc.asyncProperty(arb, fc.integer({ min: 1, max: 7 }), async (xs, batchSize) => {
        // the brute force: each visit's highest level per product, at the end
        const top = new Map<string, Map<string, Level>>();
        for (const x of xs) {
          const v = top.get(x.s) ?? top.set(x.s, new Map()).get(x.s)!;
          v.set(x.p, Math.max(v.get(x.p) ?? 0, x.l) as Level);
        }
        const W = (l: Level) => [0, 1, 3, 5][l];
        const expected = (a: string, b: string) => {
          let sum = 0;
          for (const v of top.values()) if (v.has(a) && v.has(b)) sum += W(Math.min(v.get(a)!, v.get(b)!) as Level);
          return sum;
        };
        // the planner, in batches of any size, visits' windows read back from the store in between
        const store = new InMemoryRecStore(P);
        const inter = xs.map((x) => ({ userId: 'u', sessionId: x.s, productId: x.p, level: x.l, ts: T }));
        for (let i = 0; i < inter.length; i += batchSize) {
          const batch = inter.slice(i, i + batchSize);
          store.applyOps(planInteractions(batch, store.sessionsSync([...new Set(batch.map((b) => b.sessionId))]), P).ops);
        }
        for (const a of ['A', 'B', 'C', 'D', 'E']) {
          const got = new Map(((await store.neighbours([a], 10)).get(a)?.items ?? []).map((i) => [i.item, i.stored]));
          for (const b of ['A', 'B', 'C', 'D', 'E']) expect([a, b, got.get(b) ?? 0]).toEqual([a, b, expected(a, b)]);
        }
        const trending = new Map((await store.trending(null, 10)).items.map((i) => [i.item, i.stored]));
        for (const p of ['A', 'B', 'C', 'D', 'E']) expect(trending.get(p) ?? 0).toBe(xs.filter((x) => x.p === p).reduce((s, x) => s + W(x.l), 0));
      }),
    );
  });
});
