/**
 * Every Redis store of the services on a real 6-node Redis Cluster (3 masters, a replica each; apps/cli
 * local-redis-cluster.ts) with REDIS_MODE=cluster's client: the same results as the in-memory references
 * (aggregation with crashes, recommendation, dedup), alerting's transactions, WAIT on the node of the write
 * (and a checkpoint not replicated refused as not durable), the key migration across slots, and the launcher.
 */
import fc from 'fast-check';
import type { Cluster } from 'ioredis';
import Redis from 'ioredis';
import { type TidemarkEvent, partitionOf } from '@tidemark/contracts';
import { loadConfig } from '@tidemark/config';
import { DEFAULT_RULES } from '@tidemark/alerting';
import { DEFAULT_PARAMS, checkpointOps, planInteractions, type RecParams } from '@tidemark/recommend';
import { InMemoryDedupStore, NotDurableError, RedisDedupStore, connectRedisClient, dedupKey, isCluster, keySlot, scanKeys } from '@tidemark/state';
import { DEFAULT_METRICS, MetricSet, PartitionedTestDriver, type MetricDefinition } from '@tidemark/streaming';
import { BASE, chunks, inBoundOrder, shopStreamArb } from '../libs/streaming/src/testing/generators';
import { referenceResults } from '../libs/streaming/src/testing/reference';
import { AGG_KEYS, RedisAggregationStore } from '../apps/aggregation/src/redis-aggregation.store';
import { RedisRecStore } from '../apps/recommendation/src/redis-rec.store';
import { AlertStore, KEYS as ALERT_KEYS, LEGACY_KEYS as ALERT_LEGACY_KEYS } from '../apps/alerting/src/alert-store';
import { describeClaims } from '../apps/cli/src/chaos-diagnosis';
import { orderCheckpoint } from './support/checkpoints';
import { H, T, check, interaction } from './support/rec-stores';
import { type RedisClusterHandle, startRedisCluster } from './support/servers';

jest.setTimeout(120_000);

let cluster: RedisClusterHandle;
let client: Cluster;
const WAIT = { replicas: 1, timeoutMs: 500 };

beforeAll(async () => {
  cluster = await startRedisCluster();
  const c = await connectRedisClient({ mode: 'cluster', seeds: cluster.seeds.split(',') }, 'test');
  if (!isCluster(c)) throw new Error('expected a Cluster client');
  client = c;
});

afterAll(async () => {
  await client?.quit().catch(() => client.disconnect());
  await cluster?.dispose();
});

async function flushAll(): Promise<void> {
  await Promise.all(client.nodes('master').map((n) => n.flushdb()));
}

/** How many WAIT commands each master has run (INFO commandstats). */
async function waitCalls(): Promise<Map<number, number>> {
  const out = new Map<number, number>();
  for (const n of client.nodes('master')) {
    const text = await n.info('commandstats');
    out.set(Number(n.options.port), Number(/cmdstat_wait:calls=(\d+)/.exec(text)?.[1] ?? 0));
  }
  return out;
}

/**
 * Runs `f` while the replica of `key`'s master is paused (SIGSTOP): connected, acknowledging nothing — a kill
 * would start a failover clock too.
 */
async function withReplicaPaused(key: string, f: () => Promise<void>): Promise<void> {
  const master = await cluster.masterOf(key);
  const direct = new Redis({ port: master.port });
  const info = await direct.info('replication');
  direct.disconnect();
  const replicaPort = Number(/slave0:ip=[^,]+,port=(\d+)/.exec(info)![1]);
  const replica = cluster.nodes.find((n) => n.port === replicaPort)!;
  process.kill(replica.pid!, 'SIGSTOP');
  try {
    await f();
  } finally {
    process.kill(replica.pid!, 'SIGCONT');
  }
}

