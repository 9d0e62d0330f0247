import { encodeFrame } from '@tidemark/contracts';
import type { ConsumedMessage } from '@tidemark/jetstream';
import { DEFAULT_PARAMS, InMemoryRecStore, Recommender, planEvents, sessionsOf } from '@tidemark/recommend';
import { CheckpointedPartitions, FRAME_DECODER } from '@tidemark/runtime';
import { RecsPartitionState } from './recs-partition.state';

const T = Date.UTC(2026, 0, 1);
const view = (p: string, s = 's1', u = 'u1') => ({ id: `${s}-${p}`, type: 'product_view', ts: T, userId: u, sessionId: s, productId: p });
/** One clean frame at stream sequence `seq`. */
const msg = (seq: number, ...events: unknown[]) =>
  ({ seq, data: encodeFrame(events.map((e, i) => ({ id: Buffer.from(`${seq}-${i}`), body: Buffer.from(typeof e === 'string' ? e : JSON.stringify(e)) }))) }) as unknown as ConsumedMessage;
const ctx = (ackFloor = 0) => {
  const c = { ackFloor, commits: [] as number[], rewinds: [] as number[], commit: async (s: number) => void c.commits.push(s), rewind: (s: number) => void c.rewinds.push(s) };
  return c;
};

async function snapshot(store: InMemoryRecStore) {
  const r = new Recommender(store, DEFAULT_PARAMS);
  return { a: await r.similar('A', 10), t: await r.trending(null, 10), u: await r.forUser('u1', 10), s: await store.sessions(['s1', 's2']), seq: await store.lastSeq(0) };
}

/** Counts the store's checkpoints. */
class CountingStore extends InMemoryRecStore {
  checkpoints = 0;
  sessionReads: string[][] = [];
  override async checkpoint(...args: Parameters<InMemoryRecStore['checkpoint']>) {
    this.checkpoints++;
    return super.checkpoint(...args);
  }
  override async sessions(ids: readonly string[]) {
    this.sessionReads.push([...ids]);
    return super.sessions(ids);
  }
}

const partitions = (store: InMemoryRecStore) => new CheckpointedPartitions((p) => new RecsPartitionState(store, p, DEFAULT_PARAMS), { decoder: FRAME_DECODER, intervalMs: 200, maxEvents: 1000 });

describe('RecsPartitionState under CheckpointedPartitions', () => {
  it('holds batches in memory, then writes them in one checkpoint equal to applying them one by one', async () => {
    const store = new CountingStore(DEFAULT_PARAMS);
    const cp = partitions(store);
    const c = ctx();
    expect(await cp.handle([msg(1, view('A'), view('B'))], c, 0, 0)).toEqual({ kind: 'hold' });
    expect(await cp.handle([msg(2, view('C'), view('A', 's2', 'u2'))], c, 0, 50)).toEqual({ kind: 'hold' });
    expect(await cp.handle([msg(3, view('B', 's2', 'u2'))], c, 0, 100)).toEqual({ kind: 'hold' });
    expect(store.checkpoints).toBe(0);
    expect(await store.lastSeq(0)).toBe(0);
    await cp.tick(300);
    expect(store.checkpoints).toBe(1);
    expect(c.commits).toEqual([3]);
    // windows read from the store once per visit, the first time the partition touches it
    expect(store.sessionReads).toEqual([['s1'], ['s2']]);

    const ref = new InMemoryRecStore(DEFAULT_PARAMS);
    const e = [view('A'), view('B'), view('C'), view('A', 's2', 'u2'), view('B', 's2', 'u2')];
    for (const x of e) ref.applyOps(planEvents([x], ref.sessionsSync(sessionsOf([x])), DEFAULT_PARAMS).ops);
    await ref.checkpoint({ partition: 0, expectedSeq: 0, newSeq: 3 });
    expect(await snapshot(store)).toEqual(await snapshot(ref));
  });

  it('a redelivered batch changes nothing, also after a restart', async () => {
    const store = new InMemoryRecStore(DEFAULT_PARAMS);
    let cp = partitions(store);
    const batch = [msg(1, view('A')), msg(2, view('B')), msg(3, view('C'))];
    await cp.handle(batch, ctx(), 0, 0);
    await cp.stop(1);
    const before = await snapshot(store);
    expect(before.a.items.map((i) => i.productId)).toEqual(['B', 'C']);
    expect(await cp.handle(batch, ctx(), 0, 2)).toEqual({ kind: 'ack' });
    cp = partitions(store); // a restart reads the checkpoint's sequence
    expect(await cp.handle(batch, ctx(), 0, 3)).toEqual({ kind: 'ack' });
    await cp.stop(4);
    expect(await snapshot(store)).toEqual(before);
  });

  it('a kill -9 after a checkpoint, before its ack: the redelivery is skipped; one before it: redone once', async () => {
    const once = new InMemoryRecStore(DEFAULT_PARAMS);
    const p1 = partitions(once);
    await p1.handle([msg(1, view('A')), msg(2, view('B')), msg(3, view('C')), msg(4, view('D', 's2'))], ctx(), 0, 0);
    await p1.stop(1);

    const store = new InMemoryRecStore(DEFAULT_PARAMS);
    let cp = partitions(store);
    await cp.handle([msg(1, view('A')), msg(2, view('B'))], ctx(), 0, 0);
    await cp.tick(500); // checkpoint at 2 … and the process dies before the ack
    await cp.handle([msg(3, view('C'))], ctx(), 0, 510); // held in memory only: lost
    cp = partitions(store);
    // the consumer redelivers from its ack floor (0): 1 and 2 are skipped, 3 and 4 applied once
    expect(await cp.handle([msg(1, view('A')), msg(2, view('B')), msg(3, view('C')), msg(4, view('D', 's2'))], ctx(0), 0, 600)).toEqual({ kind: 'hold' });
    await cp.stop(700);
    expect(await snapshot(store)).toEqual(await snapshot(once));
  });

  it('dead-letters undecodable frames and keeps their neighbours', async () => {
    const store = new InMemoryRecStore(DEFAULT_PARAMS);
    const cp = partitions(store);
    const bad = { seq: 2, data: Buffer.from('{oops') } as unknown as ConsumedMessage;
    const out = await cp.handle([msg(1, view('A')), bad, msg(3, view('B'))], ctx(), 0, 0);
    expect(out).toMatchObject({ kind: 'hold', deadLetters: [{ seq: 2 }] });
    await cp.stop(1);
    expect((await new Recommender(store, DEFAULT_PARAMS).similar('A', 5)).items.map((i) => i.productId)).toEqual(['B']);
  });

  it('another writer moved the checkpoint: restores, rewinds, writes nothing of its own', async () => {
    const store = new InMemoryRecStore(DEFAULT_PARAMS);
    const cp = partitions(store);
    await cp.handle([msg(1, view('A'))], ctx(), 0, 0);
    // someone else took the partition on (a restore drops what this one planned into the store) and wrote 1..5
    expect(await store.restore(0)).toBe(0);
    expect(await store.checkpoint({ partition: 0, expectedSeq: 0, newSeq: 5 })).toEqual({ status: 'ok' });
    const c = ctx();
    expect((await cp.handle([msg(6, view('B'))], c, 0, 500)).kind).toBe('retry');
    expect(c.rewinds).toEqual([5]);
    expect((await store.trending(null, 5)).items).toEqual([]);
    expect(await cp.handle([msg(6, view('B'))], ctx(5), 0, 501)).toEqual({ kind: 'hold' });
    await cp.stop(502);
    expect((await store.trending(null, 5)).items.map((i) => i.item)).toEqual(['B']);
  });
});
