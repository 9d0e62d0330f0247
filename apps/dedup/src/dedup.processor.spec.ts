import fc from 'fast-check';
import { DEFAULT_FRAME_LIMITS, decodeFrame, encodeFrame, type FrameLimits } from '@tidemark/contracts';
import { InMemoryDedupStore } from '@tidemark/state';
import { CleanStream, DedupProcessor, ForwardedFloor, RawFrameMessage } from './dedup.processor';

/** The clean stream's semantics that dedup relies on: expected-last-sequence fence, msgId de-duplication. */
class FakeCleanStream implements CleanStream {
  readonly messages: { partition: number; seq: number; rawSeq: number; msgId: string; frame: Buffer }[] = [];
  /** Fail the next publish before storing it ('before'), or store it and lose the ack ('after'). */
  failNext: 'before' | 'after' | undefined;

  async floor(partition: number): Promise<ForwardedFloor> {
    const last = this.messages.filter((m) => m.partition === partition).pop();
    return last ? { rawSeq: last.rawSeq, cleanSeq: last.seq } : { rawSeq: 0, cleanSeq: 0 };
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

  ids(partition = 3): string[] {
    return this.messages.filter((m) => m.partition === partition).flatMap((m) => decodeFrame(m.frame).ids.map((b) => b.toString()));
  }
}

const raw = (seq: number, ids: string[], timestampMs = 1_000): RawFrameMessage => ({
  seq,
  timestampMs,
  data: encodeFrame(ids.map((id) => ({ id: Buffer.from(id), body: Buffer.from(JSON.stringify({ id, type: 'page_view' })) }))),
});
const TTL = 86_400_000;
const processor = (clean: FakeCleanStream, store = new InMemoryDedupStore(TTL, 64), limits: FrameLimits = DEFAULT_FRAME_LIMITS) =>
  new DedupProcessor(store, clean, limits);

describe('DedupProcessor on frames', () => {
  it('forwards first occurrences as one clean frame and drops duplicates, also inside a frame', async () => {
    const clean = new FakeCleanStream();
    const p = processor(clean);
    const r = await p.process(3, [raw(1, ['a', 'b', 'a']), raw(2, ['c', 'b'])]);
    expect(r).toMatchObject({ forwarded: 3, duplicates: 2, replayed: 0, poison: [], frames: 1 });
    expect(clean.ids()).toEqual(['a', 'b', 'c']);
    expect(clean.messages[0]).toMatchObject({ rawSeq: 2, msgId: '3:1-2' });
    // the body of a forwarded event is carried byte for byte
    expect(JSON.parse(decodeFrame(clean.messages[0].frame).bodies[2].toString())).toEqual({ id: 'c', type: 'page_view' });
    // a duplicate sent long after (a new raw frame) is dropped too
    expect(await p.process(3, [raw(7, ['b'])])).toMatchObject({ forwarded: 0, duplicates: 1, frames: 0 });
  });

  it('skips frames a clean frame already covers, also after a restart (learned from the clean stream)', async () => {
    const clean = new FakeCleanStream();
    const store = new InMemoryDedupStore(TTL, 64);
    await processor(clean, store).process(3, [raw(1, ['a']), raw(2, ['b'])]);
    const restarted = processor(clean, store);
    expect(await restarted.process(3, [raw(1, ['a']), raw(2, ['b']), raw(3, ['c'])])).toMatchObject({ forwarded: 1, replayed: 2 });
    expect(clean.ids()).toEqual(['a', 'b', 'c']);
  });

  it('forwards again a claimed frame whose forward failed, and one whose ack was lost exactly once', async () => {
    const clean = new FakeCleanStream();
    const p = processor(clean);
    clean.failNext = 'before';
    await expect(p.process(3, [raw(1, ['a'])])).rejects.toThrow('no responders');
    expect(await p.process(3, [raw(1, ['a'])])).toMatchObject({ forwarded: 1, duplicates: 0 });
    clean.failNext = 'after';
    await expect(p.process(3, [raw(2, ['b'])])).rejects.toThrow('PubAck');
    // redelivered with another batch boundary (another msgId): the floor is read again, nothing doubles
    expect(await p.process(3, [raw(2, ['b']), raw(3, ['c'])])).toMatchObject({ forwarded: 1, replayed: 1 });
    expect(clean.ids()).toEqual(['a', 'b', 'c']);
  });

  it('fences a second instance of the partition that does not know the latest forward', async () => {
    const clean = new FakeCleanStream();
    const store = new InMemoryDedupStore(TTL, 64);
    const zombie = processor(clean, store);
    await zombie.process(3, [raw(1, ['a'])]);
    const owner = processor(clean, store);
    await owner.process(3, [raw(2, ['b'])]);
    await expect(zombie.process(3, [raw(2, ['b']), raw(3, ['c'])])).rejects.toThrow('wrong last sequence');
    expect(clean.ids()).toEqual(['a', 'b']);
    expect(await zombie.process(3, [raw(2, ['b']), raw(3, ['c'])])).toMatchObject({ forwarded: 1, replayed: 1 });
    expect(clean.ids()).toEqual(['a', 'b', 'c']);
  });

  it('dead-letters a message that is not a frame, and reads a single JSON event (the format before frames)', async () => {
    const clean = new FakeCleanStream();
    const r = await processor(clean).process(3, [
      raw(1, ['a']),
      { seq: 2, timestampMs: 1, data: Buffer.from('{oops') },
      { seq: 3, timestampMs: 1, data: Buffer.from(JSON.stringify({ id: 'legacy', type: 'page_view' })) },
      { seq: 4, timestampMs: 1, data: Buffer.concat([Buffer.from('TMF1'), Buffer.from([5, 0, 0, 0])]) },
    ]);
    expect(r.poison).toEqual([
      { seq: 2, reason: expect.stringMatching(/neither a frame nor a JSON event/) },
      { seq: 4, reason: expect.stringMatching(/not a frame|cut short|claims/) },
    ]);
    expect(clean.ids()).toEqual(['a', 'legacy']);
  });

  it('cuts clean frames along raw frame boundaries within the limits', async () => {
    const clean = new FakeCleanStream();
    const p = processor(clean, undefined, { maxEvents: 3, maxBytes: 1 << 20 });
    await p.process(3, [raw(1, ['a', 'b']), raw(2, ['c', 'd']), raw(3, ['e'])]);
    expect(clean.messages.map((m) => [m.msgId, decodeFrame(m.frame).count])).toEqual([
      ['3:1-1', 2],
      ['3:2-3', 3],
    ]);
  });

  it('a forgotten claim past the horizon lets the id through again, once', async () => {
    const clean = new FakeCleanStream();
    const p = processor(clean);
    await p.process(3, [raw(1, ['a'])]);
    const later = 1_000 + TTL + 3 * 3_600_000;
    expect(await p.process(3, [raw(2, ['a', 'a'], later)])).toMatchObject({ forwarded: 1, duplicates: 1 });
  });

  it('exactly once through random duplicates, failures, lost acks and restarts (property)', async () => {
    await fc.assert(
      fc.asyncProperty(
        fc.array(fc.array(fc.constantFrom('a', 'b', 'c', 'd', 'e', 'f', 'g', 'h'), { minLength: 1, maxLength: 5 }), { minLength: 1, maxLength: 12 }),
        fc.array(fc.tuple(fc.constantFrom('none', 'before', 'after', 'restart'), fc.integer({ min: 1, max: 4 })), { maxLength: 30 }),
        async (frames, faults) => {
          const clean = new FakeCleanStream();
          const store = new InMemoryDedupStore(TTL, 8);
          const stream = frames.map((ids, i) => raw(i + 1, ids));
          let p = processor(clean, store, { maxEvents: 4, maxBytes: 1 << 20 });
          let acked = 0; // the raw consumer's ack floor: everything after it comes again
          let f = 0;
          for (let guard = 0; acked < stream.length && guard < 200; guard++) {
            const [fault, size] = faults[f++] ?? ['none', 4];
            if (fault === 'restart') p = processor(clean, store, { maxEvents: 4, maxBytes: 1 << 20 });
            else if (fault !== 'none') clean.failNext = fault;
            const batch = stream.slice(acked, acked + size);
            try {
              await p.process(3, batch);
              acked += batch.length;
            } catch {
              clean.failNext = undefined; // the batch comes again
            }
          }
          const distinct = [...new Set(frames.flat())];
          expect(clean.ids().sort()).toEqual(distinct.sort());
        },
      ),
      { numRuns: 300 },
    );
  });
});
