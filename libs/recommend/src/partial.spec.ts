import fc from 'fast-check';
import { valueAt } from './decay';
import type { Interaction } from './interactions';
import { type RecOp, type SessionItem, replay } from './ops';
import { DEFAULT_PARAMS, Level, RecParams } from './params';
import { MemoryPartialSource, PartialReader, RecPartial, decodeDecayed, decodeUser, mergeDecayed, mergeDecayedFields, mergeLatest, trendingField } from './partial';
import { planInteractions } from './planner';
import { Recommender } from './recommender';
import { InMemoryRecStore, StoredList } from './store';

const T = Date.UTC(2026, 0, 1);
const H = 1000;

const PRODUCTS = ['A', 'B', 'C', 'D', 'E', 'F', 'G'];
const CATEGORY: Record<string, string> = { A: 'x', B: 'x', C: 'y', D: 'y', E: 'z', F: 'z', G: 'x' };
const SESSIONS = ['s0', 's1', 's2', 's3', 's4', 's5'];
const USERS = ['u0', 'u1', 'u2'];

const interaction = (maxDt: number) =>
  fc.record({
    userId: fc.constantFrom(...USERS),
    sessionId: fc.constantFrom(...SESSIONS),
    productId: fc.constantFrom(...PRODUCTS),
    level: fc.constantFrom<Level>(1, 1, 1, 2, 3),
    dt: fc.integer({ min: 0, max: maxDt }),
  });

type Gen = { userId: string; sessionId: string; productId: string; level: Level; dt: number };

/**
 * Batches of interactions through `parts` partitions (a visit's partition: its index mod parts), each
 * partition planning against its own windows straight into its partial, and checkpointing every other batch
 * (trimming and encoding the fields changed, as the store does); and the same ops applied to one shared
 * in-memory store, batch by batch.
 */
function build(batches: Gen[][], params: RecParams, parts: number) {
  const partials = Array.from({ length: parts }, () => new RecPartial(params));
  const windows = Array.from({ length: parts }, () => new Map<string, SessionItem[]>());
  const shared = new InMemoryRecStore(params);
  for (const [i, batch] of batches.entries()) {
    for (let p = 0; p < parts; p++) {
      const mine: Interaction[] = batch
        .filter((x) => SESSIONS.indexOf(x.sessionId) % parts === p)
        .map(({ dt, ...x }) => ({ ...x, categoryId: CATEGORY[x.productId], ts: T + dt }));
      if (mine.length === 0) continue;
      const plan = planInteractions(mine, windows[p], params);
      for (const [id, w] of plan.sessions) windows[p].set(id, w);
      replay(plan.ops, partials[p]);
      shared.applyOps(plan.ops);
    }
    if (i % 2 === 1 || i === batches.length - 1) {
      for (let p = 0; p < parts; p++) {
        partials[p].changes().encode(); // as a checkpoint does
        partials[p].committed();
      }
    }
  }
  const all = new Map<string, SessionItem[]>();
  for (const w of windows) for (const [id, items] of w) all.set(id, items);
  const reader = new PartialReader(new MemoryPartialSource(partials, (ids) => new Map(ids.filter((id) => all.has(id)).map((id) => [id, all.get(id)!]))), params);
  return { partials, shared, reader };
}

/** Values of a list at `now` by member (epochs differ between a merged and a shared list). */
function values(l: StoredList, now: number, h: number): Map<string, number> {
  return new Map(l.items.map((x) => [x.item, valueAt(x.stored, l.epoch!, now, h)]));
}

function expectClose(a: Map<string, number>, b: Map<string, number>) {
  expect([...a.keys()].sort()).toEqual([...b.keys()].sort());
  for (const [k, v] of a) expect(Math.abs(v - b.get(k)!)).toBeLessThanOrEqual(1e-9 * Math.max(1, Math.abs(v)));
}

/** Ops planned into a partial and checkpointed (trimmed, swept, encoded); the fields the checkpoint writes. */
function checkpoint(partial: RecPartial, ops: readonly RecOp[]) {
  replay(ops, partial);
  const fields = partial.changes().encode();
  partial.committed();
  return fields;
}

