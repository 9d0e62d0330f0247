import { encodeFrame } from '@tidemark/contracts';
import type { ConsumedMessage, FramedEvent } from '@tidemark/jetstream';
import { CheckpointConflict, CheckpointedPartitions, CheckpointFailed, FRAME_DECODER, frameDecoder, type CheckpointResult, type PartitionState } from './checkpointed';

/** A durable store (survives "crashes") and a state that sums event values in memory. */
class Store {
  /** The highest fencing token a write carried (stored beside the checkpoint), and the partition's current one. */
  token = 0;
  current = 0;
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
  async checkpoint(expectedSeq: number, seq: number, _now?: number, token?: number): Promise<CheckpointResult> {
    if (this.store.fail) throw new Error('store down');
    if (token !== undefined && token < Math.max(this.store.token, this.store.current)) return { status: 'fenced', token: Math.max(this.store.token, this.store.current) };
    if (token !== undefined) this.store.token = token;
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
  const opts = { decoder: FRAME_DECODER, intervalMs: 200, maxEvents: 5 };

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

  it('a timer checkpoint whose write landed but whose reply was lost: the next one conflicts with it, restores it and acks the held messages', async () => {
    const store = new Store();
    class LostReply extends SumState {
      loseNext = false;
      override async checkpoint(expectedSeq: number, seq: number): Promise<CheckpointResult> {
        const r = await super.checkpoint(expectedSeq, seq);
        if (this.loseNext) {
          this.loseNext = false;
          throw new Error('WAIT: 0 of 1 replicas acknowledged'); // written, but reported as failed
        }
        return r;
      }
    }
    const cp = new CheckpointedPartitions(() => new LostReply(store), opts);
    const c = ctx();
    await cp.handle([msg(1, [1]), msg(2, [2])], c, 0, 0); // held
    (cp.state(0) as LostReply).loseNext = true;
    await cp.tick(300); // lands in the store, reported as an error: nothing acked
    expect(store).toMatchObject({ seq: 2, total: 3 });
    expect(c.commits).toEqual([]);
    await cp.tick(600); // conflicts with its own write: restores it, acks the held messages
    expect(c.commits).toEqual([2]);
    expect(c.rewinds).toEqual([]);
    expect((cp.state(0) as LostReply).total).toBe(3);
  });

  describe('a checkpoint written but not durable (WAIT fell short)', () => {
    /** The next `short` writes land but are reported not durable; `replica` is what a failover would keep. */
    class Replicated extends SumState {
      constructor(
        private readonly st: Store,
        readonly replica: { seq: number; total: number },
        public short = 0,
      ) {
        super(st);
      }
      override async checkpoint(expectedSeq: number, seq: number, now?: number, token?: number): Promise<CheckpointResult> {
        const r = await super.checkpoint(expectedSeq, seq, now, token);
        if (r.status !== 'ok') return r;
        if (this.short > 0) {
          this.short--;
          return { status: 'written' };
        }
        // A durable write: the replica has it, and everything before it.
        this.replica.seq = this.st.seq;
        this.replica.total = this.st.total;
        return r;
      }
    }

    /** A partition whose first `short` checkpoints fall short of replicas, with its store, replica and consumer. */
    const replicated = (short: number) => {
      const store = new Store();
      const replica = { seq: 0, total: 0 };
      return { store, replica, cp: new CheckpointedPartitions(() => new Replicated(store, replica, short), opts), c: ctx() };
    };

    it('holds what it covers, moves the fence, and acks all of it once a later checkpoint is durable (no restore, no replay)', async () => {
      const { store, replica, cp, c } = replicated(1);
      expect(await cp.handle([msg(1, [1]), msg(2, [2])], c, 0, 0)).toEqual({ kind: 'hold' });
      // due: written, not durable — held, not acked
      expect(await cp.handle([msg(3, [3])], c, 0, 300)).toEqual({ kind: 'hold' });
      expect(store).toMatchObject({ seq: 3, total: 6, writes: 1 });
      expect(c.commits).toEqual([]);
      // no new events: the timer still checkpoints (fenced on the written one), durable now, and acks up to it
      await cp.tick(600);
      expect(store).toMatchObject({ seq: 3, total: 6, writes: 2 });
      expect(replica).toEqual({ seq: 3, total: 6 });
      expect(c.commits).toEqual([3]);
      expect(c.rewinds).toEqual([]);
      await cp.tick(900);
      expect(store.writes).toBe(2); // nothing left to do
      // later batches go on from there
      expect(await cp.handle([msg(4, [4])], c, 0, 1000)).toEqual({ kind: 'ack' });
      expect(store).toMatchObject({ seq: 4, total: 10 });
    });

    it('lost in a failover before it was durable: the next checkpoint conflicts, restores what survived and rewinds', async () => {
      const { store, replica, cp, c } = replicated(0);
      expect(await cp.handle([msg(1, [1]), msg(2, [2])], c, 0, 0)).toEqual({ kind: 'hold' });
      await cp.tick(300); // durable: acked
      expect(c.commits).toEqual([2]);
      (cp.state(0) as Replicated).short = 1;
      expect(await cp.handle([msg(3, [3]), msg(4, [4])], c, 0, 600)).toEqual({ kind: 'hold' }); // written, not durable
      expect(store).toMatchObject({ seq: 4, total: 10 });
      // the master dies; its replica, promoted, never had the write
      store.seq = replica.seq;
      store.total = replica.total;
      expect(await cp.handle([msg(5, [5])], c, 0, 900)).toEqual({ kind: 'retry', delayMs: 0, reason: expect.stringContaining('moved the checkpoint to 2') });
      expect(c.rewinds).toEqual([2]);
      expect(c.commits).toEqual([2]); // nothing past 2 was ever acked
      // the redelivery applies 3, 4, 5 once
      expect(await cp.handle([msg(3, [3]), msg(4, [4]), msg(5, [5])], { ...c, generation: 1 } as never, 0, 1200)).toEqual({ kind: 'ack' });
      expect(store).toMatchObject({ seq: 5, total: 15 });
    });

    it('exclusive: a change written but not durable is not reported done, and acks nothing', async () => {
      const { store, replica, cp, c } = replicated(0);
      await cp.handle([msg(1, [1])], c, 0, 0); // held
      (cp.state(0) as Replicated).short = 1;
      await expect(cp.exclusive(0, 100, (st) => void (st.total += 100))).rejects.toBeInstanceOf(CheckpointFailed);
      expect(store).toMatchObject({ seq: 1, total: 101 });
      expect(c.commits).toEqual([]);
      await cp.tick(400); // durable now: acked
      expect(c.commits).toEqual([1]);
      expect(replica).toEqual({ seq: 1, total: 101 });
    });
  });

  it('a timer checkpoint that conflicts with another writer behind what memory applied rewinds to it', async () => {
    const store = new Store();
    const cp = new CheckpointedPartitions(() => new SumState(store), opts);
    const c = ctx();
    await cp.handle([msg(1, [1])], c, 0, 0);
    await cp.handle([msg(2, [2]), msg(3, [3])], c, 0, 10); // held
    store.seq = 2; // another writer got as far as 2
    store.total = 30;
    await cp.tick(300);
    expect(c.rewinds).toEqual([2]);
    expect(c.commits).toEqual([]);
    expect((cp.state(0) as SumState).total).toBe(30);
  });

  // Found by `tidemark chaos --faults redis`: 112 events missing from one minute's panes of one partition.
  it('a batch that waited for the lock while a timer checkpoint restored and rewound is not applied: the redelivery counts everything once', async () => {
    const store = new Store();
    const cp = new CheckpointedPartitions(() => new SumState(store), opts);
    const before = { ...ctx(), generation: 1 };
    await cp.handle([msg(1, [1])], before, 0, 0);
    await cp.handle([msg(2, [2]), msg(3, [3])], before, 0, 10); // held: applied 3
    store.seq = 2; // the checkpoint moved to 2 meanwhile (e.g. a write of ours whose WAIT fell short)
    store.total = 3;
    const tick = cp.tick(300); // conflicts, restores 2, rewinds to 2 …
    const late = cp.handle([msg(4, [4])], before, 0, 301); // … while this batch, delivered before, waits
    await tick;
    expect(before.rewinds).toEqual([2]);
    expect((await late).kind).toBe('retry');
    expect((cp.state(0) as SumState).total).toBe(3);
    // the consumer, re-created after 2 (a new generation), delivers 3 and 4 again: both count, once
    const after = { ...ctx(), generation: 2 };
    expect(await cp.handle([msg(3, [3]), msg(4, [4])], after, 0, 302)).toEqual({ kind: 'hold' });
    expect((cp.state(0) as SumState).total).toBe(10);
  });

  it('a failing apply (Redis away mid-batch) is retried, never thrown (the consumer would dead-letter it): memory restored, the rest comes again', async () => {
    const store = new Store();
    class Flaky extends SumState {
      failNext = false;
      override apply(events: FramedEvent[]): void {
        super.apply(events.slice(0, 1)); // half-applied…
        if (this.failNext) {
          this.failNext = false;
          throw new Error('CLUSTERDOWN The cluster is down');
        }
        super.apply(events.slice(1));
      }
    }
    const cp = new CheckpointedPartitions(() => new Flaky(store), opts);
    const c = ctx();
    await cp.handle([msg(1, [1])], c, 0, 0);
    await cp.handle([msg(2, [2])], c, 0, 300); // checkpoint at 2, total 3
    await cp.handle([msg(3, [4])], c, 0, 310); // held
    (cp.state(0) as Flaky).failNext = true;
    const out = await cp.handle([msg(4, [10, 20])], c, 0, 320);
    expect(out.kind).toBe('retry');
    expect(c.rewinds).toEqual([2]);
    expect((cp.state(0) as Flaky).total).toBe(3); // restored: neither the half batch nor the held 3
    // delivered again from 3
    await cp.handle([msg(3, [4]), msg(4, [10, 20])], ctx(2), 0, 330);
    await cp.stop(400);
    expect(store).toMatchObject({ seq: 4, total: 37 });
  });

  it('a restore that fails is retried, not thrown', async () => {
    const store = new Store();
    class Down extends SumState {
      override async restore(): Promise<number> {
        throw new Error('connect ECONNREFUSED');
      }
    }
    const cp = new CheckpointedPartitions(() => new Down(store), opts);
    const out = await cp.handle([msg(1, [1])], ctx(), 0, 0);
    expect(out.kind).toBe('retry');
  });

  it('open after batches were delivered (the consumer started first) acknowledges what its checkpoint covers', async () => {
    const store = new Store();
    const cp = new CheckpointedPartitions(() => new SumState(store), opts);
    const c = ctx();
    expect(await cp.handle([msg(1, [1]), msg(2, [2])], c, 0, 0)).toEqual({ kind: 'hold' });
    await cp.open([0], 50);
    expect(store).toMatchObject({ seq: 2, total: 3 });
    expect(c.commits).toEqual([2]);
  });

  it('skips messages at or below what was applied (a redelivery) without decoding them, and reports the counts', async () => {
    const store = new Store();
    const batches: { applied: number; replayed: number; deadLettered: number }[] = [];
    const cp = new CheckpointedPartitions(() => new SumState(store), { ...opts, onBatch: ({ applied, replayed, deadLettered }) => void batches.push({ applied, replayed, deadLettered }) });
    await cp.handle([msg(1, [1, 2]), msg(2, [3])], ctx(), 0, 0);
    // 1 and 2 again (the consumer redelivered them), then 3 — and a broken message 4
    const bad = { seq: 4, data: Buffer.from('nope') } as unknown as ConsumedMessage;
    await cp.handle([msg(1, [1, 2]), msg(2, [3]), msg(3, [10]), bad], ctx(), 0, 10);
    expect(batches).toEqual([
      { applied: 3, replayed: 0, deadLettered: 0 },
      { applied: 1, replayed: 3, deadLettered: 1 },
    ]);
    expect((cp.state(0) as SumState).total).toBe(16);
  });

  it('a decoder that keeps some events skips the others undecoded: not applied, counted as skipped, acked with the rest', async () => {
    const store = new Store();
    const batches: { applied: number; skipped: number; deadLettered: number }[] = [];
    // keeps the texts that hold a 2 (the values 2 and 12): the others are never parsed
    const keep = (text: string) => text.includes('2');
    const cp = new CheckpointedPartitions(() => new SumState(store), { ...opts, intervalMs: 0, decoder: frameDecoder(keep), onBatch: ({ applied, skipped, deadLettered }) => void batches.push({ applied, skipped, deadLettered }) });
    const broken = { seq: 2, data: encodeFrame([{ id: Buffer.from('x'), body: Buffer.from('{not json') }]) } as unknown as ConsumedMessage;
    expect(await cp.handle([msg(1, [1, 2, 3, 12]), broken], ctx(), 0, 0)).toEqual({ kind: 'ack' });
    expect(batches).toEqual([{ applied: 2, skipped: 3, deadLettered: 0 }]); // the broken event is skipped, not dead-lettered
    expect(store).toMatchObject({ seq: 2, total: 14 });
  });

  it('with intervalMs 0 every batch is checkpointed and acked at once', async () => {
    const store = new Store();
    const cp = new CheckpointedPartitions(() => new SumState(store), { ...opts, intervalMs: 0 });
    expect(await cp.handle([msg(1, [1])], ctx(), 0, 0)).toEqual({ kind: 'ack' });
    expect(await cp.handle([msg(2, [2])], ctx(), 0, 0)).toEqual({ kind: 'ack' });
    expect(store).toMatchObject({ seq: 2, total: 3, writes: 2 });
  });

  it('a CheckpointConflict from apply (a fenced write of the state’s own) restores and rewinds to the checkpoint', async () => {
    const store = new Store();
    class Fenced extends SumState {
      refuse = false;
      override apply(events: FramedEvent[]): void {
        if (this.refuse) throw new CheckpointConflict('the sink holds another writer’s output');
        super.apply(events);
      }
    }
    const cp = new CheckpointedPartitions(() => new Fenced(store), opts);
    await cp.handle([msg(1, [1])], ctx(), 0, 0);
    await cp.handle([msg(2, [2])], ctx(), 0, 300); // checkpoint at 2, total 3
    store.seq = 5; // another writer moved on
    store.total = 40;
    (cp.state(0) as Fenced).refuse = true;
    const c = ctx();
    const out = await cp.handle([msg(3, [4])], c, 0, 310);
    expect(out.kind).toBe('retry');
    expect(c.rewinds).toEqual([5]);
    expect((cp.state(0) as Fenced).total).toBe(40);
    (cp.state(0) as Fenced).refuse = false;
    expect(await cp.handle([msg(6, [1])], ctx(5), 0, 320)).toEqual({ kind: 'hold' });
    expect((cp.state(0) as Fenced).total).toBe(41);
  });

  it('exclusive runs a change between batches and checkpoints it (with held events) before it returns', async () => {
    const store = new Store();
    class Dirty extends SumState {
      changed = false;
      dirty() {
        return this.changed;
      }
      override async checkpoint(expectedSeq: number, seq: number): Promise<CheckpointResult> {
        const r = await super.checkpoint(expectedSeq, seq);
        if (r.status === 'ok') this.changed = false;
        return r;
      }
    }
    const cp = new CheckpointedPartitions(() => new Dirty(store), opts);
    const c = ctx();
    await cp.handle([msg(1, [1])], c, 0, 0); // held
    const result = await cp.exclusive(0, 10, (s) => {
      s.total += 100;
      s.changed = true;
      return 'done';
    });
    expect(result).toBe('done');
    expect(store).toMatchObject({ seq: 1, total: 101, writes: 1 });
    expect(c.commits).toEqual([1]); // the held event is acked with it
    // nothing changed: no write
    await cp.exclusive(0, 20, () => undefined);
    expect(store.writes).toBe(1);
  });

  it('exclusive: a change that cannot be checkpointed is dropped from memory with the held events, which come again', async () => {
    const store = new Store();
    class Dirty extends SumState {
      changed = false;
      dirty() {
        return this.changed;
      }
    }
    const cp = new CheckpointedPartitions(() => new Dirty(store), opts);
    const c = ctx();
    await cp.handle([msg(1, [1])], c, 0, 0);
    await cp.handle([msg(2, [2])], c, 0, 300); // checkpoint at 2, total 3
    await cp.handle([msg(3, [4])], c, 0, 310); // held
    store.fail = true;
    await expect(
      cp.exclusive(0, 320, (s) => {
        s.total += 100;
        s.changed = true;
      }),
    ).rejects.toThrow(CheckpointFailed);
    store.fail = false;
    expect(c.rewinds).toEqual([2]);
    expect((cp.state(0) as Dirty).total).toBe(3);
    // the consumer delivers 3 again: applied once
    expect(await cp.handle([msg(3, [4])], ctx(2), 0, 330)).toEqual({ kind: 'hold' });
    await cp.stop(400);
    expect(store).toMatchObject({ seq: 3, total: 7 });
  });

  it('exclusive: a change that throws (before changing anything) passes its error on and writes nothing', async () => {
    const store = new Store();
    const cp = new CheckpointedPartitions(() => new SumState(store), opts);
    const c = ctx();
    await cp.handle([msg(1, [1])], c, 0, 0); // held
    await expect(
      cp.exclusive(0, 10, () => {
        throw new Error('invalid');
      }),
    ).rejects.toThrow('invalid');
    expect(store.writes).toBe(0);
    expect(c.rewinds).toEqual([]);
    await cp.tick(300);
    expect(store).toMatchObject({ seq: 1, total: 1 });
  });

  describe('partitions that move (fencing tokens, close)', () => {
    const leased = { ...opts, leased: true };

    it('open writes with the token; close checkpoints what memory holds, acks it and forgets the partition', async () => {
      const store = new Store();
      const cp = new CheckpointedPartitions(() => new SumState(store), leased);
      store.current = 3;
      await cp.open([0], 0, 3);
      expect(store).toMatchObject({ token: 3, writes: 1 });
      const c = ctx();
      expect(await cp.handle([msg(1, [5])], c, 0, 10)).toEqual({ kind: 'hold' });
      await cp.close(0, 20);
      expect(store).toMatchObject({ seq: 1, total: 5, writes: 2, token: 3 });
      expect(c.commits).toEqual([1]);
      expect(cp.partitions).toEqual([]);
      // Not held any more: a late batch is retried, never applied to state made on the fly.
      expect((await cp.handle([msg(2, [1])], ctx(), 0, 30)).kind).toBe('retry');
      expect(store.total).toBe(5);
    });

    it('a zombie whose partition was claimed with a newer token writes nothing and stops applying', async () => {
      const store = new Store();
      const fenced: [number, number][] = [];
      const zombie = new CheckpointedPartitions(() => new SumState(store), { ...leased, onFenced: (p, t) => void fenced.push([p, t]) });
      store.current = 1;
      await zombie.open([0], 0, 1);
      await zombie.handle([msg(1, [5])], ctx(), 0, 10); // held in memory, then the zombie pauses…
      // …another member claims the partition (token 2), restores and goes on.
      store.current = 2;
      const owner = new CheckpointedPartitions(() => new SumState(store), leased);
      await owner.open([0], 20, 2);
      await owner.handle([msg(1, [5]), msg(2, [7])], ctx(), 0, 30);
      await owner.tick(1000);
      expect(store).toMatchObject({ seq: 2, total: 12, token: 2 });
      // The zombie wakes up: its checkpoint is refused before any write.
      const c = ctx();
      await zombie.tick(1000);
      expect(fenced).toEqual([[0, 2]]);
      expect(store).toMatchObject({ seq: 2, total: 12, token: 2 });
      expect((await zombie.handle([msg(3, [100])], c, 0, 1100)).kind).toBe('retry');
      await zombie.close(0, 1200);
      expect(store).toMatchObject({ seq: 2, total: 12 });
      expect(c.commits).toEqual([]);
      expect(zombie.partitions).toEqual([]);
    });

    it('a close refused by the fence acks nothing (the new owner gets those messages again)', async () => {
      const store = new Store();
      const cp = new CheckpointedPartitions(() => new SumState(store), leased);
      store.current = 1;
      await cp.open([0], 0, 1);
      const c = ctx();
      await cp.handle([msg(1, [5])], c, 0, 10);
      store.current = 2; // claimed elsewhere before our last checkpoint
      await cp.close(0, 20);
      expect(c.commits).toEqual([]);
      expect(store).toMatchObject({ seq: 0, total: 0 });
    });

    it('a partition taken again after losing it starts afresh with the new token', async () => {
      const store = new Store();
      const cp = new CheckpointedPartitions(() => new SumState(store), leased);
      store.current = 1;
      await cp.open([0], 0, 1);
      await cp.handle([msg(1, [5])], ctx(), 0, 10);
      store.current = 2;
      await cp.tick(1000); // fenced
      store.current = 3;
      await cp.open([0], 1100, 3);
      expect(store.token).toBe(3);
      expect(await cp.handle([msg(1, [5])], ctx(), 0, 1200)).toEqual({ kind: 'hold' });
      await cp.tick(2000);
      expect(store).toMatchObject({ seq: 1, total: 5 });
    });

    it('without a token (static ownership) writes are not fenced, as before', async () => {
      const store = new Store();
      store.current = 9;
      const cp = new CheckpointedPartitions(() => new SumState(store), opts);
      await cp.handle([msg(1, [5])], ctx(), 0, 0);
      await cp.tick(1000);
      expect(store).toMatchObject({ seq: 1, total: 5 });
    });
  });
});
