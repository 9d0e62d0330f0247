import { DEFAULT_PARAMS, InMemoryRecStore, Recommender } from '@tidemark/recommend';
import { RecommendationProcessor } from './recommendation.processor';

const T = Date.UTC(2026, 0, 1);
const msg = (seq: number, e: unknown) => ({ seq, data: Buffer.from(typeof e === 'string' ? e : JSON.stringify(e)) });
const view = (p: string, s = 's1', u = 'u1') => ({ id: `${s}-${p}`, type: 'product_view', ts: T, userId: u, sessionId: s, productId: p });

async function snapshot(store: InMemoryRecStore) {
  const r = new Recommender(store, DEFAULT_PARAMS);
  return { a: await r.similar('A', 10), t: await r.trending(null, 10), u: await r.forUser('u1', 10), seq: await store.lastSeq(0) };
}

describe('RecommendationProcessor', () => {
  it('a redelivered batch changes nothing', async () => {
    const store = new InMemoryRecStore(DEFAULT_PARAMS);
    const p = new RecommendationProcessor(store, DEFAULT_PARAMS);
    const batch = [msg(1, view('A')), msg(2, view('B')), msg(3, view('C'))];
    expect(await p.process(batch, 0)).toMatchObject({ kind: 'applied', events: 3, interactions: 3 });
    const before = await snapshot(store);
    expect(before.a.items.map((i) => i.productId)).toEqual(['B', 'C']);
    expect(await p.process(batch, 0)).toEqual({ kind: 'replayed', events: 3, deadLetters: [] });
    // a fresh processor (after a restart) reads lastSeq from the store
    expect(await new RecommendationProcessor(store, DEFAULT_PARAMS).process(batch, 0)).toEqual({ kind: 'replayed', events: 3, deadLetters: [] });
    expect(await snapshot(store)).toEqual(before);
  });

  it('applies only the part of an overlapping redelivery after lastSeq', async () => {
    const once = new InMemoryRecStore(DEFAULT_PARAMS);
    await new RecommendationProcessor(once, DEFAULT_PARAMS).process([msg(1, view('A')), msg(2, view('B')), msg(3, view('C'))], 0);
    const twice = new InMemoryRecStore(DEFAULT_PARAMS);
    const p = new RecommendationProcessor(twice, DEFAULT_PARAMS);
    await p.process([msg(1, view('A')), msg(2, view('B'))], 0);
    expect(await p.process([msg(2, view('B')), msg(3, view('C'))], 0)).toMatchObject({ kind: 'applied', events: 1 });
    expect(await snapshot(twice)).toEqual(await snapshot(once));
  });

  it('dead-letters undecodable messages, also on a replay, and keeps their neighbours', async () => {
    const store = new InMemoryRecStore(DEFAULT_PARAMS);
    const p = new RecommendationProcessor(store, DEFAULT_PARAMS);
    const batch = [msg(1, view('A')), msg(2, '{oops'), msg(3, view('B'))];
    expect(await p.process(batch, 0)).toMatchObject({ kind: 'applied', events: 2, deadLetters: [{ seq: 2, reason: expect.stringMatching(/^not JSON/) }] });
    expect(await p.process(batch, 0)).toMatchObject({ kind: 'replayed', deadLetters: [{ seq: 2 }] });
    expect((await new Recommender(store, DEFAULT_PARAMS).similar('A', 5)).items.map((i) => i.productId)).toEqual(['B']);
  });

  it('retries, writing nothing, when another writer moved the partition on', async () => {
    const store = new InMemoryRecStore(DEFAULT_PARAMS);
    const p = new RecommendationProcessor(store, DEFAULT_PARAMS);
    await p.process([msg(1, view('A'))], 0);
    await store.apply({ partition: 0, expectedSeq: 1, newSeq: 5 }, []); // someone else applied 2..5
    expect(await p.process([msg(6, view('B'))], 0)).toEqual({ kind: 'retry', reason: 'partition 0: lastSeq is 5, expected 1' });
    expect((await store.trending(null, 5)).items.map((i) => i.item)).toEqual(['A']);
    expect(await p.process([msg(6, view('B'))], 0)).toMatchObject({ kind: 'applied' });
  });
});