describe('the local Redis Cluster', () => {
  it('has 3 masters with a replica each, covers every slot, hashes keys like Redis, finds a key’s master', async () => {
    const roles = await Promise.all(cluster.nodes.map((n) => n.role()));
    expect(roles.filter((r) => r === 'master')).toHaveLength(3);
    expect(roles.filter((r) => r === 'replica')).toHaveLength(3);
    expect(cluster.seeds.split(',')).toEqual(cluster.nodes.map((n) => n.url));
    const keys = ['tm:agg:{p0}:cp', 'tm:agg:{agg}:wm', 'alerting:{a}:rules', 'recs:{p3}:nb', 'tm:dedup:{d7}:4103', 'plain', '中文{x}'];
    for (const k of keys) expect(await client.cluster('KEYSLOT', k)).toBe(keySlot(k));
    const master = await cluster.masterOf('tm:agg:{p1}:cp');
    await client.set('tm:agg:{p1}:probe', 'here');
    const direct = new Redis({ port: master.port, lazyConnect: true });
    await direct.connect();
    expect(await direct.get('tm:agg:{p1}:probe')).toBe('here');
    direct.disconnect();
  });

  it('fails fast naming the seeds without their password', async () => {
    await expect(connectRedisClient({ mode: 'cluster', seeds: ['redis://u:hunter2@127.0.0.1:1'] }, 'test')).rejects.toThrow(/redis:\/\/u:\*\*\*@127\.0\.0\.1:1/);
    await expect(connectRedisClient({ mode: 'cluster', seeds: ['redis://u:hunter2@127.0.0.1:1'] }, 'test')).rejects.not.toThrow(/hunter2/);
  });
});

type R = { metric: string; key: string; windowStart: number; windowEnd: number; value: unknown; version: number };
const sorted = (rs: readonly R[]) => [...rs].map((r) => JSON.stringify([r.metric, r.key, r.windowStart, r.windowEnd, r.version, r.value])).sort();

