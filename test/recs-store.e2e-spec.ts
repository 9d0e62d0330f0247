/**
 * RedisRecStore (the service's) against InMemoryRecStore (the reference, and the evaluation's) on the same
 * inputs, on a real redis-server: the same lists, users, visits and clock after the same batches — including
 * top-N trimming, epoch rebases and stale fences, checkpoints of one and of two batches — so the
 * evaluation's figures hold for the service.
 */
import fc from 'fast-check';
import type Redis from 'ioredis';
import { DEFAULT_PARAMS, InMemoryRecStore, RecParams, checkpointOps, decodeDecayed, decodeUser, planInteractions, replay } from '@tidemark/recommend';
import { PARTITION_OF_LUA, partitionOf } from '@tidemark/contracts';
import { KEY_PART_LUA, connectRedis, encodeKeyPart } from '@tidemark/state';
import { RECS_CHECKPOINT, RedisRecStore } from '../apps/recommendation/src/redis-rec.store';
import { H, T, check as checkOn, interaction } from './support/rec-stores';
import { ServerHandle, startRedis } from './support/servers';

// Property runs against a real redis-server: seconds on a slow or busy machine, where Jest's default 5 s cut one in CI.
jest.setTimeout(60_000);

let server: ServerHandle;
let client: Redis;
const check = (batches: Parameters<typeof checkOn>[1], params: RecParams, exact: boolean) => checkOn(client, batches, params, exact);

beforeAll(async () => {
  server = await startRedis();
  client = await connectRedis(server.url, 'test');
});

