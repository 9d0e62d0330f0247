/**
 * The aggregation's Redis store against the in-memory one (libs/streaming partitioned/store.ts), on a real
 * redis-server: the same operator, firer and events through the TopologyTestDriver give the same published
 * results, with crashes (memory lost, restored from the checkpoint, replayed) and tricky key values; and the
 * checkpoint script is fenced and checks everything before its first write.
 */
import fc from 'fast-check';
import type Redis from 'ioredis';
import type { TidemarkEvent } from '@tidemark/contracts';
import { connectRedis } from '@tidemark/state';
import { DEFAULT_METRICS, MemoryAggregationStore, mergeWindowCells, MetricSet, PartitionedTestDriver, REFIRE_ALL, type CellWrite, type MetricDefinition, type PartitionCheckpoint, type StoredCell } from '@tidemark/streaming';
import { BASE, chunks, inBoundOrder, shopStreamArb } from '../libs/streaming/src/testing/generators';
import { referenceResults } from '../libs/streaming/src/testing/reference';
import { AGG_KEYS, RedisAggregationStore } from '../apps/aggregation/src/redis-aggregation.store';
import { orderCheckpoint } from './support/checkpoints';
import { ServerHandle, startRedis } from './support/servers';

jest.setTimeout(180_000);

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

const TRICKY = [':', '{', '}', '*', 'Z:r', 'a:b:r', '😀', '中文', '%3A', 'k'.repeat(130)];
type R = { metric: string; key: string; windowStart: number; windowEnd: number; value: unknown; version: number };
/** Published results in a canonical order (the order within a round follows hash iteration order). */
const sorted = (rs: readonly R[]) => [...rs].map((r) => JSON.stringify([r.metric, r.key, r.windowStart, r.windowEnd, r.version, r.value])).sort();

