import fc from 'fast-check';
import type { TidemarkEvent } from '@tidemark/contracts';
import { MetricSet } from '../metrics/compile';
import { DEFAULT_METRICS } from '../metrics/default-metrics';
import type { MetricDefinition } from '../metrics/metric-definitions';
import { ev, order, paid, view } from '../testing/events';
import { BASE, chunks, shopStreamArb } from '../testing/generators';
import { encodeAcc } from './layout';
import { PartitionOperator } from './partition-operator';
import { MAX_CELL_PARTS, MemoryAggregationStore } from './store';

const MIN = 60_000;
const metrics = new MetricSet(DEFAULT_METRICS);
const seqd = (events: readonly TidemarkEvent[], seq: number) => events.map((event) => ({ event, seq }));

/** Everything a PartitionOperator holds, canonically (reads its private maps: a test of its state). */
function dump(op: PartitionOperator): unknown {
  const o = op as unknown as {
    cells: Map<number, Map<string, { pane: number; key: string; from: number | null; acc: unknown; metric: { name: string; aggregation: { kind: never } } }>>[];
    sessions: Map<string, { start: number; end: number; acc: unknown; v: number; d: boolean }[]>[];
    joins: Map<string, unknown>[];
    horizon: number | null;
  };
  const out: Record<string, unknown> = { watermark: op.watermark, horizon: o.horizon, maxTs: op.maxTs, outbox: op.outbox, size: op.size };
  for (const m of op.metrics.metrics) {
    if (m.kind !== 'window') {
      const joins: string[] = [];
      for (const [key, st] of o.joins[m.index]) joins.push(`${key}|${JSON.stringify(st)}`);
      out[m.name] = { joins: joins.sort() };
      continue;
    }
    const cells: string[] = [];
    for (const [pane, map] of o.cells[m.index]) for (const c of map.values()) cells.push(`${pane}|${c.from}|${c.key}|${encodeAcc(m.aggregation.kind, c.acc)}`);
    const sessions: string[] = [];
    for (const [key, list] of o.sessions[m.index]) for (const s of list) sessions.push(`${key}|${s.start}|${s.end}|${s.v}|${s.d}|${encodeAcc(m.aggregation.kind, s.acc)}`);
    const joins: string[] = [];
    for (const [key, st] of o.joins[m.index]) joins.push(`${key}|${JSON.stringify(st)}`);
    out[m.name] = { cells: cells.sort(), sessions: sessions.sort(), joins: joins.sort() };
  }
  return out;
}

/** prepare → store → committed, as CheckpointedPartitions does. */
async function checkpoint(op: PartitionOperator, store: MemoryAggregationStore, expectedSeq: number, seq: number) {
  const prepared = op.prepare(expectedSeq, seq);
  const r = await store.checkpoint(op.partition, prepared.checkpoint);
  if (r.status !== 'ok') throw new Error('conflict');
  op.committed(r.watermark, r.horizon);
  return prepared;
}

async function restored(store: MemoryAggregationStore, p = 0, m: MetricSet = metrics): Promise<PartitionOperator> {
  const op = new PartitionOperator(m, p, { maxOutOfOrdernessMs: 0 });
  op.restore(await store.restore(p));
  return op;
}

const shop = (t: number): TidemarkEvent[] => [
  view(t + 1_000, 'p1', { userId: 'u1', sessionId: 's1' }),
  ev('add_to_cart', t + 2_000, { productId: 'p1', userId: 'u1', sessionId: 's1' }),
  order(t + 4_000, `o${t}`, 30, [{ productId: 'p1', categoryId: 'c1', price: 10, quantity: 3 }], { userId: 'u1', sessionId: 's1' }),
  paid(t + 5_000, `o${t}`, { userId: 'u1', sessionId: 's1' }),
  order(t + 8_000, `q${t}`, 12.5, [], { userId: 'u2', sessionId: 's2' }),
  ev('add_to_cart', t + 10_000, { productId: 'p3', userId: 'u3', sessionId: 's3' }),
];

