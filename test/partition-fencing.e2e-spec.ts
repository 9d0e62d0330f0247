/**
 * Leases and fencing tokens on a real redis-server (docs/scale-out.md "Partitions that move"): the group
 * store's claim / renew / release / heartbeat scripts, and the aggregation and recommendation checkpoint
 * scripts refusing a zombie's write — one whose fencing token is below the partition's current one — before
 * any write, while the rightful owner's writes go through.
 */
import type Redis from 'ioredis';
import { connectRedis } from '@tidemark/state';
import { DEFAULT_METRICS, MetricSet } from '@tidemark/streaming';
import { DEFAULT_PARAMS, checkpointOps, planInteractions } from '@tidemark/recommend';
import { GROUP_KEYS, LeaderLease, PartitionGroup, RedisGroupStore } from '@tidemark/runtime';
import { AGG_KEYS, AGGREGATION_GROUP, RedisAggregationStore } from '../apps/aggregation/src/redis-aggregation.store';
import { RECOMMENDATION_GROUP, RedisRecStore } from '../apps/recommendation/src/redis-rec.store';
import { orderCheckpoint } from './support/checkpoints';
import { eventually } from './support/eventually';
import { ServerHandle, startRedis } from './support/servers';

jest.setTimeout(60_000);

let redis: ServerHandle;
let client: Redis;

beforeAll(async () => {
  redis = await startRedis();
  client = await connectRedis(redis.url, 'test');
});

afterAll(async () => {
  await client?.quit();
  await redis?.dispose();
});

beforeEach(() => client.flushdb());

const dump = async (pattern: string) => {
  const out: Record<string, unknown> = {};
  for (const k of (await client.keys(pattern)).sort()) {
    const t = await client.type(k);
    out[k] = t === 'hash' ? await client.hgetall(k) : t === 'zset' ? await client.zrange(k, 0, -1, 'WITHSCORES') : await client.get(k);
  }
  return out;
};

