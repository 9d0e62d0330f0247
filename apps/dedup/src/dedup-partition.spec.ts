import fc from 'fast-check';
import { DEFAULT_FRAME_LIMITS, decodeFrame, encodeFrame, type FrameLimits } from '@tidemark/contracts';
import type { BatchOutcome, ConsumedMessage } from '@tidemark/jetstream';
import { CheckpointedPartitions } from '@tidemark/runtime';
import { InMemoryDedupStore, NotDurableError, type DedupDecision, type DedupItem } from '@tidemark/state';
import { CleanStream, DedupCounts, DedupPartition, ForwardedFloor, RAW_FRAME_DECODER, RawFrame } from './dedup-partition';

/** The clean stream's semantics that dedup relies on: expected-last-sequence fence, msgId de-duplication. */
class FakeCleanStream implements CleanStream {
  readonly messages: { partition: number; seq: number; rawSeq: number | undefined; msgId: string; frame: Buffer }[] = [];
  /** Fail the next publish before storing it ('before'), or store it and lose the ack ('after'). */
  failNext: 'before' | 'after' | undefined;

  /** Like the JetStream one: the last raw sequence on the subject (read past foreign messages), its last sequence. */
  async floor(partition: number): Promise<ForwardedFloor> {
    const mine = this.messages.filter((m) => m.partition === partition);
    const last = mine[mine.length - 1];
    const forwarded = mine.filter((m) => m.rawSeq !== undefined).pop();
    return last ? { rawSeq: forwarded?.rawSeq ?? 0, cleanSeq: last.seq } : { rawSeq: 0, cleanSeq: 0 };
  }

  async publish(partition: number, frame: Buffer, msgId: string, rawSeq: number, expectedLastSeq: number, _ingestedAt: number): Promise<number> {
    const fail = this.failNext;
    this.failNext = undefined;
    if (fail === 'before') throw new Error('no responders');
    const dup = this.messages.find((m) => m.msgId === msgId);
    if (dup) return dup.seq;
    const last = this.messages.filter((m) => m.partition === partition).pop();
    if ((last?.seq ?? 0) !== expectedLastSeq) throw new Error(`wrong last sequence: ${last?.seq ?? 0}`);
    const seq = this.messages.length + 1;
    this.messages.push({ partition, seq, rawSeq, msgId, frame });
    if (fail === 'after') throw new Error('no PubAck within 5000 ms');
    return seq;
  }

  /** A message somebody else published on the partition's clean subject (no raw sequence). */
  foreign(partition = 3): void {
    this.messages.push({ partition, seq: this.messages.length + 1, rawSeq: undefined, msgId: `foreign-${this.messages.length}`, frame: Buffer.from('{not a frame') });
  }

  ids(partition = 3): string[] {
    return this.messages.filter((m) => m.partition === partition && m.rawSeq !== undefined).flatMap((m) => decodeFrame(m.frame).ids.map((b) => b.toString()));
  }
}

const message = (seq: number, data: Buffer, timestampMs = 1): ConsumedMessage => ({
  subject: 'events.raw.3',
  data,
  headers: undefined,
  seq,
  deliveryCount: 1,
  partition: 3,
  timestampMs,
  deliverySeq: seq,
  pending: 0,
  reply: '',
});
const raw = (seq: number, ids: string[], timestampMs = 1_000): ConsumedMessage =>
  message(seq, encodeFrame(ids.map((id) => ({ id: Buffer.from(id), body: Buffer.from(JSON.stringify({ id, type: 'page_view' })) }))), timestampMs);
const TTL = 86_400_000;

/**
 * One dedup instance as the service runs it: DedupPartition on the shared lifecycle with a zero checkpoint
 * interval, driven like the consumer drives it (an ack floor, rewinds recorded).
 */
class Instance {
  readonly partitions: CheckpointedPartitions<DedupPartition, RawFrame>;
  counts: DedupCounts & { replayed: number; poison: number } = { forwarded: 0, duplicates: 0, frames: 0, replayed: 0, poison: 0 };
  rewinds: number[] = [];
  ackFloor = 0;

  constructor(clean: FakeCleanStream, store = new InMemoryDedupStore(TTL, 64), limits: FrameLimits = DEFAULT_FRAME_LIMITS) {
    this.partitions = new CheckpointedPartitions(
      (p) =>
        new DedupPartition(p, store, clean, limits, (c) => {
          this.counts.forwarded += c.forwarded;
          this.counts.duplicates += c.duplicates;
          this.counts.frames += c.frames;
        }),
      {
        decoder: RAW_FRAME_DECODER,
        intervalMs: 0,
        maxEvents: 1,
        onBatch: (b) => {
          this.counts.replayed += b.replayed;
          this.counts.poison += b.deadLettered;
        },
      },
    );
  }