describe('PartitionOperator: restore(checkpoint) reproduces the state', () => {
  it('cells of every kind, sessions fired and open, join states, the watermark and horizon', async () => {
    const store = new MemoryAggregationStore();
    const op = new PartitionOperator(metrics, 0, { maxOutOfOrdernessMs: 0 });
    op.apply(seqd(shop(0), 1), 0);
    await checkpoint(op, store, 0, 1);
    await store.raiseWatermark(1, 40 * MIN); // cart sessions s1, s2, s3 complete (end + 30m)
    await store.raiseHorizon(1, 0);
    op.apply(seqd(shop(39 * MIN), 2), 10);
    const first = await checkpoint(op, store, 1, 2); // learns W = 40m: lateness is decided with it from now
    expect(op.watermark).toBe(40 * MIN);
    op.apply(seqd([view(40 * MIN + 1, 'p2', { sessionId: 's1' })], 3), 20);
    const second = await checkpoint(op, store, 2, 3); // fires the sessions W passed
    expect(first.publish).toEqual([]);
    expect(second.publish.map((r) => [r.metric, r.key, r.version])).toEqual([
      ['cart_abandonment', 's1', 1],
      ['cart_abandonment', 's2', 1],
      ['cart_abandonment', 's3', 1],
    ]);
    expect(op.size).toBeGreaterThan(20);
    const back = await restored(store);
    expect(dump(back)).toEqual(dump(op));
    // and it goes on the same: the same batch gives the same checkpoint
    const more = [...shop(41 * MIN), view(39 * MIN, 'p9')];
    op.apply(seqd(more, 4), 30);
    back.apply(seqd(more, 4), 30);
    expect(back.prepare(3, 4)).toEqual(op.prepare(3, 4));
    expect(dump(back)).toEqual(dump(op));
  });

  it('random streams and batches: restore after every checkpoint equals the live operator (property)', async () => {
    await fc.assert(
      fc.asyncProperty(shopStreamArb(90 * MIN, 60), fc.array(fc.nat(), { maxLength: 10 }), fc.array(fc.nat({ max: 120 }), { maxLength: 10 }), async (events, cuts, wms) => {
        const store = new MemoryAggregationStore();
        const op = new PartitionOperator(metrics, 0, { maxOutOfOrdernessMs: 0 });
        let seq = 0;
        let i = 0;
        for (const batch of chunks(events, cuts)) {
          op.apply(seqd(batch, seq + 1), seq);
          await checkpoint(op, store, seq, seq + 1);
          seq++;
          expect(dump(await restored(store))).toEqual(dump(op));
          // the firer moves on: the next checkpoint brings a watermark and horizon (sessions fire, state is purged)
          const w = wms[i++ % Math.max(1, wms.length)];
          if (w !== undefined) {
            await store.raiseWatermark(1, BASE + (w - 30) * MIN);
            await store.raiseHorizon(1, BASE + (w - 60) * MIN);
          }
        }
      }),
      { numRuns: 25 },
    );
  });

  it('skips the state of a metric removed since the checkpoint', async () => {
    const store = new MemoryAggregationStore();
    const op = new PartitionOperator(metrics, 0, { maxOutOfOrdernessMs: 0 });
    op.apply(seqd(shop(0), 1), 0);
    await checkpoint(op, store, 0, 1);
    const fewer = new MetricSet(DEFAULT_METRICS.filter((d) => !['orders', 'cart_abandonment', 'unpaid_orders'].includes(d.name)));
    const back = await restored(store, 0, fewer);
    const full = dump(op) as Record<string, unknown>;
    const kept = dump(back) as Record<string, unknown>;
    for (const name of fewer.names) expect(kept[name]).toEqual(full[name]);
    expect(kept.orders).toBeUndefined();
  });
});

