import fc from 'fast-check';
import type { TidemarkEvent } from '@tidemark/contracts';
import { DEFAULT_PARAMS, InMemoryRecStore, RecParams } from '@tidemark/recommend';
import { Baselines, TopCounter, evaluateBasket, evaluateNextItem, jsonOf } from './eval-session';

const T = Date.UTC(2019, 9, 1);
let n = 0;
const ev = (type: 'product_view' | 'add_to_cart', s: string, p: string, ts: number, c?: string): TidemarkEvent => ({ id: `e${n++}`, type, ts, userId: `u-${s}`, sessionId: s, productId: p, ...(c ? { categoryId: c } : {}) });
const view = (s: string, p: string, ts = T, c?: string) => ev('product_view', s, p, ts, c);

describe('TopCounter', () => {
  it('its top k equals a full sort of the counts, whatever the exclusions (property)', () => {
    fc.assert(
      fc.property(fc.array(fc.integer({ min: 0, max: 30 }), { maxLength: 300 }), fc.integer({ min: 1, max: 8 }), fc.array(fc.integer({ min: 0, max: 30 }), { maxLength: 10 }), (incs, size, ex) => {
        const t = new TopCounter(size);
        for (const i of incs) t.inc(`p${i}`);
        const exclude = new Set(ex.map((i) => `p${i}`));
        const got = t.top(5, exclude);
        const want = [...t.counts].filter(([p]) => !exclude.has(p)).sort((a, b) => b[1] - a[1]);
        expect(got.map((p) => t.counts.get(p))).toEqual(want.slice(0, 5).map(([, c]) => c));
      }),
    );
  });
});

describe('Baselines (hand-computed)', () => {
  const b = new Baselines();
  for (const e of [view('s1', 'A', T, 'x'), view('s1', 'B', T, 'x'), view('s2', 'A', T, 'x'), view('s2', 'C', T, 'y'), view('s3', 'C', T, 'y'), view('s3', 'D', T, 'y'), view('s4', 'C', T, 'y')]) b.add(e);
  it('popularity, category popularity (then overall), plain co-occurrence of the last product (then popularity)', () => {
    expect(b.recommend('popularity', 'A', 2, new Set())).toEqual(['C', 'A']);
    expect(b.recommend('category-popularity', 'B', 3, new Set(['B']))).toEqual(['A', 'C', 'D']); // x: A 2 (B excluded), then overall
    expect(b.recommend('cooccurrence', 'A', 3, new Set(['A']))).toEqual(['B', 'C', 'D']); // A with B 1, C 1 (ties by id), then popularity
    expect(b.recommend('cooccurrence', 'C', 1, new Set())).toEqual(['A']); // C with A 1, D 1: ties by id
  });
});

describe('evaluateNextItem (hand-computed)', () => {
  const P: RecParams = { ...DEFAULT_PARAMS };
  it('scores each view of a visit that moves to another product, before applying it; seen excluded only for new products', async () => {
    const log = [view('s1', 'A', T), view('s1', 'B', T + 1), view('s2', 'A', T + 2), view('s2', 'B', T + 3), view('s2', 'A', T + 4), view('s2', 'A', T + 5)];
    const r = await evaluateNextItem(log, [{ name: 'service', store: new InMemoryRecStore(P), params: P }], 10, 0);
    const row = (name: string, seen: boolean) => r.rows.find((x) => x.name === name && x.seenExcluded === seen)!;
    // targets: s1 B (new), s2 B (new), s2 A again (seen: included protocol only); the repeat A is no move
    expect([row('service', true).targets, row('service', false).targets]).toEqual([2, 3]);
    // s1's B: never seen before, a miss for everyone; s2's B: A → B learned from s1, a hit at rank 1
    expect(row('cooccurrence', true)).toMatchObject({ hits: 1, hr: 0.5, mrr: 0.5 });
    expect(row('service', true)).toMatchObject({ hits: 1, hr: 0.5, mrr: 0.5 });
    expect(row('popularity', true)).toMatchObject({ hits: 1, hr: 0.5 }); // s2's B: popularity {A: 2, B: 1}, A excluded → B first
    // seen included: s2's return to A (only B, the last, left out): A is everyone's first
    expect(row('popularity', false)).toMatchObject({ hits: 2, mrr: 2 / 3 });
    expect(r.products).toBe(2);
    expect(row('popularity', true).coverage).toBe(0.5); // only B was ever shown with seen excluded
    const json = jsonOf(r) as { task: string; k: number; rows: object[] };
    expect(json.task).toBe('next-item');
    expect(json.rows[0]).toEqual({ name: 'service', seenExcluded: true, hr: 0.5, mrr: 0.5, coverage: expect.any(Number) });
  });

  it('basket: leaves one line of each order of 2+ products out and asks with the rest applied', async () => {
    const cart = (s: string, p: string) => ev('add_to_cart', s, p, T);
    const log = [cart('o1', 'A'), cart('o1', 'B'), cart('o2', 'A'), cart('o2', 'B'), cart('o3', 'C')];
    const r = await evaluateBasket(log, [{ name: 'service', store: new InMemoryRecStore(P), params: P }], 10, 0);
    const row = (name: string) => r.rows.find((x) => x.name === name && x.seenExcluded)!;
    expect(row('service').targets).toBe(2); // o3 has one line
    // o1: the line left out was never seen: a miss for everyone; o2: learned from o1, a hit
    expect([row('cooccurrence').hits, row('service').hits, row('popularity').hits]).toEqual([1, 1, 1]);
  });
});