describe('partials (hand-computed)', () => {
  it('merges decayed partials at the latest epoch, summing members and keeping the highest level', () => {
    const a: StoredList = { epoch: T, items: [{ item: 'X', stored: 4, level: 2 }, { item: 'Y', stored: 1 }] };
    const b: StoredList = { epoch: T + 2 * H, items: [{ item: 'X', stored: 1 }, { item: 'Z', stored: 3, level: 3 }] };
    // a's numbers at epoch T + 2h: × 1/4
    expect(mergeDecayed([a, b, { epoch: null, items: [] }], H, 10)).toEqual({
      epoch: T + 2 * H,
      items: [
        { item: 'Z', stored: 3, level: 3 },
        { item: 'X', stored: 2, level: 2 },
        { item: 'Y', stored: 0.25 },
      ],
    });
    expect(mergeDecayed([a, b], H, 1).items).toEqual([{ item: 'Z', stored: 3, level: 3 }]);
    expect(mergeDecayed([{ epoch: null, items: [] }], H, 5)).toEqual({ epoch: null, items: [] });
  });

  it('merges latest sets: the latest time per member, newest first, ties by member descending', () => {
    expect(
      mergeLatest(
        [
          [
            { item: 'a', stored: 5 },
            { item: 'b', stored: 1 },
          ],
          [
            { item: 'b', stored: 7 },
            { item: 'c', stored: 5 },
          ],
        ],
        2,
      ),
    ).toEqual([
      { item: 'b', stored: 7 },
      { item: 'c', stored: 5 },
    ]);
  });

  it('a partial encodes one field per product, user and list; a checkpoint names the fields it changed', () => {
    const params: RecParams = { ...DEFAULT_PARAMS, coocHalfLifeMs: H, trendingHalfLifeMs: H };
    const partial = new RecPartial(params);
    const plan = planInteractions(
      [
        { userId: 'u', sessionId: 's', productId: 'A', categoryId: 'c', level: 1, ts: T },
        { userId: 'u', sessionId: 's', productId: 'B', categoryId: 'c', level: 3, ts: T + H },
      ],
      new Map(),
      params,
    );
    const ch = checkpoint(partial, plan.ops);
    expect(ch.nb.set.map(([f]) => f).sort()).toEqual(['A', 'B']);
    expect(ch.tr.set.map(([f]) => f).sort()).toEqual(['*', 'c:c']);
    expect(ch.u.set.map(([f]) => f)).toEqual(['u']);
    expect(new Map(ch.nb.set)).toEqual(new Map([['A', partial.encoded('nb', 'A')], ['B', partial.encoded('nb', 'B')]]));
    // A's list: itself 1 at T, B 1 at T + H (relative to A's epoch T: 2), level 1 (min of view and purchase);
    // members in no particular order
    const a = decodeDecayed(partial.encoded('nb', 'A')!, true);
    expect([a.list.epoch, a.t, a.category]).toEqual([T, T + H, 'c']);
    expect(a.list.items.sort((x, y) => (x.item < y.item ? -1 : 1))).toEqual([
      { item: 'A', stored: 1 },
      { item: 'B', stored: 2 },
    ]);
    const u = decodeUser(partial.encoded('u', 'u')!);
    expect(u.t).toBe(T + H);
    expect(new Map(u.recent.map((x) => [x.item, x.stored]))).toEqual(new Map([['A', T], ['B', T + H]]));
    expect(u.bought).toEqual([{ item: 'B', stored: T + H }]);
    expect(mergeDecayedFields([partial.encoded('tr', trendingField(null))], H, 10).items.map((i) => i.item)).toEqual(['B', 'A']);
    expect(partial.clock).toBe(T + H);
  });

  it('takes the planner ops as they come; a checkpoint not committed is written again whole, with what came after it', () => {
    const params: RecParams = { ...DEFAULT_PARAMS, coocHalfLifeMs: H, trendingHalfLifeMs: H };
    const partial = new RecPartial(params);
    const ops = (p: string, s: string, t: number) => planInteractions([{ userId: 'u', sessionId: s, productId: p, categoryId: 'c', level: 1, ts: t }], new Map(), params).ops;
    expect([partial.empty, partial.windows.size]).toEqual([true, 0]);
    replay(ops('A', 's1', T), partial);
    expect(partial.empty).toBe(false);
    expect([...partial.windows]).toEqual([['s1', [{ p: 'A', l: 1, t: T }]]]);
    const first = partial.changes().encode();
    expect(first.nb.set.map(([f]) => f)).toEqual(['A']);
    // not committed (Redis did not answer): the same fields again, and B's with them
    replay(ops('B', 's2', T + H), partial);
    const again = partial.changes().encode();
    expect(again.nb.set.map(([f]) => f).sort()).toEqual(['A', 'B']);
    expect(again.nb.set.find(([f]) => f === 'A')![1]).toEqual(first.nb.set[0][1]);
    expect([...partial.windows.keys()]).toEqual(['s1', 's2']);
    const written = partial.windows;
    partial.committed();
    expect([partial.empty, partial.windows.size, written.size]).toEqual([true, 0, 2]); // the written windows stay with the caller
    const none = partial.changes().encode();
    expect(Object.values(none).map((x) => x.set.length + x.del.length)).toEqual([0, 0, 0, 0, 0]);
    // a category seen later moves the field's time (the product touched last in this partition)
    replay([{ op: 'category', item: 'A', category: 'd', t: T + 5 * H }], partial);
    const a = decodeDecayed(checkpoint(partial, []).nb.set[0][1], true);
    expect([a.category, a.t]).toEqual(['d', T + 5 * H]);
  });

  it("a list's field follows its changes: a changed member, a trimmed one, a rebase", () => {
    const params: RecParams = { ...DEFAULT_PARAMS, coocHalfLifeMs: H, trendingHalfLifeMs: H, trendingSize: 2 };
    const partial = new RecPartial(params);
    const view = (p: string, t: number) => planInteractions([{ userId: 'u', sessionId: `s${t}`, productId: p, categoryId: 'c', level: 1, ts: t }], new Map(), params).ops;
    const overall = () => decodeDecayed(partial.encoded('tr', trendingField(null))!, false).list;
    const byItem = (l: StoredList) => Object.fromEntries(l.items.map((x) => [x.item, x.stored]));
    checkpoint(partial, view('A', T));
    checkpoint(partial, view('B', T + H));
    expect(byItem(overall())).toEqual({ A: 1, B: 2 });
    checkpoint(partial, view('A', T + H)); // A changes, B does not
    expect(byItem(overall())).toEqual({ A: 3, B: 2 });
    checkpoint(partial, view('C', T + 2 * H)); // C (4) in, B (2) trimmed out
    expect(byItem(overall())).toEqual({ A: 3, C: 4 });
    checkpoint(partial, view('C', T + 40 * H)); // far past the epoch: rebased, every member rescaled (the old ones drop below MIN_SCORE)
    const l = overall();
    expect(l.epoch).toBe(T + 40 * H);
    expect(byItem(l)).toEqual({ C: 1 });
    expect(byItem(l)).toEqual(byItem(partial.tr.get(trendingField(null))!.list.top(10)));
  });

  it('expires fields by event-time age against the partition clock, overall trending never', () => {
    const params: RecParams = { ...DEFAULT_PARAMS };
    const partial = new RecPartial(params, { itemMs: 10 * H, userMs: 5 * H });
    const at = (t: number, u: string, p: string, c: string) => planInteractions([{ userId: u, sessionId: `s-${t}`, productId: p, categoryId: c, level: 1, ts: t }], new Map(), params).ops;
    checkpoint(partial, at(T, 'u1', 'A', 'x'));
    checkpoint(partial, at(T + 6 * H, 'u2', 'B', 'y'));
    expect([...partial.u.keys()]).toEqual(['u2']); // u1 was 6 s old, past 5 s
    expect([...partial.nb.keys()].sort()).toEqual(['A', 'B']);
    const ch = checkpoint(partial, at(T + 11 * H, 'u2', 'B', 'y'));
    expect(ch.nb.del).toEqual(['A']);
    expect(ch.tr.del).toEqual(['c:x']);
    expect([...partial.tr.keys()].sort()).toEqual(['*', 'c:y']);
    expect([...partial.vs.keys()]).toEqual(['B']);
  });
});

