/**
 * Dedup's claims stay unfenced when partitions move (docs/scale-out.md "Partitions that move"): a zombie — an
 * instance that lost the partition's lease but still runs a batch — may claim ids in Redis and then fail to
 * forward (the clean stream's expected-last-subject-sequence refuses its publish). Its claims must not make the
 * new owner drop a first occurrence as a duplicate. They do not, because a claim's value is the id's *place*
 * — the raw frame's stream sequence, the event's index in it and the frame's stored time — a pure function
 * of the raw stream: whoever claims the first occurrence of an id writes the same value, and the new owner,
 * finding it, decides `retry` (forward it), not `duplicate`.
 */
import { encodeFrame, decodeFrame, DEFAULT_FRAME_LIMITS } from '@tidemark/contracts';
import { InMemoryDedupStore } from '@tidemark/state';
import { CleanStream, DedupProcessor, ForwardedFloor, RawFrameMessage } from './dedup.processor';

/** The clean stream's fence: a publish must name the subject's last sequence. */
class CleanSubject implements CleanStream {
  readonly messages: { seq: number; rawSeq: number; msgId: string; frame: Buffer }[] = [];
  async floor(): Promise<ForwardedFloor> {
    const last = this.messages.at(-1);
    return last ? { rawSeq: last.rawSeq, cleanSeq: last.seq } : { rawSeq: 0, cleanSeq: 0 };
  }
  async publish(_p: number, frame: Buffer, msgId: string, rawSeq: number, expectedLastSeq: number): Promise<number> {
    const dup = this.messages.find((m) => m.msgId === msgId);
    if (dup) return dup.seq;
    if ((this.messages.at(-1)?.seq ?? 0) !== expectedLastSeq) throw new Error('wrong last sequence');
    this.messages.push({ seq: this.messages.length + 1, rawSeq, msgId, frame });
    return this.messages.length;
  }
  ids(): string[] {
    return this.messages.flatMap((m) => decodeFrame(m.frame).ids.map((b) => b.toString()));
  }
}

const raw = (seq: number, ids: string[], timestampMs = 5_000): RawFrameMessage => ({
  seq,
  timestampMs,
  data: encodeFrame(ids.map((id) => ({ id: Buffer.from(id), body: Buffer.from(JSON.stringify({ id })) }))),
});

describe('dedup claims of a zombie after the partition moved', () => {
  it('a zombie that claims ids and fails to forward does not make the new owner drop them', async () => {
    const clean = new CleanSubject();
    const store = new InMemoryDedupStore(86_400_000, 16);
    const zombie = new DedupProcessor(store, clean, DEFAULT_FRAME_LIMITS);
    await zombie.process(0, [raw(1, ['a'])]); // forwarded while it still held the partition
    // The lease moves; the new owner forwards frame 2 first.
    const owner = new DedupProcessor(store, clean, DEFAULT_FRAME_LIMITS);
    await owner.process(0, [raw(2, ['b'])]);
    // The zombie wakes up with frames 2-3 in hand: claims c, d (and c again inside the frame), then its
    // publish is refused by the clean stream's fence.
    await expect(zombie.process(0, [raw(2, ['b']), raw(3, ['c', 'd', 'c'])])).rejects.toThrow('wrong last sequence');
    expect(clean.ids()).toEqual(['a', 'b']);
    // The new owner gets frame 3: the zombie's claims sit at the same places, so c and d are first occurrences
    // (retry), the second c in the frame a duplicate — exactly as if the zombie had never run.
    const r = await owner.process(0, [raw(3, ['c', 'd', 'c'])]);
    expect(r).toMatchObject({ forwarded: 2, duplicates: 1 });
    expect(clean.ids()).toEqual(['a', 'b', 'c', 'd']);
    // A true duplicate later (another place) is still dropped.
    expect(await owner.process(0, [raw(4, ['d'])])).toMatchObject({ forwarded: 0, duplicates: 1 });
  });
});
