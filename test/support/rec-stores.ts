/**
 * RedisRecStore against InMemoryRecStore on the same inputs (test/recs-store.e2e-spec.ts on one redis-server,
 * test/redis-cluster-stores.e2e-spec.ts on a Redis Cluster): the same lists, users, visits and clock after the
 * same batches, and so the same answers.
 */
import fc from 'fast-check';
import { InMemoryRecStore, Level, RecParams, RecStore, Recommender, planInteractions, replay } from '@tidemark/recommend';
import type { RedisClient, WaitPolicy } from '@tidemark/state';
import { RedisRecStore } from '../../apps/recommendation/src/redis-rec.store';

export const T = Date.UTC(2026, 0, 1);
export const H = 1000;
// Ids with the key separator, hash-tag braces, globs, spaces and non-ASCII: keys are built from encoded ids
// (the READ script encodes the ids it reads from Redis itself), so the stores must still agree.
const PRODUCTS = ['A', 'B:r', '{C}', 'e:D*', '中文', 'F 😀'];
const USERS = ['u1', 'u:2', '{u3}'];
export const SESSIONS = ['s1', 's:2', 's 3', '会话'];
const CATEGORIES = ['c1', 'c:2%'];

export const interaction = (dt: fc.Arbitrary<number>, sessions: readonly string[] = SESSIONS) =>
  fc.record({
    userId: fc.constantFrom(...USERS),
    sessionId: fc.constantFrom(...sessions),
    productId: fc.constantFrom(...PRODUCTS),
    categoryId: fc.constantFrom(...CATEGORIES),
    level: fc.constantFrom<Level>(1, 1, 1, 2, 3),
    dt,
  });

export async function compare(mem: RecStore, red: RecStore, params: RecParams, exact: boolean, sessions: readonly string[] = SESSIONS) {
  const close = (a: number, b: number) => (exact ? expect(b).toBe(a) : expect(Math.abs(a - b)).toBeLessThanOrEqual(1e-9 * Math.max(1, Math.abs(a))));
  expect(await red.clock()).toBe(await mem.clock());
  const [nm, nr] = [await mem.neighbours(PRODUCTS, 100), await red.neighbours(PRODUCTS, 100)];
  for (const p of PRODUCTS) {
    const [a, b] = [nm.get(p)!, nr.get(p)!];
    expect(b.epoch).toBe(a.epoch);
    expect(b.items.map((i) => [i.item, i.level])).toEqual(a.items.map((i) => [i.item, i.level]));
    a.items.forEach((x, i) => close(x.stored, b.items[i].stored));
  }
  for (const c of [null, ...CATEGORIES]) {
    const [a, b] = [await mem.trending(c, 100), await red.trending(c, 100)];
    expect(b.epoch).toBe(a.epoch);
    expect(b.items.map((i) => i.item)).toEqual(a.items.map((i) => i.item));
    a.items.forEach((x, i) => close(x.stored, b.items[i].stored));
  }
  const [qm, qr] = [await mem.sequences(PRODUCTS, 100), await red.sequences(PRODUCTS, 100)];
  for (const p of PRODUCTS) {
    const [a, b] = [qm.get(p)!, qr.get(p)!];
    expect(b.epoch).toBe(a.epoch);
    expect(b.items.map((i) => i.item)).toEqual(a.items.map((i) => i.item));
    a.items.forEach((x, i) => close(x.stored, b.items[i].stored));
    expect(await red.postings(p, 100)).toEqual(await mem.postings(p, 100));
  }
  for (const u of USERS) expect(await red.user(u)).toEqual(await mem.user(u));
  expect(await red.sessions(sessions)).toEqual(await mem.sessions(sessions));
  expect(await red.categories(PRODUCTS)).toEqual(await mem.categories(PRODUCTS));
  // and so the same answers
  const [rm, rr] = [new Recommender(mem, params), new Recommender(red, params)];
  for (const u of [...USERS, 'nobody']) expect(await rr.forUser(u, 5)).toEqual(await rm.forUser(u, 5));
  for (const p of [...PRODUCTS, 'nothing']) expect(await rr.similar(p, 5)).toEqual(await rm.similar(p, 5));
  // the session answer: its one-call read (READ_SESSION) equals the reference read, and so the answers
  for (const s of [...sessions, 'no visit']) {
    const req = { sessionId: s, anchors: 3, neighbours: 4, sequences: 4, knnVisits: 3, knnNeighbours: 2, trending: 3 };
    const [cm, cr] = [await mem.sessionContext(req), await red.sessionContext(req)];
    if (exact) expect(cr).toEqual(cm);
    else expect([cr.anchors, cr.window, cr.visits, [...cr.categories]]).toEqual([cm.anchors, cm.window, cm.visits, [...cm.categories]]);
    for (const excludeSeen of [true, false]) expect(await rr.forSession(s, 5, { excludeSeen })).toEqual(await rm.forSession(s, 5, { excludeSeen }));
  }
}

let run = 0;
/**
 * The same batches through both stores, then compare: checkpoints of partition 0 every other batch (so some
 * hold two batches' ops) and after the last; a repeated checkpoint is refused by both, and both restore the
 * partition from what they stored (the Redis store reads its partials back). The Redis store reads 4
 * partitions (the other three empty: reads still fan out over every partition's hashes).
 */
export async function check(client: RedisClient, batches: { userId: string; sessionId: string; productId: string; categoryId: string; level: Level; dt: number }[][], params: RecParams, exact: boolean, options: { wait?: WaitPolicy; sessions?: readonly string[] } = {}) {
  const sessions = options.sessions ?? SESSIONS;
  const mem = new InMemoryRecStore(params);
  const red = new RedisRecStore(client, { params, sessionTtlMs: 60_000, userTtlMs: 1e12, itemTtlMs: 1e12, prefix: `t${run++}:`, partitions: 4, ...(options.wait ? { wait: options.wait } : {}) }); // the reference has no expiry
  let seq = 0;
  expect([await red.restore(0), await mem.restore(0)]).toEqual([0, 0]);
  let next = 0;
  for (const [i, batch] of batches.entries()) {
    const inter = batch.map(({ dt, ...x }) => ({ ...x, ts: T + dt }));
    const ids = [...new Set(inter.map((x) => x.sessionId))];
    const [sm, sr] = [await mem.sessions(ids), await red.sessions(ids)];
    expect(sr).toEqual(sm);
    const [wm, wr] = [mem.writer(0), red.writer(0)];
    expect(new Map(wr.windows)).toEqual(new Map(wm.windows));
    for (const id of ids) if (wr.windows.has(id)) sm.set(id, wr.windows.get(id)!); // what the partition holds in memory
    const ops = planInteractions(inter, sm, params).ops;
    replay(ops, wm);
    replay(ops, wr);
    next += batch.length + 1;
    if (i % 2 === 0 && i < batches.length - 1) continue;
    const fence = { partition: 0, expectedSeq: seq, newSeq: next };
    expect(await red.checkpoint(fence)).toEqual(await mem.checkpoint(fence));
    // the same checkpoint again: refused by both, nothing written; both restore what they stored
    expect(await red.checkpoint(fence)).toEqual({ status: 'conflict', lastSeq: fence.newSeq });
    expect(await mem.checkpoint(fence)).toEqual({ status: 'conflict', lastSeq: fence.newSeq });
    expect([await red.restore(0), await mem.restore(0)]).toEqual([fence.newSeq, fence.newSeq]);
    seq = fence.newSeq;
  }
  await compare(mem, red, params, exact, sessions);
}