describe('RedisAggregationStore on the cluster', () => {
  it('gives the same results as the in-memory store, through crashes, partitions on different masters (property)', async () => {
    const masters = new Set(await Promise.all([0, 1, 2, 3].map(async (p) => (await cluster.masterOf(AGG_KEYS.checkpoint(p))).port)));
    expect(masters.size).toBeGreaterThan(1); // the partitions' slots really are spread
    await fc.assert(
      fc.asyncProperty(
        shopStreamArb(2 * 3_600_000, 60),
        fc.array(fc.nat(), { minLength: 1, maxLength: 20 }),
        fc.array(fc.nat(), { maxLength: 10 }),
        fc.array(fc.nat(), { maxLength: 3 }),
        async (events, delays, cuts, crashes) => {
          await flushAll();
          const partitions = 4;
          const bound = 60_000;
          const arrival = inBoundOrder(events as TidemarkEvent[], delays, bound);
          const set = new MetricSet(DEFAULT_METRICS);
          const opts = { maxOutOfOrdernessMs: bound, partitions };
          const mem = new PartitionedTestDriver(set, opts);
          const red = new PartitionedTestDriver(set, { ...opts, store: new RedisAggregationStore(client, set, { wait: WAIT }) });
          const partitionOf = (e: TidemarkEvent) => Number(e.sessionId.slice(1)) % partitions;
          const batches = chunks(arrival, cuts);
          for (let i = 0; i < batches.length; i++) {
            const byPart = new Map<number, TidemarkEvent[]>();
            for (const e of batches[i]) byPart.set(partitionOf(e), [...(byPart.get(partitionOf(e)) ?? []), e]);
            for (const [p, list] of byPart) {
              await mem.processBatch(list, { partition: p });
              await red.processBatch(list, { partition: p });
            }
            if (crashes.includes(i)) {
              await mem.crash(i % partitions);
              await red.crash(i % partitions);
            }
          }
          await mem.processWatermark(BASE + 1e10);
          await red.processWatermark(BASE + 1e10);
          expect(sorted(red.results)).toEqual(sorted(mem.results));
          for (const def of DEFAULT_METRICS as readonly MetricDefinition[]) {
            if (def.aggregation.type === 'join' || def.source?.late || def.aggregation.type === 'distinct') continue;
            expect(red.latest(def.name).map((r) => ({ metric: r.metric, key: r.key, windowStart: r.windowStart, windowEnd: r.windowEnd, value: r.value }))).toEqual(referenceResults(def, events as TidemarkEvent[]));
          }
        },
      ),
      { numRuns: 8 },
    );
  });

  const cp = orderCheckpoint;

  it('sends WAIT with each checkpoint to the master of that partition, and to no other node', async () => {
    await flushAll();
    const store = new RedisAggregationStore(client, new MetricSet(DEFAULT_METRICS), { wait: WAIT });
    for (const p of [0, 1, 2, 5]) {
      const owner = (await cluster.masterOf(AGG_KEYS.checkpoint(p))).port;
      const before = await waitCalls();
      expect(await store.checkpoint(p, cp())).toEqual({ status: 'ok', watermark: null, horizon: null });
      const after = await waitCalls();
      for (const [port, n] of after) expect(n - before.get(port)!).toBe(port === owner ? 1 : 0);
    }
  });

  it('a checkpoint its replica did not acknowledge is written, not durable; the next one is fenced on it and, once replicated, durable', async () => {
    await flushAll();
    const store = new RedisAggregationStore(client, new MetricSet(DEFAULT_METRICS), { wait: { replicas: 1, timeoutMs: 200 } });
    const p = 6;
    await withReplicaPaused(AGG_KEYS.checkpoint(p), async () => {
      expect(await store.checkpoint(p, cp())).toEqual({ status: 'ok', watermark: null, horizon: null, durable: false });
    });
    expect(await client.hget(AGG_KEYS.checkpoint(p), 'seq')).toBe('5');
    // the same checkpoint again is refused (the fence moved to it) ...
    expect(await store.checkpoint(p, cp())).toEqual({ status: 'conflict', seq: 5 });
    // ... the next one, fenced on it, is durable with the replica back: its WAIT covers both writes
    expect(await store.checkpoint(p, cp({ expectedSeq: 5, seq: 6, expectedEpoch: 1 }))).toEqual({ status: 'ok', watermark: null, horizon: null });
  });

  it('raises the watermark and horizon into every partition, each call on its own slot', async () => {
    await flushAll();
    const store = new RedisAggregationStore(client, new MetricSet(DEFAULT_METRICS));
    await store.raiseWatermark(8, 60_000);
    await store.raiseHorizon(8, 30_000);
    for (let p = 0; p < 8; p++) expect(await store.watermarkOf(p)).toEqual({ watermark: 60_000, horizon: 30_000 });
    expect([await store.watermark(), await store.horizon()]).toEqual([60_000, 30_000]);
    expect((await store.statuses(8)).length).toBe(0); // records without a checkpoint sequence are not statuses
    await store.checkpoint(3, cp());
    await store.checkpoint(7, cp());
    expect((await store.statuses(8)).map((s) => s.partition)).toEqual([3, 7]);
  });

  it('moves the firer keys of a standalone data set to their {agg} names across slots (migration)', async () => {
    await flushAll();
    await client.set('tm:agg:wm', '120000');
    await client.hset('tm:agg:fired', 'orders', '120000');
    await client.hset('tm:agg:res:orders', '["all",0,60000]', '{"v":1}');
    await client.zadd('tm:agg:idx:orders', 0, '["all",0,60000]');
    expect(keySlot('tm:agg:wm')).not.toBe(keySlot(AGG_KEYS.watermark));
    const store = new RedisAggregationStore(client, new MetricSet(DEFAULT_METRICS));
    expect(await store.migrateLegacyKeys()).toBe(4);
    expect(await store.migrateLegacyKeys()).toBe(0);
    expect(await store.watermark()).toBe(120_000);
    expect(await store.firedThrough('orders')).toBe(120_000);
    expect(await store.readResults('orders', [{ key: 'all', windowStart: 0, windowEnd: 60_000 }])).toEqual(['{"v":1}']);
    expect(await client.zrange(AGG_KEYS.index('orders'), 0, -1)).toEqual(['["all",0,60000]']);
    expect(await scanKeys(client, 'tm:agg:*')).toEqual(expect.not.arrayContaining(['tm:agg:wm', 'tm:agg:fired']));
  });
});