describe('partials (properties)', () => {
  const big: RecParams = { ...DEFAULT_PARAMS, coocHalfLifeMs: 7 * H, trendingHalfLifeMs: 3 * H, neighbours: 1000, trendingSize: 1000, userRecent: 1000, userBought: 1000, knnVisits: 1000, sessionWindow: 4, seqSteps: 2 };

  it('merged partials of any number of partitions == the state built from all events (no cap reached; to 1e-9)', async () => {
    await fc.assert(
      fc.asyncProperty(fc.array(fc.array(interaction(20 * H), { minLength: 1, maxLength: 12 }), { minLength: 1, maxLength: 6 }), fc.integer({ min: 1, max: 4 }), async (batches, parts) => {
        const { shared, reader } = build(batches, big, parts);
        const now = (await shared.clock())!;
        expect(await reader.clock()).toBe(now);
        const [nm, nr] = [await shared.neighbours(PRODUCTS, 1000), await reader.neighbours(PRODUCTS, 1000)];
        const [qm, qr] = [await shared.sequences(PRODUCTS, 1000), await reader.sequences(PRODUCTS, 1000)];
        for (const p of PRODUCTS) {
          expectClose(values(nr.get(p)!, now, big.coocHalfLifeMs), values(nm.get(p)!, now, big.coocHalfLifeMs));
          expect(new Map(nr.get(p)!.items.map((x) => [x.item, x.level]))).toEqual(new Map(nm.get(p)!.items.map((x) => [x.item, x.level])));
          expectClose(values(qr.get(p)!, now, big.coocHalfLifeMs), values(qm.get(p)!, now, big.coocHalfLifeMs));
          expect(await reader.postings(p, 1000)).toEqual(await shared.postings(p, 1000));
        }
        for (const c of [null, 'x', 'y', 'z']) expectClose(values(await reader.trending(c, 1000), now, big.trendingHalfLifeMs), values(await shared.trending(c, 1000), now, big.trendingHalfLifeMs));
        for (const u of USERS) expect(await reader.user(u)).toEqual(await shared.user(u));
        expect(await reader.categories(PRODUCTS)).toEqual(await shared.categories(PRODUCTS));
      }),
      { numRuns: 60 },
    );
  });

  it('with caps, a merged list never holds more than the shared one (a partial only loses what its partition trimmed)', async () => {
    const small: RecParams = { ...big, neighbours: 2, trendingSize: 2, userRecent: 2, knnVisits: 2 };
    await fc.assert(
      fc.asyncProperty(fc.array(fc.array(interaction(5 * H), { minLength: 1, maxLength: 12 }), { minLength: 1, maxLength: 6 }), fc.integer({ min: 2, max: 4 }), async (batches, parts) => {
        const capped = build(batches, small, parts);
        const truth = build(batches, big, 1);
        const now = (await truth.shared.clock())!;
        const [nr, nt] = [await capped.reader.neighbours(PRODUCTS, 2), await truth.reader.neighbours(PRODUCTS, 1000)];
        for (const p of PRODUCTS) {
          const t = values(nt.get(p)!, now, small.coocHalfLifeMs);
          for (const [item, v] of values(nr.get(p)!, now, small.coocHalfLifeMs)) expect(v).toBeLessThanOrEqual(t.get(item)! * (1 + 1e-9));
        }
        for (const u of USERS) {
          const [a, b] = [await capped.reader.user(u), await truth.reader.user(u)];
          expect(a.recent).toEqual(b.recent.slice(0, 2)); // the newest 2 of all partitions are the newest of some partition
        }
      }),
      { numRuns: 60 },
    );
  });

  it('one partition: the merged state and the answers equal the shared store exactly, caps and trims included', async () => {
    const params: RecParams = { ...DEFAULT_PARAMS, coocHalfLifeMs: H, trendingHalfLifeMs: H, neighbours: 3, userRecent: 2, sessionWindow: 3, trendingSize: 4, seqSteps: 2, knnVisits: 2, knnNeighbours: 2, sessionAnchors: 2 };
    await fc.assert(
      fc.asyncProperty(fc.array(fc.array(interaction(80).map((x) => ({ ...x, dt: x.dt * H })), { minLength: 1, maxLength: 8 }), { minLength: 1, maxLength: 6 }), async (batches) => {
        // the shared store takes each checkpoint's ops through its writer, as the partial does
        const partial = new RecPartial(params);
        const shared = new InMemoryRecStore(params);
        const windows = new Map<string, SessionItem[]>();
        let seq = 0;
        for (const [i, batch] of batches.entries()) {
          const plan = planInteractions(
            [...batch].sort((x, y) => x.dt - y.dt).map(({ dt, ...x }) => ({ ...x, categoryId: CATEGORY[x.productId], ts: T + dt })),
            windows,
            params,
          );
          for (const [id, w] of plan.sessions) windows.set(id, w);
          replay(plan.ops, partial);
          replay(plan.ops, shared.writer(0));
          if (i % 2 === 0 && i < batches.length - 1) continue;
          partial.changes().encode();
          partial.committed();
          expect(await shared.checkpoint({ partition: 0, expectedSeq: seq, newSeq: ++seq })).toEqual({ status: 'ok' });
        }
        const reader = new PartialReader(new MemoryPartialSource([partial], (ids) => shared.sessionsSync(ids)), params);
        expect(await reader.neighbours(PRODUCTS, 100)).toEqual(await shared.neighbours(PRODUCTS, 100));
        expect(await reader.sequences(PRODUCTS, 100)).toEqual(await shared.sequences(PRODUCTS, 100));
        for (const c of [null, 'x', 'y', 'z']) expect(await reader.trending(c, 100)).toEqual(await shared.trending(c, 100));
        for (const u of USERS) expect(await reader.user(u)).toEqual(await shared.user(u));
        const [rr, rm] = [new Recommender(reader, params), new Recommender(shared, params)];
        for (const u of [...USERS, 'nobody']) expect(await rr.forUser(u, 5)).toEqual(await rm.forUser(u, 5));
        for (const p of [...PRODUCTS, 'nothing']) expect(await rr.similar(p, 5)).toEqual(await rm.similar(p, 5));
        for (const c of ['x', 'none']) expect(await rr.trending(c, 3)).toEqual(await rm.trending(c, 3));
        for (const s of [...SESSIONS, 'no visit']) {
          const req = { sessionId: s, anchors: 3, neighbours: 4, sequences: 4, knnVisits: 3, knnNeighbours: 2, trending: 3 };
          expect(await reader.sessionContext(req)).toEqual(await shared.sessionContext(req));
          expect(await rr.forSession(s, 5)).toEqual(await rm.forSession(s, 5));
        }
      }),
      { numRuns: 60 },
    );
  });
});