describe('RedisGroupStore', () => {
  it('claims a free lease with a new token, refuses a held one, renews, releases; tokens only grow', async () => {
    const g = new RedisGroupStore(client);
    const t1 = await g.claimPartition('svc', 3, 'a', 5000);
    expect(t1).toBe(1);
    expect(await g.claimPartition('svc', 3, 'b', 5000)).toBeUndefined();
    expect(await g.renewPartition('svc', 3, 'a', 1, 5000)).toBe(true);
    expect(await g.renewPartition('svc', 3, 'b', 1, 5000)).toBe(false);
    expect(await g.releasePartition('svc', 3, 'b', 1)).toBe(false); // not b's
    expect(await g.releasePartition('svc', 3, 'a', 1)).toBe(true);
    expect(await client.exists(GROUP_KEYS.lease('svc', 3))).toBe(0);
    expect(await g.claimPartition('svc', 3, 'b', 5000)).toBe(2);
    // a's old token can neither renew nor release b's lease
    expect(await g.renewPartition('svc', 3, 'a', 1, 5000)).toBe(false);
    expect(await g.releasePartition('svc', 3, 'a', 1)).toBe(false);
    expect(await client.get(GROUP_KEYS.lease('svc', 3))).toBe('b');
    expect(await client.get(GROUP_KEYS.token('svc', 3))).toBe('2');
  });

  it('a lease that ran out is free for another member (new token); its holder takes it back only while nobody claimed', async () => {
    const g = new RedisGroupStore(client);
    expect(await g.claimPartition('svc', 0, 'a', 150)).toBe(1);
    await new Promise((r) => setTimeout(r, 250));
    expect(await g.renewPartition('svc', 0, 'a', 1, 150)).toBe(true); // expired, unclaimed: still a's token
    await new Promise((r) => setTimeout(r, 250));
    expect(await g.claimPartition('svc', 0, 'b', 5000)).toBe(2);
    expect(await g.renewPartition('svc', 0, 'a', 1, 5000)).toBe(false);
    const leases = await g.leases('svc', 2, 1_000_000);
    expect(leases).toEqual([{ partition: 0, owner: 'b', expiresAt: expect.any(Number) }]);
    expect(leases[0].expiresAt).toBeGreaterThan(1_000_000 + 4000);
  });

  it('heartbeats on Redis’ clock and drops members past the session timeout', async () => {
    const g = new RedisGroupStore(client);
    const first = await g.heartbeat('svc', 'a', 200);
    expect(first.members.map((m) => m.id)).toEqual(['a']);
    expect(Math.abs(first.now - Date.now())).toBeLessThan(5000);
    await new Promise((r) => setTimeout(r, 300));
    const second = await g.heartbeat('svc', 'b', 200);
    expect(second.members.map((m) => m.id)).toEqual(['b']);
    expect(await client.hkeys(GROUP_KEYS.members('svc'))).toEqual(['b']);
    await g.leave('svc', 'b');
    expect(await client.exists(GROUP_KEYS.members('svc'))).toBe(0);
  });

  it('members of a group split the partitions, take a leaver’s at once and a dead one’s after its lease', async () => {
    const store = new RedisGroupStore(client);
    const timings = { heartbeatMs: 50, sessionTimeoutMs: 400, leaseMs: 400 };
    const events: string[] = [];
    const member = (id: string) =>
      new PartitionGroup(store, 'svc', id, 6, timings, {
        acquire: async (p, token) => void events.push(`${id}+${p}@${token}`),
        release: async (p, lost) => void events.push(`${id}-${p}${lost ? '!' : ''}`),
      });
    const a = member('a');
    const b = member('b');
    const c = member('c');
    await a.start();
    expect(a.ownedPartitions()).toEqual([0, 1, 2, 3, 4, 5]);
    await b.start();
    await eventually(async () => expect([a.ownedPartitions().length, b.ownedPartitions().length]).toEqual([3, 3]), { timeoutMs: 5000, intervalMs: 20 });
    expect(new Set([...a.ownedPartitions(), ...b.ownedPartitions()]).size).toBe(6);
    // b leaves gracefully: its partitions released at once, a takes them in a heartbeat or two.
    const left = Date.now();
    await b.stop();
    expect(await client.keys('tm:group:svc:*:lease')).toHaveLength(3);
    await eventually(async () => expect(a.ownedPartitions()).toEqual([0, 1, 2, 3, 4, 5]), { timeoutMs: 5000, intervalMs: 10 });
    expect(Date.now() - left).toBeLessThan(300);
    // c joins, then "dies" (stops heartbeating without releasing): a gets them back after the lease runs out.
    await c.start();
    await eventually(async () => expect(c.ownedPartitions().length).toBe(3), { timeoutMs: 5000, intervalMs: 20 });
    const tokens = new Map(c.owned);
    (c as unknown as { stopped: boolean }).stopped = true; // no more heartbeats, nothing released: a kill -9
    const died = Date.now();
    await eventually(async () => expect(a.ownedPartitions()).toEqual([0, 1, 2, 3, 4, 5]), { timeoutMs: 5000, intervalMs: 10 });
    expect(Date.now() - died).toBeGreaterThanOrEqual(250); // not before its lease ran out
    for (const [p, t] of tokens) expect(a.owned.get(p)).toBeGreaterThan(t);
    await a.stop();
    expect(await client.keys('tm:group:svc:*:lease')).toEqual([]);
    expect(events.filter((e) => e.endsWith('!'))).toEqual([]);
  });

  it('a leader lease has one holder; release hands it over at once', async () => {
    const store = new RedisGroupStore(client);
    const x = new LeaderLease(store, 'firer', 'x', 2000);
    const y = new LeaderLease(store, 'firer', 'y', 2000);
    expect(await x.hold()).toBe(true);
    expect(await y.hold()).toBe(false);
    expect(await x.hold()).toBe(true);
    await x.release();
    expect(await y.hold()).toBe(true);
    expect(y.fencingToken).toBe(2);
    expect(await x.hold()).toBe(false);
  });
});