describe('RedisRecStore on the cluster', () => {
  it('agrees with InMemoryRecStore (reads fanned out over the partitions’ slots, WAIT after each checkpoint)', async () => {
    const params: RecParams = { ...DEFAULT_PARAMS, coocHalfLifeMs: H, trendingHalfLifeMs: H, neighbours: 3, userRecent: 2, sessionWindow: 3, trendingSize: 4, seqSteps: 2, knnVisits: 2, knnNeighbours: 2, sessionAnchors: 2 };
    // The checkpoints are partition 0's (one hash tag a checkpoint, as in the service): its visits only.
    const sessions = ['s1', 's:2', 's 3', '会话', ...Array.from({ length: 40 }, (_, i) => `v:${i}`)].filter((s) => partitionOf(s, 4) === 0).slice(0, 4);
    expect(sessions.length).toBe(4);
    await fc.assert(
      fc.asyncProperty(fc.array(fc.array(interaction(fc.integer({ min: 0, max: 80 }).map((k) => k * H), sessions), { minLength: 1, maxLength: 8 }), { minLength: 1, maxLength: 5 }), (batches) => check(client, batches, params, true, { wait: WAIT, sessions })),
      { numRuns: 10 },
    );
    expect(T).toBeGreaterThan(0);
  });

  it('a checkpoint its replica did not acknowledge is written, not durable; the next, fenced on it, is durable', async () => {
    await flushAll();
    const params: RecParams = { ...DEFAULT_PARAMS };
    const store = new RedisRecStore(client, { params, sessionTtlMs: 60_000, userTtlMs: 1e12, itemTtlMs: 1e12, prefix: 'w:', partitions: 4, wait: { replicas: 1, timeoutMs: 200 } });
    const session = ['s1', 's2', 's3', 's4', 's5', 's6', 's7', 's8'].find((s) => partitionOf(s, 4) === 0)!;
    const ops = (ts: number) => planInteractions([{ userId: 'u1', sessionId: session, productId: 'p1', categoryId: 'c1', level: 1, ts }], new Map(), params).ops;
    expect(await store.restore(0)).toBe(0);
    await withReplicaPaused('{p0}', async () => {
      expect(await checkpointOps(store, { partition: 0, expectedSeq: 0, newSeq: 5 }, ops(T))).toEqual({ status: 'ok', durable: false });
    });
    expect(await store.lastSeq(0)).toBe(5);
    expect(await checkpointOps(store, { partition: 0, expectedSeq: 0, newSeq: 5 }, ops(T))).toEqual({ status: 'conflict', lastSeq: 5 });
    expect(await store.restore(0)).toBe(5);
    expect(await checkpointOps(store, { partition: 0, expectedSeq: 5, newSeq: 6 }, ops(T + 1))).toEqual({ status: 'ok' });
  });
});

describe('RedisDedupStore on the cluster', () => {
  it('decides exactly like the in-memory reference, with sweeps, claims split per hash-tag group (property)', async () => {
    let run = 0;
    await fc.assert(
      fc.asyncProperty(
        fc.array(fc.record({ items: fc.array(fc.record({ id: fc.integer({ min: 0, max: 40 }), seq: fc.integer({ min: 1, max: 20 }), index: fc.integer({ min: 0, max: 3 }) }), { maxLength: 30 }), hour: fc.integer({ min: 0, max: 60 }), sweep: fc.boolean() }), { maxLength: 6 }),
        async (calls) => {
          const prefix = `c${run++}:`;
          const real = new RedisDedupStore(client, 24 * 3_600_000, { slots: 64, prefix, wait: WAIT });
          const ref = new InMemoryDedupStore(24 * 3_600_000, 64);
          for (const c of calls) {
            const now = c.hour * 3_600_000;
            const items = c.items.map((b) => ({ id: `id-${b.id}`, seq: b.seq, index: b.index, timeMs: now }));
            expect(await real.claim(items, now)).toEqual(await ref.claim(items, now));
            if (c.sweep) expect(await real.sweep(now)).toBe(await ref.sweep(now));
          }
        },
      ),
      { numRuns: 15 },
    );
  });

  it('a claim its replica did not acknowledge throws NotDurableError; claimed anyway, the retry is a redelivery', async () => {
    const store = new RedisDedupStore(client, 3_600_000, { slots: 64, prefix: 'nd:', wait: { replicas: 1, timeoutMs: 200 } });
    const items = [{ id: 'x', seq: 3, index: 0, timeMs: 0 }];
    const key = store.slotKey(dedupKey('x', 64).slot);
    await withReplicaPaused(key, async () => {
      await expect(store.claim(items, 0)).rejects.toBeInstanceOf(NotDurableError);
    });
    expect(await store.claim(items, 0)).toEqual(['retry']);
    expect(await store.claim([{ ...items[0], seq: 4 }], 0)).toEqual(['duplicate']);
  });

    it('moves slot hashes of a standalone data set to their tagged names (migration over every master)', async () => {
    await flushAll();
    for (const s of [1, 2, 17, 40]) await client.hset(`mg:${s}`, 'f', 'v');
    const store = new RedisDedupStore(client, 3_600_000, { slots: 64, prefix: 'mg:' });
    expect(await store.migrateLegacyKeys()).toBe(4);
    expect(await store.migrateLegacyKeys()).toBe(0);
    expect((await scanKeys(client, 'mg:*')).sort()).toEqual([1, 17, 2, 40].map((s) => store.slotKey(s)).sort());
  });
});

