/**
 * RedisRecStore (the service's) against InMemoryRecStore (the reference, and the evaluation's) on the same
 * inputs, on a real redis-server: the same lists, users, visits and clock after the same batches — including
 * top-N trimming, epoch rebases and stale fences, checkpoints of one and of two batches pre-summed — so the
 * evaluation's figures hold for the service.
 */
import fc from 'fast-check';
import type Redis from 'ioredis';
import { DEFAULT_PARAMS, InMemoryRecStore, Level, RecParams, RecPending, RecStore, Recommender, planInteractions } from '@tidemark/recommend';
import { PARTITION_OF_LUA, partitionOf } from '@tidemark/contracts';
import { KEY_PART_LUA, connectRedis, encodeKeyPart, isWellFormed } from '@tidemark/state';
import { RedisRecStore } from '../apps/recommendation/src/redis-rec.store';
import { ServerHandle, startRedis } from './support/servers';

let server: ServerHandle;
let client: Redis;

beforeAll(async () => {
  server = await startRedis();
  client = await connectRedis(server.url, 'test');
});

afterAll(async () => {
  await client?.quit();
  await server?.dispose();
});

const T = Date.UTC(2026, 0, 1);
const H = 1000;
// Ids with the key separator, hash-tag braces, globs, spaces and non-ASCII: keys are built from encoded ids
// (the READ script encodes the ids it reads from Redis itself), so the stores must still agree.
const PRODUCTS = ['A', 'B:r', '{C}', 'e:D*', '中文', 'F 😀'];
const USERS = ['u1', 'u:2', '{u3}'];
const SESSIONS = ['s1', 's:2', 's 3', '会话'];
const CATEGORIES = ['c1', 'c:2%'];

const interaction = (dt: fc.Arbitrary<number>) =>
  fc.record({
    userId: fc.constantFrom(...USERS),
    sessionId: fc.constantFrom(...SESSIONS),
    productId: fc.constantFrom(...PRODUCTS),
    categoryId: fc.constantFrom(...CATEGORIES),
    level: fc.constantFrom<Level>(1, 1, 1, 2, 3),
    dt,
  });

async function compare(mem: RecStore, red: RecStore, params: RecParams, exact: boolean) {
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
  expect(await red.sessions(SESSIONS)).toEqual(await mem.sessions(SESSIONS));
  expect(await red.categories(PRODUCTS)).toEqual(await mem.categories(PRODUCTS));
  // and so the same answers
  const [rm, rr] = [new Recommender(mem, params), new Recommender(red, params)];
  for (const u of [...USERS, 'nobody']) expect(await rr.forUser(u, 5)).toEqual(await rm.forUser(u, 5));
  for (const p of [...PRODUCTS, 'nothing']) expect(await rr.similar(p, 5)).toEqual(await rm.similar(p, 5));
  // the session answer: its one-call read (READ_SESSION) equals the reference read, and so the answers
  for (const s of [...SESSIONS, 'no visit']) {
    const req = { sessionId: s, anchors: 3, neighbours: 4, sequences: 4, knnVisits: 3, knnNeighbours: 2, trending: 3 };
    const [cm, cr] = [await mem.sessionContext(req), await red.sessionContext(req)];
    if (exact) expect(cr).toEqual(cm);
    else expect([cr.anchors, cr.window, cr.visits, [...cr.categories]]).toEqual([cm.anchors, cm.window, cm.visits, [...cm.categories]]);
    for (const excludeSeen of [true, false]) expect(await rr.forSession(s, 5, { excludeSeen })).toEqual(await rm.forSession(s, 5, { excludeSeen }));
  }
}

let run = 0;
async function check(batches: { userId: string; sessionId: string; productId: string; categoryId: string; level: Level; dt: number }[][], params: RecParams, exact: boolean) {
  const mem = new InMemoryRecStore(params);
  const red = new RedisRecStore(client, { params, sessionTtlMs: 60_000, userTtlMs: 60_000, itemTtlMs: 60_000, prefix: `t${run++}:`, partitions: 4 }); // visits' windows under 4 hash tags
  let seq = 0;
  let next = 0;
  const pending = new RecPending(params);
  for (const [i, batch] of batches.entries()) {
    const inter = batch.map(({ dt, ...x }) => ({ ...x, ts: T + dt }));
    const ids = [...new Set(inter.map((x) => x.sessionId))];
    const [sm, sr] = [await mem.sessions(ids), await red.sessions(ids)];
    expect(sr).toEqual(sm);
    for (const id of ids) if (pending.windows.has(id)) sm.set(id, pending.windows.get(id)!); // what the partition holds in memory
    pending.add(planInteractions(inter, sm, params).ops);
    next += batch.length + 1;
    // a checkpoint every other batch (so some hold two batches' ops pre-summed), and after the last
    if (i % 2 === 0 && i < batches.length - 1) continue;
    const fence = { partition: 0, expectedSeq: seq, newSeq: next };
    expect(await red.checkpoint(fence, pending)).toEqual(await mem.checkpoint(fence, pending));
    // the same checkpoint again: refused by both, nothing written
    expect(await red.checkpoint(fence, pending)).toEqual({ status: 'conflict', lastSeq: fence.newSeq });
    expect(await mem.checkpoint(fence, pending)).toEqual({ status: 'conflict', lastSeq: fence.newSeq });
    pending.clear();
    seq = fence.newSeq;
  }
  await compare(mem, red, params, exact);
}