describe('PartitionOperator: cells in parts', () => {
  /** Visits of many sessions in one 5-minute pane: the funnel, top-K and distinct cells grow by members. */
  const visits = (batch: number, n = 6): TidemarkEvent[] =>
    Array.from({ length: n }, (_, i) => view(batch * 1_000 + i, `p${(batch * n + i) % 40}`, { userId: `u${batch}-${i}`, sessionId: `s${batch}-${i}` }));

  it('a growing cell is written as parts beside its base, then whole again; restore merges them to the same state', async () => {
    const store = new MemoryAggregationStore();
    const op = new PartitionOperator(metrics, 0, { maxOutOfOrdernessMs: 0 });
    const writes: Record<string, { parts: number; bases: number; dropped: number; written: number; whole: number }> = {};
    for (let b = 0; b < 60; b++) {
      op.apply(seqd(visits(b), b + 1), b);
      const prepared = await checkpoint(op, store, b, b + 1);
      const stored = (await store.restore(0)).cells;
      for (const w of prepared.checkpoint.cells) {
        if (!['funnel', 'top_products', 'unique_visitors'].includes(w.metric)) continue;
        const t = (writes[w.metric] ??= { parts: 0, bases: 0, dropped: 0, written: 0, whole: 0 });
        if ((w.part ?? 0) > 0) t.parts++;
        else t.bases++;
        t.dropped += w.dropParts ?? 0;
        t.written += w.value!.length;
        // what a checkpoint of the whole cell would have written
        const m = metrics.get(w.metric)!;
        const live = (op as unknown as { cells: Map<number, Map<string, { key: string; from: number | null; acc: unknown }>>[] }).cells[m.index].get(w.pane)!;
        for (const c of live.values()) if (c.key === w.key && c.from === w.from && m.kind === 'window') t.whole += encodeAcc(m.aggregation.kind, c.acc).length;
        expect(w.part ?? 0).toBeLessThanOrEqual(MAX_CELL_PARTS);
      }
      // never more than the cap of parts stored beside a base
      const perCell = new Map<string, number>();
      for (const c of stored) if ((c.part ?? 0) > 0) perCell.set(`${c.metric}|${c.pane}|${c.key}|${c.from}`, (perCell.get(`${c.metric}|${c.pane}|${c.key}|${c.from}`) ?? 0) + 1);
      for (const n of perCell.values()) expect(n).toBeLessThanOrEqual(MAX_CELL_PARTS);
      if (b % 7 === 6) expect(dump(await restored(store))).toEqual(dump(op));
    }
    for (const name of ['funnel', 'top_products', 'unique_visitors']) {
      const t = writes[name];
      expect(t.parts).toBeGreaterThan(t.bases); // mostly parts
      expect(t.dropped).toBeGreaterThan(0); // and the base again now and then, its parts dropped
    }
    // The funnel's cell holds every session of the pane: written in parts, a fraction of writing it whole each time.
    expect(writes.funnel.written).toBeLessThan(writes.funnel.whole / 3);
    expect(dump(await restored(store))).toEqual(dump(op));
  });

  /** A large base first (40 sessions), then `batches - 1` small changes (4 each): parts 1, 2, … */
  async function grown(batches: number): Promise<{ store: MemoryAggregationStore; op: PartitionOperator }> {
    const store = new MemoryAggregationStore();
    const op = new PartitionOperator(metrics, 0, { maxOutOfOrdernessMs: 0 });
    for (let b = 0; b < batches; b++) {
      op.apply(seqd(visits(b, b === 0 ? 40 : 4), b + 1), b);
      await checkpoint(op, store, b, b + 1);
    }
    return { store, op };
  }

  it('a checkpoint that failed is redone with the parts it would have written, merged with what came since', async () => {
    const { store, op } = await grown(3); // the base, parts 1 and 2
    op.apply(seqd(visits(3, 4), 4), 3);
    op.prepare(3, 4); // not written (Redis away)
    op.apply(seqd(visits(4, 4), 5), 4);
    const redo = await checkpoint(op, store, 3, 5);
    const funnel = redo.checkpoint.cells.filter((c) => c.metric === 'funnel');
    expect(funnel).toHaveLength(1);
    expect(funnel[0].part).toBe(3);
    // the part holds the sessions of both batches since the last checkpoint written
    expect(Object.fromEntries(JSON.parse(funnel[0].value!) as [string, number][])).toEqual(Object.fromEntries([3, 4].flatMap((b) => [0, 1, 2, 3].map((i) => [`s${b}-${i}`, 0]))));
    expect(dump(await restored(store))).toEqual(dump(op));
  });

  it('a restored cell goes on in parts from where its stored parts end', async () => {
    const { store, op } = await grown(4); // the base, parts 1 to 3
    const back = await restored(store);
    op.apply(seqd(visits(4, 4), 5), 4);
    back.apply(seqd(visits(4, 4), 5), 4);
    expect(back.prepare(4, 5)).toEqual(op.prepare(4, 5));
    expect(op.prepare(4, 5).checkpoint.cells.find((c) => c.metric === 'funnel')?.part).toBe(4);
  });
});