describe("tidemark chaos's account of a lost event, on the cluster", () => {
  it('names the raw message holding each id and where its claim points, and counts claims at a place that holds another event now', async () => {
    await flushAll();
    // the services' dedup store: default slots and prefix, as describeClaims reads them
    const store = new RedisDedupStore(client, 3_600_000);
    const t = Date.UTC(2026, 11, 6, 14);
    // the broker served frame (a1, a2) as raw seq 2252 and later stored it at 2260; b1 sits at 2252 now
    expect(await store.claim([{ id: 'a1', seq: 2252, index: 0, timeMs: t }, { id: 'a2', seq: 2252, index: 1, timeMs: t }, { id: 'c1', seq: 2270, index: 0, timeMs: t }], t)).toEqual(['first', 'first', 'first']);
    const raw = [
      { id: 'b1', seq: 2252, subject: 'events.raw.0' },
      { id: 'a1', seq: 2260, subject: 'events.raw.3' },
      { id: 'a2', seq: 2260, subject: 'events.raw.3' },
      { id: 'c1', seq: 2270, subject: 'events.raw.5' },
      { id: 'd1', seq: 2280, subject: 'events.raw.1' },
    ];
    const { lines, rewritten } = await describeClaims(cluster.seeds, raw, ['a1', 'a2', 'c1', 'd1']);
    expect(rewritten).toBe(2);
    expect(lines).toEqual([
      'a1 in raw events.raw.3@2260, claimed at raw seq 2252 index 0, which holds b1 now',
      'a2 in raw events.raw.3@2260, claimed at raw seq 2252 index 1, which holds nothing now',
      'c1 in raw events.raw.5@2270, claimed at raw seq 2270 index 0, which holds c1 now',
      'd1 in raw events.raw.1@2280, no claim',
    ]);
  });
});

describe('AlertStore on the cluster', () => {
  it('commits a checkpoint in one script on one slot (fenced), loads it back, moves keys of a standalone data set', async () => {
    await flushAll();
    // Cluster mode: every commit is followed by WAIT on the alerting slot's master (and on no other node).
    const store = new AlertStore(client, loadConfig({ REDIS_MODE: 'cluster', REDIS_WAIT_TIMEOUT_MS: '2000' }));
    const [a, b] = [{ ...DEFAULT_RULES[0], id: 'a-old' }, { ...DEFAULT_RULES[1], id: 'b-new' }];
    await client.hset(ALERT_LEGACY_KEYS.rules, a.id, JSON.stringify(a));
    expect(await store.migrateLegacyKeys()).toBe(1);
    expect(await store.migrateLegacyKeys()).toBe(0);
    const before = await waitCalls();
    expect(await store.commit({ expectedSeq: 0, expectedEpoch: 0, lastSeq: 9, clock: 1000, outboxSeq: 2, changed: [], removed: [], outbox: [], rulesPut: [b], rulesDeleted: [] })).toEqual({ status: 'ok' });
    const after = await waitCalls();
    const owner = (await cluster.masterOf(ALERT_KEYS.meta)).port;
    for (const [port, n] of after) expect(n - before.get(port)!).toBe(port === owner ? 1 : 0);
    expect(await store.commit({ expectedSeq: 3, expectedEpoch: 1, lastSeq: 12, clock: 1000, outboxSeq: 2, changed: [], removed: [], outbox: [], rulesPut: [], rulesDeleted: [b.id] })).toEqual({ status: 'conflict', lastSeq: 9 });
    const loaded = await store.load();
    expect(loaded.rules).toEqual([a, b]);
    expect([loaded.lastSeq, loaded.outboxSeq, loaded.snapshot.clock]).toEqual([9, 2, 1000]);
    expect(new Set(Object.values(ALERT_KEYS).map(keySlot)).size).toBe(1);
  });
});