describe('RedisRecStore agrees with InMemoryRecStore', () => {
  it('with trimming and rebases (times in whole half-lives: exact arithmetic, exact agreement)', async () => {
    const params: RecParams = { ...DEFAULT_PARAMS, coocHalfLifeMs: H, trendingHalfLifeMs: H, neighbours: 3, userRecent: 2, sessionWindow: 3, trendingSize: 4, seqSteps: 2, knnVisits: 2, knnNeighbours: 2, sessionAnchors: 2 };
    await fc.assert(
      fc.asyncProperty(fc.array(fc.array(interaction(fc.integer({ min: 0, max: 80 }).map((k) => k * H)), { minLength: 1, maxLength: 8 }), { minLength: 1, maxLength: 6 }), (batches) =>
        check(
          batches.map((b) => [...b].sort((x, y) => x.dt - y.dt)),
          params,
          true,
        ),
      ),
      { numRuns: 40 },
    );
  });

  it('with any times and the default sizes (agreement to 1e-9)', async () => {
    const params: RecParams = { ...DEFAULT_PARAMS, coocHalfLifeMs: 7 * H, trendingHalfLifeMs: 3 * H };
    await fc.assert(
      fc.asyncProperty(fc.array(fc.array(interaction(fc.integer({ min: 0, max: 50 * H })), { minLength: 1, maxLength: 10 }), { minLength: 1, maxLength: 5 }), (batches) => check(batches, params, false)),
      { numRuns: 40 },
    );
  });

  it('sets TTLs on visits, users and products', async () => {
    const params = { ...DEFAULT_PARAMS };
    const red = new RedisRecStore(client, { params, sessionTtlMs: 10_000, userTtlMs: 20_000, itemTtlMs: 30_000, prefix: 'ttl:' });
    const ops = planInteractions(
      [
        { userId: 'u', sessionId: 's', productId: 'A', categoryId: 'c', level: 1, ts: T },
        { userId: 'u', sessionId: 's', productId: 'B', categoryId: 'c', level: 3, ts: T },
      ],
      new Map(),
      params,
    ).ops;
    await red.checkpoint({ partition: 0, expectedSeq: 0, newSeq: 1 }, RecPending.of(params, [ops]));
    const ttl = async (k: string) => client.pttl(`ttl:${k}`);
    expect(await ttl('{p0}:s:s')).toBeGreaterThan(5_000);
    expect(await ttl('{p0}:s:s')).toBeLessThanOrEqual(10_000);
    expect(await ttl('{p0}:add')).toBe(-2); // the scratch set is gone
    for (const k of ['u:u', 'bz:u']) expect(await ttl(k)).toBeGreaterThan(10_000);
    for (const k of ['nb:A', 'nbe:A', 'nbl:B', 'c:A', 'tr:c:c', 'tre:c:c', 'sq:A', 'sqe:A', 'vs:B']) expect(await ttl(k)).toBeGreaterThan(20_000);
    expect(await ttl('tr:all')).toBe(-1); // bounded by RECS_TRENDING_SIZE instead
  });

  it('keeps the newest RECS_USER_BOUGHT products of a user who bought 20,000 (more than one Lua unpack takes), like the in-memory store', async () => {
    const params = { ...DEFAULT_PARAMS };
    const red = new RedisRecStore(client, { params, sessionTtlMs: 10_000, userTtlMs: 20_000, itemTtlMs: 30_000, prefix: 'big:' });
    const mem = new InMemoryRecStore(params);
    const ops = Array.from({ length: 20_000 }, (_, i) => ({ op: 'bought' as const, user: 'u:1', item: `p${i}`, t: T + i }));
    expect(await red.checkpoint({ partition: 0, expectedSeq: 0, newSeq: 1 }, RecPending.of(params, [ops]))).toEqual({ status: 'ok' });
    await mem.checkpoint({ partition: 0, expectedSeq: 0, newSeq: 1 }, RecPending.of(params, [ops]));
    const bought = (await red.user('u:1')).bought;
    expect(bought.size).toBe(params.userBought);
    expect(bought.has('p19999')).toBe(true);
    expect(bought.has(`p${19_999 - params.userBought}`)).toBe(false);
    expect([...(await mem.user('u:1')).bought].sort()).toEqual([...bought].sort());
    expect(await client.zcard('big:bz:u%3A1')).toBe(params.userBought);
  });

  it('refuses a checkpoint it could only write in part (a key of another type), writing nothing', async () => {
    const params = { ...DEFAULT_PARAMS };
    const red = new RedisRecStore(client, { params, sessionTtlMs: 10_000, userTtlMs: 20_000, itemTtlMs: 30_000, prefix: 'wt:' });
    await client.hset('wt:bz:u2', 'x', '1'); // not a sorted set
    const ops = [
      { op: 'seen' as const, user: 'u1', item: 'A', t: T },
      { op: 'bought' as const, user: 'u2', item: 'A', t: T },
    ];
    await expect(red.checkpoint({ partition: 0, expectedSeq: 0, newSeq: 1 }, RecPending.of(params, [ops]))).rejects.toThrow(/refused: /);
    expect(await client.exists('wt:u:u1')).toBe(0);
    expect(await red.lastSeq(0)).toBe(0);
  });

  it('refuses a checkpoint holding a lone surrogate, or arguments that do not add up, writing nothing', async () => {
    const params = { ...DEFAULT_PARAMS };
    const red = new RedisRecStore(client, { params, sessionTtlMs: 10_000, userTtlMs: 20_000, itemTtlMs: 30_000, prefix: 'bad:' });
    const lone = RecPending.of(params, [[{ op: 'seen', user: 'u1', item: 'A\ud800', t: T }]]);
    await expect(red.checkpoint({ partition: 0, expectedSeq: 0, newSeq: 1 }, lone)).rejects.toThrow(/refused: .*lone surrogate/);
    // the script itself: a count past the arguments, a number that is not one, a trailing argument
    const config = ['bad:', ...Array.from({ length: 12 }, () => '1000')];
    const sections = (...xs: string[]) => ['1', '1', ...config, ...xs];
    for (const args of [sections('1', 'nb', 'A', '1', String(T), String(T), '2', 'B', '1', '0'), sections('0', '1', 'u', 'x', '1', 'A', 'NaN', '0', '0', '0'), sections('0', '0', '0', '0', '0', 'extra')]) {
      await expect(client.tidemarkRecsCheckpoint('bad:{p0}:part', 'bad:part:0', 'bad:{p0}:add', '0', ...args.slice(1))).rejects.toThrow(/refused: /);
    }
    expect(await client.keys('bad:*')).toEqual([]);
  });

  it('reads the fence from its name before the hash tag, and moves it on the first checkpoint', async () => {
    const params = { ...DEFAULT_PARAMS };
    const red = new RedisRecStore(client, { params, sessionTtlMs: 10_000, userTtlMs: 20_000, itemTtlMs: 30_000, prefix: 'old:' });
    await client.hset('old:part:3', 'lastSeq', '41');
    expect(await red.lastSeq(3)).toBe(41);
    expect(await red.checkpoint({ partition: 3, expectedSeq: 0, newSeq: 50 }, new RecPending(params))).toEqual({ status: 'conflict', lastSeq: 41 });
    expect(await red.checkpoint({ partition: 3, expectedSeq: 41, newSeq: 50 }, new RecPending(params))).toEqual({ status: 'ok' });
    expect(await client.exists('old:part:3')).toBe(0);
    expect(await client.hget('old:{p3}:part', 'lastSeq')).toBe('50');
    expect(await red.lastSeq(3)).toBe(50);
  });

  it("the session read's partition_of is partitionOf (property)", async () => {
    await fc.assert(
      fc.asyncProperty(fc.array(fc.oneof(fc.string({ unit: 'grapheme' }), fc.constantFrom('s1', '会话', '😀', '')), { minLength: 1, maxLength: 20 }), fc.integer({ min: 1, max: 1024 }), async (ids, n) => {
        const lua = await client.eval(`${PARTITION_OF_LUA}\nlocal out = {}\nfor i, a in ipairs(ARGV) do if i > 1 then out[i - 1] = partition_of(a, tonumber(ARGV[1])) end end\nreturn out`, 0, String(n), ...ids);
        expect(lua).toEqual(ids.map((id) => partitionOf(id, n)));
      }),
      { numRuns: 50 },
    );
  });

  it("the READ script's keypart is encodeKeyPart (property, valid Unicode)", async () => {
    await fc.assert(
      fc.asyncProperty(fc.array(fc.oneof(fc.string({ unit: 'grapheme' }), fc.string({ unit: 'binary' }).filter((x) => isWellFormed(x)), fc.constantFrom(':', '{', '}', '*', '%', '\\', ' ', '\u0000', '\u007f', '😀', '中文')), { minLength: 1, maxLength: 20 }), async (parts) => {
        const lua = await client.eval(`${KEY_PART_LUA}\nlocal out = {}\nfor i, a in ipairs(ARGV) do out[i] = keypart(a) end\nreturn out`, 0, ...parts);
        expect(lua).toEqual(parts.map(encodeKeyPart));
      }),
      { numRuns: 50 },
    );
  });
});