describe('RedisAggregationStore', () => {
  it('gives the same results as the in-memory store, through crashes and tricky keys (property)', async () => {
    await fc.assert(
      fc.asyncProperty(
        shopStreamArb(2 * 3_600_000, 80),
        fc.array(fc.nat(), { minLength: 1, maxLength: 30 }),
        fc.integer({ min: 1, max: 3 }),
        fc.array(fc.nat(), { maxLength: 12 }),
        fc.array(fc.nat(), { maxLength: 4 }),
        async (raw, delays, partitions, cuts, crashes) => {
          await client.flushdb();
          // Every id field of some events takes a tricky value.
          const events: TidemarkEvent[] = raw.map((e, i) => (i % 4 === 0 ? { ...e, productId: TRICKY[i % TRICKY.length], orderId: e.orderId === undefined ? undefined : TRICKY[(i + 3) % TRICKY.length] } : e)) as TidemarkEvent[];
          const bound = 60_000;
          const arrival = inBoundOrder(events, delays, bound);
          const set = new MetricSet(DEFAULT_METRICS);
          const opts = { maxOutOfOrdernessMs: bound, partitions };
          const mem = new PartitionedTestDriver(set, opts);
          const red = new PartitionedTestDriver(set, { ...opts, store: new RedisAggregationStore(client, set) });
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
            expect(red.latest(def.name).map((r) => ({ metric: r.metric, key: r.key, windowStart: r.windowStart, windowEnd: r.windowEnd, value: r.value }))).toEqual(referenceResults(def, events));
          }
        },
      ),
      { numRuns: 25 },
    );
  });

  const cp = orderCheckpoint;

  it('is fenced: a checkpoint expecting another sequence writes nothing and says where it is', async () => {
    await client.flushdb();
    const store = new RedisAggregationStore(client, new MetricSet(DEFAULT_METRICS));
    expect(await store.checkpoint(3, cp())).toEqual({ status: 'ok', watermark: null, horizon: null });
    expect(await store.checkpoint(3, cp({ expectedSeq: 0, seq: 9, cells: [{ metric: 'orders', pane: 0, key: 'all', from: null, value: '{"count":7}', firstEnd: 60_000 }] }))).toEqual({ status: 'conflict', seq: 5 });
    expect(await client.hget(AGG_KEYS.pane(3, 'orders', 0), 'all')).toBe('{"count":1}');
    // the epoch too: a second checkpoint at the same sequence (no new events), then one that missed it
    expect(await store.checkpoint(3, cp({ expectedSeq: 5, seq: 5, expectedEpoch: 1, cells: [] }))).toMatchObject({ status: 'ok' });
    expect((await store.restore(3)).epoch).toBe(2);
    expect(await store.checkpoint(3, cp({ expectedSeq: 5, seq: 6, expectedEpoch: 1, cells: [{ metric: 'orders', pane: 0, key: 'all', from: null, value: '{"count":7}', firstEnd: 60_000 }] }))).toEqual({ status: 'conflict', seq: 5 });
    expect(await client.hget(AGG_KEYS.pane(3, 'orders', 0), 'all')).toBe('{"count":1}');
  });

  it('checks every key before its first write: a wrong-typed key fails the call and leaves everything as it was', async () => {
    await client.flushdb();
    const store = new RedisAggregationStore(client, new MetricSet(DEFAULT_METRICS));
    await client.set(AGG_KEYS.pane(2, 'gmv', 0), 'not a hash');
    const bad = cp({ cells: [{ metric: 'orders', pane: 0, key: 'all', from: null, value: '{"count":1}', firstEnd: 60_000 }, { metric: 'gmv', pane: 0, key: 'all', from: null, value: '{"micros":1}', firstEnd: 60_000 }] });
    await expect(store.checkpoint(2, bad)).rejects.toThrow(/tidemark checkpoint/);
    expect(await client.exists(AGG_KEYS.pane(2, 'orders', 0), AGG_KEYS.checkpoint(2))).toBe(0);
  });

  it('moves the firer keys of the layout before the {agg} hash tag once, keeping their values (migration)', async () => {
    await client.flushdb();
    await client.set('tm:agg:wm', '120000');
    await client.set('tm:agg:hz', '60000');
    await client.hset('tm:agg:fired', 'orders', '120000');
    await client.hset('tm:agg:res:orders', '["all",0,60000]', '{"v":1}');
    await client.zadd('tm:agg:idx:orders', 0, '["all",0,60000]');
    await client.set(AGG_KEYS.horizon, '90000'); // written by the new layout already: the new one wins
    const store = new RedisAggregationStore(client, new MetricSet(DEFAULT_METRICS));
    expect(await store.migrateLegacyKeys()).toBe(4);
    expect(await store.migrateLegacyKeys()).toBe(0);
    expect(await store.watermark()).toBe(120_000);
    expect(await store.horizon()).toBe(90_000);
    expect(await client.get('tm:agg:hz')).toBe('60000');
    expect(await store.firedThrough('orders')).toBe(120_000);
    expect(await store.readResults('orders', [{ key: 'all', windowStart: 0, windowEnd: 60_000 }])).toEqual(['{"v":1}']);
    expect(await client.exists('tm:agg:wm', 'tm:agg:fired', 'tm:agg:res:orders', 'tm:agg:idx:orders')).toBe(0);
  });

  it('records results as the in-memory store does, the last write of a window winning, in a few commands a metric', async () => {
    await client.flushdb();
    const metrics = new MetricSet(DEFAULT_METRICS);
    const store = new RedisAggregationStore(client, metrics);
    const memory = new MemoryAggregationStore();
    const result = (metric: string, key: string, start: number, value: string | null) => ({ metric, key, windowStart: start, windowEnd: start + 60_000, value });
    // 2,500 windows of one metric (more than one command's worth), tricky keys, a window written twice and one
    // set then deleted in the same call, another metric beside it
    const batch = [
      ...Array.from({ length: 2500 }, (_, i) => result('product_views', TRICKY[i % TRICKY.length] + i, (i % 7) * 60_000, `{"v":${i}}`)),
      result('product_views', 'twice', 0, '{"v":"first"}'),
      result('orders', 'all', 0, '{"v":1}'),
      result('product_views', 'twice', 0, '{"v":"second"}'),
      result('orders', 'gone', 60_000, '{"v":2}'),
      result('orders', 'gone', 60_000, null),
    ];
    const commands = async () => [...(await client.info('commandstats')).matchAll(/^cmdstat_(?:hset|zadd|hdel|zrem):calls=(\d+)/gm)].reduce((a, m) => a + Number(m[1]), 0);
    const before = await commands();
    await store.writeResults(batch);
    await memory.writeResults(batch);
    // product_views: 3 HSET + 3 ZADD of 1,000; orders: 1 + 1 set, 1 + 1 deleted
    expect((await commands()) - before).toBe(10);
    expect(await store.readResults('product_views', [{ key: 'twice', windowStart: 0, windowEnd: 60_000 }])).toEqual(['{"v":"second"}']);
    // a later call deletes one of the first
    await store.writeResults([result('product_views', 'twice', 0, null)]);
    await memory.writeResults([result('product_views', 'twice', 0, null)]);
    for (const metric of ['product_views', 'orders']) {
      const refs = batch.filter((r) => r.metric === metric).map((r) => ({ key: r.key, windowStart: r.windowStart, windowEnd: r.windowEnd }));
      expect(await store.readResults(metric, refs)).toEqual(await memory.readResults(metric, refs));
      // the index holds exactly the windows the results hash holds, scored by their start
      const hash = await client.hgetall(AGG_KEYS.results(metric));
      const index = await client.zrange(AGG_KEYS.index(metric), 0, -1, 'WITHSCORES');
      const scored = new Map<string, number>();
      for (let i = 0; i < index.length; i += 2) scored.set(index[i], Number(index[i + 1]));
      expect([...scored.keys()].sort()).toEqual(Object.keys(hash).sort());
      for (const member of scored.keys()) expect(scored.get(member)).toBe((JSON.parse(member) as [string, number])[1]);
    }
    expect(await store.readResults('product_views', [{ key: 'twice', windowStart: 0, windowEnd: 60_000 }])).toEqual([null]);
    expect(await store.readResults('orders', [{ key: 'all', windowStart: 0, windowEnd: 60_000 }, { key: 'gone', windowStart: 60_000, windowEnd: 120_000 }])).toEqual(['{"v":1}', null]);
    expect(await client.hlen(AGG_KEYS.results('product_views'))).toBe(2500);
  });

  it('raises the watermark into every partition before the global key, the horizon after it', async () => {
    await client.flushdb();
    const store = new RedisAggregationStore(client, new MetricSet(DEFAULT_METRICS));
    await store.raiseWatermark(3, 60_000);
    await store.raiseHorizon(3, 30_000);
    await store.raiseWatermark(3, 50_000); // never lowered
    for (let p = 0; p < 3; p++) expect(await store.watermarkOf(p)).toEqual({ watermark: 60_000, horizon: 30_000 });
    expect([await store.watermark(), await store.horizon()]).toEqual([60_000, 30_000]);
    // Observed through MONITOR: the order of the writes is the invariant (docs/checkpoints.md "Purging").
    const monitor = await client.monitor();
    const seen: string[] = [];
    monitor.on('monitor', (_t: string, args: string[]) => {
      if (/^eval/i.test(args[0])) seen.push(args[3]);
    });
    await store.raiseWatermark(3, 70_000);
    await store.raiseHorizon(3, 40_000);
    await new Promise((r) => setTimeout(r, 50));
    monitor.disconnect();
    const wm = seen.indexOf(AGG_KEYS.watermark);
    const hz = seen.indexOf(AGG_KEYS.horizon);
    expect(seen.slice(0, wm).sort()).toEqual([AGG_KEYS.checkpoint(0), AGG_KEYS.checkpoint(1), AGG_KEYS.checkpoint(2)]);
    expect(seen.slice(hz + 1).sort()).toEqual([AGG_KEYS.checkpoint(0), AGG_KEYS.checkpoint(1), AGG_KEYS.checkpoint(2)]);
    expect(hz).toBe(wm + 1);
  });

  it('marks a cell for re-firing only once the watermark passed its first window', async () => {
    await client.flushdb();
    const store = new RedisAggregationStore(client, new MetricSet(DEFAULT_METRICS));
    await store.raiseWatermark(1, 60_000);
    await store.checkpoint(0, cp({ cells: [
      { metric: 'orders', pane: 0, key: 'a:b', from: null, value: '{"count":1}', firstEnd: 60_000 },
      { metric: 'orders', pane: 60_000, key: 'c', from: null, value: '{"count":1}', firstEnd: 120_000 },
    ] }));
    const marks = await store.marks(0);
    expect(marks.map((m) => [m.metric, m.pane, m.key, m.from])).toEqual([['orders', 0, 'a:b', null]]);
    await store.clearMarks(0, marks);
    expect(await store.marks(0)).toEqual([]);
  });

  it('restores exactly the cells it wrote: the mark of a pane with restricted cells is not a cell', async () => {
    await client.flushdb();
    const store = new RedisAggregationStore(client, new MetricSet(DEFAULT_METRICS));
    const cells = [
      { metric: 'orders', pane: 0, key: 'all', from: null, value: '{"count":2}', firstEnd: 60_000 },
      { metric: 'orders', pane: 0, key: 'all', from: 30_000, value: '{"count":1}', firstEnd: 90_000 },
    ];
    await store.checkpoint(0, cp({ cells }));
    expect(await client.hget(AGG_KEYS.pane(0, 'orders', 0), ':r')).toBe('1'); // the pane is marked
    const snap = await store.restore(0);
    expect(snap.cells.map((c) => [c.metric, c.pane, c.key, c.from, c.value]).sort()).toEqual(cells.map((c) => [c.metric, c.pane, c.key, c.from, c.value]).sort());
    expect((await store.readPanes(0, 'orders', [0])).length).toBe(2);
  });

  it('keeps a cell in parts as the in-memory store does: restore and reads return them, a base written whole drops them, a part marks its cell', async () => {
    await client.flushdb();
    const metrics = new MetricSet(DEFAULT_METRICS);
    const store = new RedisAggregationStore(client, metrics);
    const memory = new MemoryAggregationStore();
    const both = async (c: Partial<PartitionCheckpoint>) => {
      for (const s of [store, memory]) expect(await s.checkpoint(0, cp(c))).toMatchObject({ status: 'ok' });
    };
    const canon = (cells: readonly StoredCell[]) => cells.map((c) => JSON.stringify([c.metric, c.pane, c.key, c.from, c.part ?? 0, c.value])).sort();
    const same = async () => {
      expect(canon((await store.restore(0)).cells)).toEqual(canon((await memory.restore(0)).cells));
      expect(canon(await store.readPanes(0, 'top_products', [0]))).toEqual(canon(await memory.readPanes(0, 'top_products', [0])));
      for (const key of ['all', 'a*1', 'Z:r']) expect(canon(await store.readKeyCells(0, 'top_products', key, [0]))).toEqual(canon(await memory.readKeyCells(0, 'top_products', key, [0])));
    };
    const cell = (key: string, from: number | null, value: string, extra: Partial<CellWrite> = {}): CellWrite => ({ metric: 'top_products', pane: 0, key, from, value, firstEnd: 3_600_000, ...extra });
    // Bases; a key whose text looks like a part of another ('a*1' beside 'a') and a restricted cell (from 300 000).
    await both({ expectedSeq: 0, seq: 1, cells: [cell('all', null, '[["p1",3]]'), cell('a', null, '[["p2",1]]'), cell('a*1', null, '[["p3",1]]'), cell('Z:r', 300_000, '[["p4",2]]')] });
    // Parts beside them.
    await both({ expectedSeq: 1, seq: 2, expectedEpoch: 1, cells: [cell('all', null, '[["p1",1]]', { part: 1 }), cell('Z:r', 300_000, '[["p5",1]]', { part: 1 })] });
    await both({ expectedSeq: 2, seq: 3, expectedEpoch: 2, cells: [cell('all', null, '[["p9",2]]', { part: 2 }), cell('Z:r', 300_000, '[["p4",1]]', { part: 2 })] });
    await same();
    const parts = (await store.readKeyCells(0, 'top_products', 'all', [0])).map((c) => c.part ?? 0).sort();
    expect(parts).toEqual([0, 1, 2]);
    expect((await store.readKeyCells(0, 'top_products', 'a', [0])).map((c) => c.value)).toEqual(['[["p2",1]]']); // not 'a*1'
    expect((await store.readKeyCells(0, 'top_products', 'Z:r', [0])).map((c) => c.part ?? 0).sort()).toEqual([0, 1, 2]);
    // The window's value is the merge of base and parts, as the firer and the query read it.
    const topProducts = metrics.get('top_products');
    if (topProducts?.kind !== 'window') throw new Error('top_products is a window metric');
    const merged = mergeWindowCells(topProducts.aggregation, 3_600_000, 0, (await store.readPanes(0, 'top_products', [0])).filter((c) => c.from === null));
    expect(merged.get('all')).toEqual({ counts: new Map([['p1', 4], ['p9', 2]]) });
    // The base again, whole: its parts go.
    await both({ expectedSeq: 3, seq: 4, expectedEpoch: 3, cells: [cell('all', null, '[["p1",4],["p9",2]]', { dropParts: 2 }), cell('Z:r', 300_000, '[["p4",3],["p5",1]]', { dropParts: 2 })] });
    await same();
    expect((await store.restore(0)).cells.filter((c) => (c.part ?? 0) > 0)).toEqual([]);
    // A part written once the watermark passed its cell's first window marks the cell itself.
    await store.raiseWatermark(1, 3_600_000);
    await store.checkpoint(0, cp({ expectedSeq: 4, seq: 5, expectedEpoch: 4, cells: [cell('all', null, '[["p7",1]]', { part: 1 }), cell('Z:r', 300_000, '[["p7",1]]', { part: 1 })] }));
    expect((await store.marks(0)).map((m) => [m.key, m.from]).sort()).toEqual([['Z:r', 300_000], ['all', null]]);
  });

  it('restores and reads a pane of 150,000 cells (more than a spread onto the stack takes)', async () => {
    await client.flushdb();
    const store = new RedisAggregationStore(client, new MetricSet(DEFAULT_METRICS));
    const n = 150_000;
    const cells = Array.from({ length: n }, (_, i) => ({ metric: 'product_views', pane: 0, key: `p${i}`, from: null, value: '{"count":1}', firstEnd: 60_000 }));
    expect(await store.checkpoint(0, cp({ cells }))).toMatchObject({ status: 'ok' });
    expect((await store.restore(0)).cells).toHaveLength(n);
    expect(await store.readPanes(0, 'product_views', [0])).toHaveLength(n);
  });

  it('notes refireFrom when a raise finds a partition record below the watermark raised before (a failover lost writes); restore takes at least the global horizon', async () => {
    await client.flushdb();
    const store = new RedisAggregationStore(client, new MetricSet(DEFAULT_METRICS));
    await store.raiseWatermark(3, 60_000);
    await store.raiseHorizon(3, 30_000);
    for (const p of [0, 1, 2]) await store.checkpoint(p, cp());
    await store.raiseWatermark(3, 120_000, 60_000);
    expect((await store.statuses(3)).map((s) => [s.watermark, s.refireFrom])).toEqual([[120_000, null], [120_000, null], [120_000, null]]);
    // partition 1's slot went back to before the last raise; partition 2's lost every raise
    await client.hset(AGG_KEYS.checkpoint(1), 'wm', '60000', 'hz', '0');
    await client.hdel(AGG_KEYS.checkpoint(2), 'wm');
    await store.raiseHorizon(1, 50_000); // partition 0 only, and the global key
    await client.hset(AGG_KEYS.checkpoint(1), 'wm', '20000', 'hz', '0');
    expect(await store.restore(1)).toMatchObject({ watermark: 50_000, horizon: 50_000 });
    await client.hset(AGG_KEYS.checkpoint(1), 'wm', '60000');
    await store.raiseWatermark(3, 180_000, 120_000);
    expect((await store.statuses(3)).map((s) => [s.watermark, s.refireFrom])).toEqual([[180_000, null], [180_000, 60_000], [180_000, REFIRE_ALL]]);
    await client.hset(AGG_KEYS.checkpoint(1), 'wm', '30000'); // lost again before the repair: the lower stays
    await store.raiseWatermark(3, 180_000, 180_000);
    expect((await store.statuses(3))[1].refireFrom).toBe(30_000);
    await store.clearRefireFrom(1, 60_000); // not the value read
    expect((await store.statuses(3))[1].refireFrom).toBe(30_000);
    await store.clearRefireFrom(1, 30_000);
    await store.clearRefireFrom(2, REFIRE_ALL);
    expect((await store.statuses(3)).map((s) => s.refireFrom)).toEqual([null, null, null]);
  });

  /** A partition's slot as it is now (DUMP of its `{pN}` keys), and a function that puts it back. */
  async function copySlot(p: number): Promise<() => Promise<void>> {
    const pattern = `tm:agg:{p${p}}:*`;
    const keys = await client.keys(pattern);
    const dumps = await Promise.all(keys.map(async (k) => [k, await client.dumpBuffer(k)] as const));
    return async () => {
      const now = await client.keys(pattern);
      if (now.length > 0) await client.del(...now);
      for (const [k, d] of dumps) if (d) await client.restore(k, 0, d, 'REPLACE');
    };
  }

  it('gives the same results as the in-memory store through failovers that lose a partition slot\'s last writes, equal to the reference (property)', async () => {
    let failovers = 0;
    await fc.assert(
      fc.asyncProperty(shopStreamArb(2 * 3_600_000, 60), fc.array(fc.nat(), { minLength: 1, maxLength: 30 }), fc.integer({ min: 1, max: 3 }), fc.array(fc.nat(), { maxLength: 12 }), fc.array(fc.nat(99), { minLength: 4, maxLength: 40 }), async (events, delays, partitions, cuts, ops) => {
        await client.flushdb();
        const bound = 60_000;
        const set = new MetricSet(DEFAULT_METRICS);
        const opts = { maxOutOfOrdernessMs: bound, partitions, autoSettle: false };
        const mem = new PartitionedTestDriver(set, opts);
        const red = new PartitionedTestDriver(set, { ...opts, store: new RedisAggregationStore(client, set) });
        const memStore = mem.store as MemoryAggregationStore;
        const partitionOf = (e: TidemarkEvent) => Number(e.sessionId.slice(1)) % partitions;
        const copies = new Map<number, { mem: unknown; red: () => Promise<void> }>();
        let k = 0;
        for (const batch of chunks(inBoundOrder(events, delays, bound), cuts)) {
          const byPart = new Map<number, TidemarkEvent[]>();
          for (const e of batch) byPart.set(partitionOf(e), [...(byPart.get(partitionOf(e)) ?? []), e]);
          for (const [p, list] of byPart) {
            for (const d of [mem, red]) {
              await d.processBatch(list, { partition: p });
              await d.checkpoint(p);
            }
          }
          const a = ops[k++ % ops.length];
          const p = a % partitions;
          if (a < 40) for (const d of [mem, red]) await d.fire();
          else if (a < 70 || !copies.has(p)) copies.set(p, { mem: memStore.copyPartition(p), red: await copySlot(p) });
          else {
            const c = copies.get(p)!;
            copies.delete(p);
            await mem.failover(p, () => memStore.resetPartition(p, c.mem));
            await red.failover(p, c.red);
            // the replayed events are checkpointed before the firer learns of the loss (its next raise)
            for (const d of [mem, red]) await d.checkpoint(p);
            failovers++;
          }
        }
        for (const d of [mem, red]) {
          await d.processWatermark(BASE + 1e10);
          await d.settle();
        }
        expect(sorted(red.results)).toEqual(sorted(mem.results));
        for (const def of DEFAULT_METRICS as readonly MetricDefinition[]) {
          if (def.aggregation.type === 'join' || def.source?.late || def.window.type === 'session') continue;
          expect([def.name, red.latest(def.name).map((r) => ({ metric: r.metric, key: r.key, windowStart: r.windowStart, windowEnd: r.windowEnd, value: r.value }))]).toEqual([def.name, referenceResults(def, events)]);
        }
      }),
      { numRuns: 15 },
    );
    expect(failovers).toBeGreaterThan(0);
  });
});