  /** One batch; the counts of this batch alone and the outcome. */
  async process(batch: ConsumedMessage[], partition = 3): Promise<BatchOutcome & { counts: Instance['counts'] }> {
    const before = { ...this.counts };
    const ctx = { ackFloor: this.ackFloor, commit: async () => undefined, rewind: (s: number) => void this.rewinds.push(s) };
    const out = await this.partitions.handle(batch, ctx, partition, 0);
    if (out.kind === 'ack') this.ackFloor = batch[batch.length - 1].seq;
    const counts = { ...this.counts };
    for (const k of Object.keys(counts) as (keyof typeof counts)[]) counts[k] -= before[k];
    return { ...out, counts };
  }
}

describe('DedupPartition on the shared lifecycle', () => {
  it('forwards first occurrences as one clean frame and drops duplicates, also inside a frame; acks at once', async () => {
    const clean = new FakeCleanStream();
    const d = new Instance(clean);
    const r = await d.process([raw(1, ['a', 'b', 'a']), raw(2, ['c', 'b'])]);
    expect(r).toMatchObject({ kind: 'ack', counts: { forwarded: 3, duplicates: 2, replayed: 0, poison: 0, frames: 1 } });
    expect(clean.ids()).toEqual(['a', 'b', 'c']);
    expect(clean.messages[0]).toMatchObject({ rawSeq: 2, msgId: '3:1-2' });
    // the body of a forwarded event is carried byte for byte
    expect(JSON.parse(decodeFrame(clean.messages[0].frame).bodies[2].toString())).toEqual({ id: 'c', type: 'page_view' });
    // a duplicate sent long after (a new raw frame) is dropped too
    expect(await d.process([raw(7, ['b'])])).toMatchObject({ kind: 'ack', counts: { forwarded: 0, duplicates: 1, frames: 0 } });
  });

  it('skips frames a clean frame already covers, also after a restart (learned from the clean stream)', async () => {
    const clean = new FakeCleanStream();
    const store = new InMemoryDedupStore(TTL, 64);
    await new Instance(clean, store).process([raw(1, ['a']), raw(2, ['b'])]);
    const restarted = new Instance(clean, store);
    expect(await restarted.process([raw(1, ['a']), raw(2, ['b']), raw(3, ['c'])])).toMatchObject({ counts: { forwarded: 1, replayed: 2 } });
    expect(clean.ids()).toEqual(['a', 'b', 'c']);
  });

  it('a forward that fails or loses its ack: the floor is read again and the partition delivered from there, nothing doubles', async () => {
    const clean = new FakeCleanStream();
    const d = new Instance(clean);
    clean.failNext = 'before';
    expect(await d.process([raw(1, ['a'])])).toMatchObject({ kind: 'retry' });
    expect(d.rewinds).toEqual([0]);
    expect(await d.process([raw(1, ['a'])])).toMatchObject({ kind: 'ack', counts: { forwarded: 1, duplicates: 0 } });
    clean.failNext = 'after';
    expect(await d.process([raw(2, ['b'])])).toMatchObject({ kind: 'retry' });
    expect(d.rewinds).toEqual([0, 2]); // the clean stream holds b: delivered again after raw 2
    expect(await d.process([raw(3, ['c'])])).toMatchObject({ kind: 'ack', counts: { forwarded: 1 } });
    expect(clean.ids()).toEqual(['a', 'b', 'c']);
    // had the consumer delivered 2 again anyway, it is skipped as replayed
    expect(await d.process([raw(2, ['b'])])).toMatchObject({ kind: 'ack', counts: { forwarded: 0, replayed: 1 } });
  });

  it('claims that fail (Redis away, or written but not on a replica) retry the batch as it is: no restore, no rewind, nothing doubled', async () => {
    const clean = new FakeCleanStream();
    class FlakyStore extends InMemoryDedupStore {
      /** 'before': fail without writing; 'after': write the claims, then fail (a WAIT that fell short). */
      failNext: 'before' | 'after' | undefined;
      override async claim(items: readonly DedupItem[], nowMs: number): Promise<DedupDecision[]> {
        const fail = this.failNext;
        this.failNext = undefined;
        if (fail === 'before') throw new Error('CLUSTERDOWN The cluster is down');
        const decisions = await super.claim(items, nowMs);
        if (fail === 'after') throw new NotDurableError(0, 1);
        return decisions;
      }
    }
    const store = new FlakyStore(TTL, 64);
    const d = new Instance(clean, store);
    let floorReads = 0;
    const floor = clean.floor.bind(clean);
    clean.floor = (p: number) => (floorReads++, floor(p));
    expect(await d.process([raw(1, ['a'])])).toMatchObject({ kind: 'ack', counts: { forwarded: 1 } });
    const reads = floorReads;
    store.failNext = 'before';
    expect(await d.process([raw(2, ['b', 'a'])])).toMatchObject({ kind: 'retry', reason: expect.stringContaining('claims failed: CLUSTERDOWN') });
    store.failNext = 'after';
    expect(await d.process([raw(2, ['b', 'a'])])).toMatchObject({ kind: 'retry', reason: expect.stringContaining('claims failed: written, but acknowledged by 0 of 1') });
    expect(d.rewinds).toEqual([]);
    expect(floorReads).toBe(reads); // not restored
    // the same batch again: b's own claim is recognised (same place), a is still a duplicate
    expect(await d.process([raw(2, ['b', 'a'])])).toMatchObject({ kind: 'ack', counts: { forwarded: 1, duplicates: 1 } });
    expect(clean.ids()).toEqual(['a', 'b']);
  });

  it('fences a second instance of the partition that does not know the latest forward', async () => {
    const clean = new FakeCleanStream();
    const store = new InMemoryDedupStore(TTL, 64);
    const zombie = new Instance(clean, store);
    await zombie.process([raw(1, ['a'])]);
    const owner = new Instance(clean, store);
    await owner.process([raw(2, ['b'])]);
    expect(await zombie.process([raw(2, ['b']), raw(3, ['c'])])).toMatchObject({ kind: 'retry' });
    expect(zombie.rewinds).toEqual([2]);
    expect(clean.ids()).toEqual(['a', 'b']);
    expect(await zombie.process([raw(3, ['c'])])).toMatchObject({ kind: 'ack', counts: { forwarded: 1 } });
    expect(clean.ids()).toEqual(['a', 'b', 'c']);
  });

  it('a foreign message last on the clean subject: the floor is read past it', async () => {
    const clean = new FakeCleanStream();
    const store = new InMemoryDedupStore(TTL, 64);
    const d = new Instance(clean, store);
    await d.process([raw(1, ['a']), raw(2, ['b'])]);
    clean.foreign();
    // the next forward finds another last sequence: restored, and delivered again after 2 (the last forwarded)
    expect(await d.process([raw(3, ['c'])])).toMatchObject({ kind: 'retry' });
    expect(d.rewinds).toEqual([2]);
    expect(await d.process([raw(3, ['c'])])).toMatchObject({ kind: 'ack', counts: { forwarded: 1 } });
    clean.foreign();
    // a new instance after a foreign message, its consumer behind (the ack of 3 was lost): 3 is skipped
    const restarted = new Instance(clean, store);
    restarted.ackFloor = 2;
    expect(await restarted.process([raw(3, ['c'])])).toMatchObject({ kind: 'ack', counts: { forwarded: 0, replayed: 1 } });
    expect(await restarted.process([raw(4, ['d'])])).toMatchObject({ kind: 'ack', counts: { forwarded: 1, replayed: 0 } });
    expect(restarted.rewinds).toEqual([]);
    expect(clean.ids()).toEqual(['a', 'b', 'c', 'd']);
  });

  it("a zombie's claims after the partition moved: it claims ids, fails to forward, and the new owner still forwards them", async () => {
    // Claims stay unfenced (apps/dedup/src/main.ts): a claim's value is the id's place (raw sequence, index,
    // stored time), a function of the raw stream, so the zombie wrote exactly what the new owner would.
    const clean = new FakeCleanStream();
    const store = new InMemoryDedupStore(TTL, 16);
    const zombie = new Instance(clean, store);
    await zombie.process([raw(1, ['a'], 5_000)]); // forwarded while it still held the partition
    const owner = new Instance(clean, store);
    owner.ackFloor = 1;
    await owner.process([raw(2, ['b'], 5_000)]);
    // frames 2-3 in the zombie's hands: it claims c, d (c twice in the frame); its forward is refused
    expect(await zombie.process([raw(2, ['b'], 5_000), raw(3, ['c', 'd', 'c'], 5_000)])).toMatchObject({ kind: 'retry' });
    expect(clean.ids()).toEqual(['a', 'b']);
    // the new owner gets frame 3: c and d are first occurrences (same places), the second c a duplicate
    expect(await owner.process([raw(3, ['c', 'd', 'c'], 5_000)])).toMatchObject({ kind: 'ack', counts: { forwarded: 2, duplicates: 1 } });
    expect(clean.ids()).toEqual(['a', 'b', 'c', 'd']);
    // a true duplicate later (another place) is still dropped
    expect(await owner.process([raw(4, ['d'], 5_000)])).toMatchObject({ counts: { forwarded: 0, duplicates: 1 } });
  });

  it('dead-letters a message that is not a frame, and reads a single JSON event (the format before frames)', async () => {
    const clean = new FakeCleanStream();
    const r = await new Instance(clean).process([
      raw(1, ['a']),
      message(2, Buffer.from('{oops')),
      message(3, Buffer.from(JSON.stringify({ id: 'legacy', type: 'page_view' }))),
      message(4, Buffer.concat([Buffer.from('TMF1'), Buffer.from([5, 0, 0, 0])])),
    ]);
    expect(r.kind).toBe('ack');
    expect((r as { deadLetters: unknown[] }).deadLetters).toEqual([
      { seq: 2, reason: expect.stringMatching(/neither a frame nor a JSON event/) },
      { seq: 4, reason: expect.stringMatching(/not a frame|cut short|claims/) },
    ]);
    expect(r.counts.poison).toBe(2);
    expect(clean.ids()).toEqual(['a', 'legacy']);
  });

  it('cuts clean frames along raw frame boundaries within the limits', async () => {
    const clean = new FakeCleanStream();
    await new Instance(clean, undefined, { maxEvents: 3, maxBytes: 1 << 20 }).process([raw(1, ['a', 'b']), raw(2, ['c', 'd']), raw(3, ['e'])]);
    expect(clean.messages.map((m) => [m.msgId, decodeFrame(m.frame).count])).toEqual([
      ['3:1-1', 2],
      ['3:2-3', 3],
    ]);
  });

  it('a forgotten claim past the horizon lets the id through again, once', async () => {
    const clean = new FakeCleanStream();
    const d = new Instance(clean);
    await d.process([raw(1, ['a'])]);
    const later = 1_000 + TTL + 3 * 3_600_000;
    expect(await d.process([raw(2, ['a', 'a'], later)])).toMatchObject({ counts: { forwarded: 1, duplicates: 1 } });
  });

  it('exactly once through random duplicates, failures, lost acks, restarts, zombies and foreign messages (property)', async () => {
    await fc.assert(
      fc.asyncProperty(
        fc.array(fc.array(fc.constantFrom('a', 'b', 'c', 'd', 'e', 'f', 'g', 'h'), { minLength: 1, maxLength: 5 }), { minLength: 1, maxLength: 12 }),
        fc.array(fc.tuple(fc.constantFrom('none', 'before', 'after', 'restart', 'zombie', 'foreign'), fc.integer({ min: 1, max: 4 })), { maxLength: 30 }),
        async (frames, faults) => {
          const clean = new FakeCleanStream();
          const store = new InMemoryDedupStore(TTL, 8);
          const stream = frames.map((ids, i) => raw(i + 1, ids));
          const limits = { maxEvents: 4, maxBytes: 1 << 20 };
          let d = new Instance(clean, store, limits);
          let zombie: Instance | undefined;
          // The consumer: delivers from `next`; an ack moves the ack floor; a rewind re-creates it after a sequence.
          let next = 1;
          let f = 0;
          for (let guard = 0; d.ackFloor < stream.length && guard < 300; guard++) {
            const [fault, size] = faults[f++] ?? ['none', 4];
            if (fault === 'restart') {
              // kill -9: the consumer delivers again after its ack floor
              const floor = d.ackFloor;
              d = new Instance(clean, store, limits);
              d.ackFloor = floor;
              next = floor + 1;
            } else if (fault === 'zombie') {
              // the previous instance woke up and processed a batch from where it was
              zombie ??= new Instance(clean, store, limits);
              await zombie.process(stream.slice(0, size)).catch(() => undefined);
            } else if (fault === 'foreign') clean.foreign();
            else if (fault !== 'none') clean.failNext = fault;
            const batch = stream.slice(next - 1, next - 1 + size);
            if (batch.length === 0) break;
            const rewinds = d.rewinds.length;
            const out = await d.process(batch);
            clean.failNext = undefined;
            if (out.kind === 'ack') next = batch[batch.length - 1].seq + 1;
            else if (d.rewinds.length > rewinds) {
              // re-created to deliver after the rewind's sequence: its ack floor is that sequence
              d.ackFloor = d.rewinds[d.rewinds.length - 1];
              next = d.ackFloor + 1;
            }
          }
          expect(d.ackFloor).toBe(stream.length);
          const distinct = [...new Set(frames.flat())];
          expect(clean.ids().sort()).toEqual(distinct.sort());
        },
      ),
      { numRuns: 300 },
    );
  });
});
