import { encodeFrame } from '@tidemark/contracts';
import type { ConsumedMessage, FramedEvent } from '@tidemark/jetstream';
import { CheckpointedPartitions, type CheckpointResult, type PartitionState } from './checkpointed';

/** A durable store (survives "crashes") and a state that sums event values in memory. */
class Store {
  seq = 0;
  total = 0;
  writes = 0;
  fail = false;
}

class SumState implements PartitionState {
  total = 0;
  constructor(private readonly store: Store) {}
  async restore(): Promise<number> {
    this.total = this.store.total;
    return this.store.seq;
  }
  apply(events: FramedEvent[]): void {
    for (const e of events) this.total += (e.event as { v: number }).v;
  }
  async checkpoint(expectedSeq: number, seq: number): Promise<CheckpointResult> {
    if (this.store.fail) throw new Error('store down');
    if (this.store.seq !== expectedSeq) return { status: 'conflict', lastSeq: this.store.seq };
    this.store.seq = seq;
    this.store.total = this.total;
    this.store.writes++;
    return { status: 'ok' };
  }
}

const msg = (seq: number, values: number[]): ConsumedMessage =>
  ({ seq, data: encodeFrame(values.map((v, i) => ({ id: Buffer.from(`${seq}-${i}`), body: Buffer.from(JSON.stringify({ v })) }))) }) as unknown as ConsumedMessage;

function ctx(ackFloor = 0) {
  const c = { ackFloor, commits: [] as number[], rewinds: [] as number[], commit: async (s: number) => void c.commits.push(s), rewind: (s: number) => void c.rewinds.push(s) };
  return c;
}

describe('CheckpointedPartitions', () => {
  const opts = { intervalMs: 200, maxEvents: 5 };

  it('holds batches until a checkpoint is due, then acks; the timer checkpoints and commits', async () => {
    const store = new Store();
    const cp = new CheckpointedPartitions(() => new SumState(store), opts);
    const c = ctx();
    expect(await cp.handle([msg(1, [1, 2])], c, 0, 1000)).toEqual({ kind: 'hold' });
    expect(await cp.handle([msg(3, [3])], c, 0, 1100)).toEqual({ kind: 'hold' });
    expect(store.writes).toBe(0);
    expect(await cp.handle([msg(5, [4])], c, 0, 1200)).toEqual({ kind: 'ack' });
    expect(store).toMatchObject({ seq: 5, total: 10, writes: 1 });
    expect(await cp.handle([msg(7, [5])], c, 0, 1250)).toEqual({ kind: 'hold' });
    await cp.tick(1300);
    expect(store.writes).toBe(1); // not due yet
    await cp.tick(1400);
    expect(store).toMatchObject({ seq: 7, total: 15, writes: 2 });
    expect(c.commits).toEqual([7]);
  });

  it('checkpoints after maxEvents events whatever the time', async () => {
    const store = new Store();
    const cp = new CheckpointedPartitions(() => new SumState(store), opts);
    expect(await cp.handle([msg(1, [1, 1, 1])], ctx(), 0, 0)).toEqual({ kind: 'hold' });
    expect(await cp.handle([msg(2, [1, 1])], ctx(), 0, 1)).toEqual({ kind: 'ack' });
    expect(store.seq).toBe(2);
  });

  it('a crash loses only memory: redelivered messages are applied once to the restored state', async () => {
    const store = new Store();
    let cp = new CheckpointedPartitions(() => new SumState(store), opts);
    await cp.handle([msg(1, [1])], ctx(), 0, 0);
    await cp.handle([msg(2, [2])], ctx(), 0, 300); // checkpoint: seq 2, total 3
    await cp.handle([msg(3, [4])], ctx(), 0, 310); // held, then "kill -9"
    cp = new CheckpointedPartitions(() => new SumState(store), opts);
    // The consumer redelivers from its ack floor (1: say the ack of 2 was lost): 2 is skipped, 3 applied.
    expect(await cp.handle([msg(2, [2]), msg(3, [4])], ctx(1), 0, 400)).toEqual({ kind: 'hold' });
    await cp.tick(1000);
    expect(store).toMatchObject({ seq: 3, total: 7 });
  });

  it('rewinds when the consumer acked past the checkpoint (a checkpoint lost in a failover)', async () => {
    const store = new Store();
    store.seq = 4;
    store.total = 1;
    const cp = new CheckpointedPartitions(() => new SumState(store), opts);
    const c = ctx(9);
    const out = await cp.handle([msg(10, [1])], c, 0, 0);
    expect(out.kind).toBe('retry');
    expect(c.rewinds).toEqual([4]);
    expect((cp.state(0) as SumState).total).toBe(1);
  });

  it('on a conflict restores the other writer’s checkpoint and rewinds to it', async () => {
    const store = new Store();
    const cp = new CheckpointedPartitions(() => new SumState(store), opts);
    await cp.handle([msg(1, [1])], ctx(), 0, 0);
    store.seq = 6; // another instance took the partition over and checkpointed
    store.total = 50;
    const c = ctx();
    const out = await cp.handle([msg(7, [1])], c, 0, 500);
    expect(out.kind).toBe('retry');
    expect(c.rewinds).toEqual([6]);
    expect((cp.state(0) as SumState).total).toBe(50);
    expect(await cp.handle([msg(7, [1])], ctx(6), 0, 501)).toEqual({ kind: 'hold' });
  });

  it('a failing checkpoint keeps memory and holds; the next one writes everything', async () => {
    const store = new Store();
    const cp = new CheckpointedPartitions(() => new SumState(store), opts);
    store.fail = true;
    expect(await cp.handle([msg(1, [1, 1, 1, 1, 1])], ctx(), 0, 0)).toEqual({ kind: 'hold' });
    store.fail = false;
    await cp.tick(500);
    expect(store).toMatchObject({ seq: 1, total: 5 });
  });

  it('dead-letters undecodable messages and keeps going', async () => {
    const store = new Store();
    const cp = new CheckpointedPartitions(() => new SumState(store), opts);
    const bad = { seq: 1, data: Buffer.from('nope') } as unknown as ConsumedMessage;
    const out = await cp.handle([bad, msg(2, [5])], ctx(), 0, 0);
    expect(out.kind).toBe('hold');
    expect((out as { deadLetters: { seq: number }[] }).deadLetters.map((d) => d.seq)).toEqual([1]);
    await cp.stop(1);
    expect(store).toMatchObject({ seq: 2, total: 5 });
  });
});