describe('PartitionOperator: a failed checkpoint loses nothing', () => {
  it('prepare without committed: the next prepare carries the changes of both batches', async () => {
    const store = new MemoryAggregationStore();
    const op = new PartitionOperator(metrics, 0, { maxOutOfOrdernessMs: 0 });
    op.apply(seqd(shop(0), 1), 0);
    op.prepare(0, 1); // the write failed (Redis down): no committed
    op.apply(seqd(shop(MIN), 2), 0);
    const { checkpoint: cp } = op.prepare(0, 2);
    expect(cp.expectedSeq).toBe(0);
    expect(cp.cells.some((c) => c.metric === 'orders' && c.pane === 0)).toBe(true); // batch 1
    expect(cp.cells.some((c) => c.metric === 'orders' && c.pane === MIN)).toBe(true); // batch 2
    expect(cp.joins.map((j) => j.key).sort()).toEqual(['o0', 'o60000', 'q0', 'q60000']);
    expect((await store.checkpoint(0, cp)).status).toBe('ok');
    op.committed(null, null);
    expect(dump(await restored(store))).toEqual(dump(op));
  });

  it('fired sessions, superseded results and purged panes of a failed checkpoint are in the next one', async () => {
    const defs: MetricDefinition[] = [
      { name: 'visits', key: 'sessionId', aggregation: { type: 'count' }, window: { type: 'session', gap: '10s' } },
      { name: 'views', aggregation: { type: 'count' }, window: { type: 'tumbling', size: '1m' } },
    ];
    const m = new MetricSet(defs);
    const store = new MemoryAggregationStore();
    const op = new PartitionOperator(m, 0, { maxOutOfOrdernessMs: 0, allowedLatenessMs: MIN });
    op.apply(seqd([view(0), view(15_000)], 1), 0);
    await checkpoint(op, store, 0, 1);
    await store.raiseWatermark(1, 25_000);
    await checkpoint(op, store, 1, 1); // learns W = 25000
    const failed = op.prepare(1, 1); // fires [0, 10000) and [15000, 25000): the write fails
    expect(failed.publish.map((r) => [r.windowStart, r.version])).toEqual([
      [0, 1],
      [15_000, 1],
    ]);
    op.apply(seqd([view(7_000)], 2), 0); // [7000, 17000) bridges them: [0, 25000), the two fired results superseded
    const next = op.prepare(1, 2);
    expect(next.checkpoint.outbox).not.toBe('');
    expect(next.publish.map((r) => [r.windowStart, r.windowEnd, r.value, r.version])).toEqual([
      [0, 10_000, 1, 1],
      [15_000, 25_000, 1, 1],
      [0, 25_000, 3, 2],
    ]);
    expect(next.checkpoint.results.map((r) => [r.windowStart, r.windowEnd, r.value === null])).toEqual([
      [0, 10_000, false],
      [15_000, 25_000, false],
      [0, 10_000, true],
      [15_000, 25_000, true],
      [0, 25_000, false],
    ]);
    expect((await store.checkpoint(0, next.checkpoint)).status).toBe('ok');
    op.committed(25_000, null);
    expect(store.partitionResults(0).map((r) => [r.windowStart, r.windowEnd])).toEqual([[0, 25_000]]);
    // purge: the horizon passes the pane [0, 60000) + lateness; the checkpoint carrying the drop fails
    await store.raiseWatermark(1, 3 * MIN);
    await store.raiseHorizon(1, 3 * MIN);
    op.published(op.outbox.length);
    await checkpoint(op, store, 2, 2); // learns the horizon
    const lost = op.prepare(2, 2);
    expect(lost.checkpoint.dropPanes).toEqual([{ metric: 'views', pane: 0 }]);
    const again = op.prepare(2, 2);
    expect(again.checkpoint.dropPanes).toEqual([{ metric: 'views', pane: 0 }]);
    expect((await store.checkpoint(0, again.checkpoint)).status).toBe('ok');
    op.committed(null, null);
    expect((await store.restore(0)).cells).toEqual([]);
    expect(dump(await restored(store, 0, m))).toEqual(dump(op));
  });
});