afterAll(async () => {
  await client?.quit();
  await server?.dispose();
});

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

  it('writes one field per product, user and list under the partition\'s hash tag; visits keep a TTL, other fields expire by event-time age', async () => {
    const params = { ...DEFAULT_PARAMS };
    const red = new RedisRecStore(client, { params, sessionTtlMs: 10_000, userTtlMs: 20_000, itemTtlMs: 30_000, prefix: 'ttl:', partitions: 2 });
    const at = (t: number, s: string, u: string) =>
      planInteractions(
        [
          { userId: u, sessionId: s, productId: 'A', categoryId: 'c', level: 1, ts: t },
          { userId: u, sessionId: s, productId: 'B', categoryId: 'c', level: 3, ts: t },
        ],
        new Map(),
        params,
      ).ops;
    expect(await red.restore(1)).toBe(0);
    expect(await checkpointOps(red, { partition: 1, expectedSeq: 0, newSeq: 1 }, at(T, 's', 'u'))).toEqual({ status: 'ok' });
    const ttl = async (k: string) => client.pttl(`ttl:${k}`);
    const win = `{p${partitionOf('s', 2)}}:s:s`;
    expect(await ttl(win)).toBeGreaterThan(5_000);
    expect(await ttl(win)).toBeLessThanOrEqual(10_000);
    expect((await client.keys('ttl:*')).sort()).toEqual(['ttl:{p1}:nb', 'ttl:{p1}:part', 'ttl:{p1}:sq', 'ttl:{p1}:tr', 'ttl:{p1}:u', 'ttl:{p1}:vs', `ttl:${win}`].sort());
    for (const k of ['{p1}:nb', '{p1}:sq', '{p1}:tr', '{p1}:u', '{p1}:vs']) expect(await ttl(k)).toBe(-1); // no key TTLs: fields expire
    expect((await client.hkeys('ttl:{p1}:nb')).sort()).toEqual(['A', 'B']);
    expect((await client.hkeys('ttl:{p1}:tr')).sort()).toEqual(['*', 'c:c']);
    expect(await client.hkeys('ttl:{p1}:u')).toEqual(['u']);
    expect(await client.hget('ttl:{p1}:part', 'clock')).toBe(String(T));
    // 25 s of event time later another user touches A in category d: u is past RECS_USER_TTL_MS (a sweep runs on a restored partial's first checkpoint)
    await red.restore(1);
    const later = planInteractions([{ userId: 'v', sessionId: 't', productId: 'A', categoryId: 'd', level: 1, ts: T + 25_000 }], new Map(), params).ops;
    expect(await checkpointOps(red, { partition: 1, expectedSeq: 1, newSeq: 2 }, later)).toEqual({ status: 'ok' });
    expect(await client.hkeys('ttl:{p1}:u')).toEqual(['v']);
    expect((await client.hkeys('ttl:{p1}:nb')).sort()).toEqual(['A', 'B']);
    // 35 s: B and category c are past RECS_ITEM_TTL_MS; A was touched at 25 s; overall trending never expires
    await red.restore(1);
    const last = planInteractions([{ userId: 'v', sessionId: 't', productId: 'A', categoryId: 'd', level: 1, ts: T + 35_000 }], new Map(), params).ops;
    expect(await checkpointOps(red, { partition: 1, expectedSeq: 2, newSeq: 3 }, last)).toEqual({ status: 'ok' });
    expect(await client.hkeys('ttl:{p1}:nb')).toEqual(['A']);
    expect(await client.hkeys('ttl:{p1}:vs')).toEqual(['A']);
    expect((await client.hkeys('ttl:{p1}:tr')).sort()).toEqual(['*', 'c:d']);
    expect((await red.trending(null, 10)).items.map((i) => i.item).sort()).toEqual(['A', 'B']);
    expect(await red.user('u')).toEqual({ recent: [], bought: new Set() });
  });

  it('keeps the newest RECS_USER_BOUGHT products of a user who bought 20,000 (more than one Lua unpack takes), like the in-memory store', async () => {
    const params = { ...DEFAULT_PARAMS };
    const red = new RedisRecStore(client, { params, sessionTtlMs: 10_000, userTtlMs: 20_000, itemTtlMs: 30_000, prefix: 'big:' });
    const mem = new InMemoryRecStore(params);
    const ops = Array.from({ length: 20_000 }, (_, i) => ({ op: 'bought' as const, user: 'u:1', item: `p${i}`, t: T + i }));
    expect([await red.restore(0), await mem.restore(0)]).toEqual([0, 0]);
    expect(await checkpointOps(red, { partition: 0, expectedSeq: 0, newSeq: 1 }, ops)).toEqual({ status: 'ok' });
    expect(await checkpointOps(mem, { partition: 0, expectedSeq: 0, newSeq: 1 }, ops)).toEqual({ status: 'ok' });
    const bought = (await red.user('u:1')).bought;
    expect(bought.size).toBe(params.userBought);
    expect(bought.has('p19999')).toBe(true);
    expect(bought.has(`p${19_999 - params.userBought}`)).toBe(false);
    expect([...(await mem.user('u:1')).bought].sort()).toEqual([...bought].sort());
    expect(await client.hkeys('big:{p0}:u')).toEqual(['u:1']);
  });

  it('refuses a checkpoint it could only write in part (a key of another type), writing nothing', async () => {
    const params = { ...DEFAULT_PARAMS };
    const red = new RedisRecStore(client, { params, sessionTtlMs: 10_000, userTtlMs: 20_000, itemTtlMs: 30_000, prefix: 'wt:' });
    expect(await red.restore(0)).toBe(0);
    await client.set('wt:{p0}:u', 'x'); // not a hash (set after the partition was restored: the script's own check refuses)
    const ops = [
      { op: 'trend' as const, item: 'A', w: 1, t: T },
      { op: 'seen' as const, user: 'u1', item: 'A', t: T },
      { op: 'bought' as const, user: 'u2', item: 'A', t: T },
    ];
    await expect(checkpointOps(red, { partition: 0, expectedSeq: 0, newSeq: 1 }, ops)).rejects.toThrow(/refused: /);
    expect(await client.exists('wt:{p0}:tr')).toBe(0);
    expect(await red.lastSeq(0)).toBe(0);
  });

  it('a checkpoint Redis did not take: a conflict drops it (the partition is restored from Redis), a refusal keeps it for the next', async () => {
    const params = { ...DEFAULT_PARAMS };
    const red = new RedisRecStore(client, { params, sessionTtlMs: 10_000, userTtlMs: 20_000, itemTtlMs: 30_000, prefix: 'undo:' });
    const trend = (item: string) => [{ op: 'trend' as const, item, w: 1, t: T }];
    const overall = async () => decodeDecayed((await client.hgetBuffer('undo:{p0}:tr', '*'))!, false).list.items.map((x) => x.item).sort();
    expect(await red.restore(0)).toBe(0);
    expect(await checkpointOps(red, { partition: 0, expectedSeq: 5, newSeq: 6 }, trend('A'))).toEqual({ status: 'conflict', lastSeq: 0 });
    expect(() => red.writer(0)).toThrow(/not restored/); // dropped: memory held what Redis does not
    await expect(red.checkpoint({ partition: 0, expectedSeq: 0, newSeq: 1 })).rejects.toThrow(/not restored/);
    expect(await red.restore(0)).toBe(0);
    expect(await checkpointOps(red, { partition: 0, expectedSeq: 0, newSeq: 1 }, trend('B'))).toEqual({ status: 'ok' });
    expect(await overall()).toEqual(['B']);
    await client.set('undo:{p0}:u', 'x'); // not a hash: the next checkpoint is refused, nothing written
    await expect(checkpointOps(red, { partition: 0, expectedSeq: 1, newSeq: 2 }, [...trend('C'), { op: 'seen', user: 'u', item: 'C', t: T }])).rejects.toThrow(/refused: /);
    expect(await overall()).toEqual(['B']);
    await client.del('undo:{p0}:u');
    // kept (as when Redis did not answer): the next checkpoint writes the refused one's fields too, whole
    expect(await checkpointOps(red, { partition: 0, expectedSeq: 1, newSeq: 2 }, trend('D'))).toEqual({ status: 'ok' });
    expect(await overall()).toEqual(['B', 'C', 'D']);
    expect(decodeUser((await client.hgetBuffer('undo:{p0}:u', 'u'))!).recent.map((x) => x.item)).toEqual(['C']);
    // a restore drops only what no checkpoint wrote
    replay(trend('E'), red.writer(0));
    expect(await red.restore(0)).toBe(2);
    expect(await checkpointOps(red, { partition: 0, expectedSeq: 2, newSeq: 3 }, trend('F'))).toEqual({ status: 'ok' });
    expect(await overall()).toEqual(['B', 'C', 'D', 'F']);
  });

  it('refuses a checkpoint holding a lone surrogate, or arguments that do not add up, writing nothing', async () => {
    const params = { ...DEFAULT_PARAMS };
    const red = new RedisRecStore(client, { params, sessionTtlMs: 10_000, userTtlMs: 20_000, itemTtlMs: 30_000, prefix: 'bad:' });
    // a lone surrogate in a field name (an id); inside a value JSON escapes it (\ud800), so a value always travels
    expect(await red.restore(0)).toBe(0);
    await expect(checkpointOps(red, { partition: 0, expectedSeq: 0, newSeq: 1 }, [{ op: 'seen', user: 'u1\ud800', item: 'A', t: T }])).rejects.toThrow(/refused: .*lone surrogate/);
    // the script itself: a count past the arguments, a clock that is not a number, a trailing argument
    const keys = ['bad:{p0}:part', 'bad:part:0', 'bad:{p0}:nb', 'bad:{p0}:sq', 'bad:{p0}:tr', 'bad:{p0}:vs', 'bad:{p0}:u', 'bad:{p0}:token'] as const;
    const head = (clock = String(T)) => ['0', '1', 'bad:', '1000', clock, ''];
    const none = ['0', '0', '0', '0', '0', '0', '0', '0'];
    for (const args of [
      [...head(), '2', '0', 'A', '[]', ...none, '0'],
      [...head('NaN'), '1', '0', 'A', '[]', ...none, '0'],
      [...head(), '1', '0', 'A', '[]', ...none, '0', 'extra'],
      [...head(), '1', '0', 'A', '[]', ...none, '1', '0', 's'],
    ]) {
      await expect(RECS_CHECKPOINT.call(client, keys, args)).rejects.toThrow(/refused: /);
    }
    expect(await client.keys('bad:*')).toEqual([]);
  });

  it('reads the fence from its name before the hash tag, and moves it on the first checkpoint', async () => {
    const params = { ...DEFAULT_PARAMS };
    const red = new RedisRecStore(client, { params, sessionTtlMs: 10_000, userTtlMs: 20_000, itemTtlMs: 30_000, prefix: 'old:' });
    await client.hset('old:part:3', 'lastSeq', '41');
    expect(await red.lastSeq(3)).toBe(41);
    expect(await red.restore(3)).toBe(41);
    expect(await red.checkpoint({ partition: 3, expectedSeq: 0, newSeq: 50 })).toEqual({ status: 'conflict', lastSeq: 41 });
    expect(await red.restore(3)).toBe(41);
    expect(await red.checkpoint({ partition: 3, expectedSeq: 41, newSeq: 50 })).toEqual({ status: 'ok' });
    expect(await client.exists('old:part:3')).toBe(0);
    expect(await client.hget('old:{p3}:part', 'lastSeq')).toBe('50');
    expect(await red.lastSeq(3)).toBe(50);
  });

  it("the Lua partition_of (libs/contracts) is partitionOf (property)", async () => {
    await fc.assert(
      fc.asyncProperty(fc.array(fc.oneof(fc.string({ unit: 'grapheme' }), fc.constantFrom('s1', '会话', '😀', '')), { minLength: 1, maxLength: 20 }), fc.integer({ min: 1, max: 1024 }), async (ids, n) => {
        const lua = await client.eval(`${PARTITION_OF_LUA}\nlocal out = {}\nfor i, a in ipairs(ARGV) do if i > 1 then out[i - 1] = partition_of(a, tonumber(ARGV[1])) end end\nreturn out`, 0, String(n), ...ids);
        expect(lua).toEqual(ids.map((id) => partitionOf(id, n)));
      }),
      { numRuns: 50 },
    );
  });

  it("the Lua keypart (libs/state) is encodeKeyPart (property, valid Unicode)", async () => {
    await fc.assert(
      fc.asyncProperty(fc.array(fc.oneof(fc.string({ unit: 'grapheme' }), fc.string({ unit: 'binary' }).filter((x) => x.isWellFormed()), fc.constantFrom(':', '{', '}', '*', '%', '\\', ' ', '\u0000', '\u007f', '😀', '中文')), { minLength: 1, maxLength: 20 }), async (parts) => {
        const lua = await client.eval(`${KEY_PART_LUA}\nlocal out = {}\nfor i, a in ipairs(ARGV) do out[i] = keypart(a) end\nreturn out`, 0, ...parts);
        expect(lua).toEqual(parts.map(encodeKeyPart));
      }),
      { numRuns: 50 },
    );
  });
});