describe('fencing tokens in the checkpoint scripts', () => {
  const cp = orderCheckpoint;

  it('aggregation: a zombie with an old token is refused before any write; the owner’s writes go through', async () => {
    const store = new RedisAggregationStore(client, new MetricSet(DEFAULT_METRICS));
    const groups = new RedisGroupStore(client);
    const zombieToken = (await groups.claimPartition(AGGREGATION_GROUP, 2, 'zombie', 100))!;
    expect(await store.checkpoint(2, cp({ token: zombieToken }))).toMatchObject({ status: 'ok' });
    await new Promise((r) => setTimeout(r, 150)); // the zombie pauses; its lease runs out
    const ownerToken = (await groups.claimPartition(AGGREGATION_GROUP, 2, 'owner', 5000))!;
    expect(ownerToken).toBeGreaterThan(zombieToken);
    const before = await dump('tm:agg:*');
    // Refused on the lease's counter alone, even before the owner wrote anything, whatever the sequence says.
    expect(await store.checkpoint(2, cp({ expectedSeq: 5, seq: 9, token: zombieToken, cells: [{ metric: 'orders', pane: 0, key: 'all', from: null, value: '{"count":99}', firstEnd: 60_000 }] }))).toEqual({
      status: 'fenced',
      token: ownerToken,
    });
    expect(await dump('tm:agg:*')).toEqual(before);
    // The owner writes with its token, which is stored beside the checkpoint.
    expect(await store.checkpoint(2, cp({ expectedSeq: 5, seq: 7, expectedEpoch: 1, token: ownerToken }))).toMatchObject({ status: 'ok' });
    expect(await client.hget(AGG_KEYS.checkpoint(2), 'token')).toBe(String(ownerToken));
    // Even with the counter gone (say, a lease key lost), the stored token still fences the zombie.
    await client.del(GROUP_KEYS.token(AGGREGATION_GROUP, 2));
    expect(await store.checkpoint(2, cp({ expectedSeq: 7, seq: 8, expectedEpoch: 2, token: zombieToken }))).toEqual({ status: 'fenced', token: ownerToken });
    expect(await client.hget(AGG_KEYS.checkpoint(2), 'seq')).toBe('7');
    // Static ownership (no token) is not fenced, as before.
    expect(await store.checkpoint(2, cp({ expectedSeq: 7, seq: 8, expectedEpoch: 2 }))).toMatchObject({ status: 'ok' });
  });

  it('recommendation: a zombie with an old token is refused before any write; the owner’s writes go through', async () => {
    const params = { ...DEFAULT_PARAMS };
    const T = Date.UTC(2026, 0, 1);
    const ops = (s: string, item: string) => planInteractions([{ userId: 'u', sessionId: s, productId: item, categoryId: 'c', level: 1, ts: T }], new Map(), params).ops;
    const zombie = new RedisRecStore(client, { params, sessionTtlMs: 60_000, userTtlMs: 60_000, itemTtlMs: 60_000, partitions: 1 });
    const owner = new RedisRecStore(client, { params, sessionTtlMs: 60_000, userTtlMs: 60_000, itemTtlMs: 60_000, partitions: 1 });
    const groups = new RedisGroupStore(client);
    const zt = (await groups.claimPartition(RECOMMENDATION_GROUP, 0, 'zombie', 100))!;
    expect(await zombie.restore(0)).toBe(0);
    expect(await checkpointOps(zombie, { partition: 0, expectedSeq: 0, newSeq: 1, token: zt }, ops('s1', 'A'))).toEqual({ status: 'ok' });
    await new Promise((r) => setTimeout(r, 150));
    const ot = (await groups.claimPartition(RECOMMENDATION_GROUP, 0, 'owner', 5000))!;
    const before = await dump('recs:*');
    expect(await checkpointOps(zombie, { partition: 0, expectedSeq: 1, newSeq: 2, token: zt }, ops('s2', 'Z'))).toEqual({ status: 'fenced', token: ot });
    expect(() => zombie.writer(0)).toThrow(/not restored/); // its memory is worthless now
    expect(await dump('recs:*')).toEqual(before);
    expect(await owner.restore(0)).toBe(1);
    expect(await checkpointOps(owner, { partition: 0, expectedSeq: 1, newSeq: 2, token: ot }, ops('s3', 'B'))).toEqual({ status: 'ok' });
    expect(await client.hget('recs:{p0}:part', 'token')).toBe(String(ot));
    expect((await client.hkeys('recs:{p0}:nb')).sort()).toEqual(['A', 'B']);
  });
});