describe('PartitionOperator: the outbox', () => {
  const defs: MetricDefinition[] = [{ name: 'visits', key: 'sessionId', aggregation: { type: 'count' }, window: { type: 'session', gap: '10s' } }];
  const m = new MetricSet(defs);

  it('survives checkpoints until published, and a crash before publishing', async () => {
    const store = new MemoryAggregationStore();
    const op = new PartitionOperator(m, 0, { maxOutOfOrdernessMs: 0 });
    op.apply(seqd([view(0, 'p', { sessionId: 'a' })], 1), 0);
    await checkpoint(op, store, 0, 1);
    await store.raiseWatermark(1, 10_000);
    await checkpoint(op, store, 1, 1);
    const fired = await checkpoint(op, store, 1, 1);
    expect(fired.publish).toMatchObject([{ key: 'a', version: 1 }]);
    expect(op.outbox).toHaveLength(1);
    // not published yet (JetStream did not acknowledge): the next checkpoints keep it, new results after it
    op.apply(seqd([view(20_000, 'p', { sessionId: 'b' })], 2), 0);
    await store.raiseWatermark(1, 30_000);
    await checkpoint(op, store, 1, 2);
    const both = await checkpoint(op, store, 2, 2);
    expect(both.publish.map((r) => r.key)).toEqual(['a', 'b']);
    expect(JSON.parse(both.checkpoint.outbox).map((r: { key: string }) => r.key)).toEqual(['a', 'b']);
    // a crash now: the restored operator has the outbox to publish
    const back = await restored(store, 0, m);
    expect(back.outbox.map((r) => r.key)).toEqual(['a', 'b']);
    // published: gone from memory, and from the store at the next checkpoint
    op.published(1);
    expect(op.outbox.map((r) => r.key)).toEqual(['b']);
    op.published(1);
    const empty = await checkpoint(op, store, 2, 2);
    expect(empty.publish).toEqual([]);
    expect(empty.checkpoint.outbox).toBe('');
    expect((await store.restore(0)).outbox).toBe('');
  });
});

describe('PartitionOperator: dirty', () => {
  it('is dirty with changes or held state, clean when empty', async () => {
    const store = new MemoryAggregationStore();
    const op = new PartitionOperator(new MetricSet([{ name: 'views', aggregation: { type: 'count' }, window: { type: 'tumbling', size: '1m' } }]), 0, { maxOutOfOrdernessMs: 0, allowedLatenessMs: 0 });
    expect(op.dirty()).toBe(false);
    op.apply(seqd([view(1)], 1), 0);
    expect(op.dirty()).toBe(true);
    await checkpoint(op, store, 0, 1);
    expect(op.dirty()).toBe(true); // a pane held: a newer watermark would fire / purge it
    await store.raiseWatermark(1, MIN);
    await store.raiseHorizon(1, MIN);
    await checkpoint(op, store, 1, 1);
    await checkpoint(op, store, 1, 1);
    expect(op.size).toBe(0);
    expect(op.dirty()).toBe(false);
  });
});
