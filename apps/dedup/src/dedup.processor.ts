/**
 * The dedup service's work on one batch of raw frames of one partition, in stream order
 * (docs/semantics.md "Exactly-once: dedup"):
 *   1. skip the frames at or below the partition's forwarded floor: the last raw sequence a clean frame
 *      already covers, learned from the clean stream itself at start (its Tidemark-Raw-Seq header);
 *   2. read each frame's index of ids (no event is parsed); a message that is not a frame is dead-lettered;
 *   3. claim every id with its (raw sequence, index) in one Lua call per chunk (libs/state dedup);
 *   4. cut the first occurrences into clean frames along raw frame boundaries and publish them in order,
 *      each expecting the subject's last sequence to be the previous one (a zombie instance, or a publish
 *      whose ack was lost, fails the expectation: the floor is read again and the batch comes again), with
 *      Nats-Msg-Id = partition and the raw sequences covered, and Tidemark-Raw-Seq = the last one;
 *   5. then the transport acks the raw frames.
 * A crash anywhere before 4 redoes the claims (`retry`: the same place claims the same id); a crash between
 * 4 and 5 finds the forward in the clean stream on restart and skips it. Nothing is marked after the forward.
 */
import { FrameLimits, encodeFrame, entrySize, EMPTY_FRAME_SIZE, readFrame, type EventFrame, type FrameEntry } from '@tidemark/contracts';
import { DedupDecision, DedupItem, DedupStore, MAX_FRAME_EVENTS } from '@tidemark/state';

export interface RawFrameMessage {
  seq: number;
  data: Uint8Array;
  /** When JetStream stored the frame (epoch ms): the time of its claims. */
  timestampMs: number;
}

/** What the clean stream says about a partition: the last raw sequence forwarded and the subject's last sequence. */
export interface ForwardedFloor {
  rawSeq: number;
  cleanSeq: number;
}

export interface CleanStream {
  /** The partition's last clean frame: the raw sequence it covers up to, and its own sequence (0, 0 when none). */
  floor(partition: number): Promise<ForwardedFloor>;
  /**
   * Stores a clean frame only if the subject's last sequence is `expectedLastSeq`; resolves with its sequence
   * (the original's for a duplicate msgId). Rejects when the expectation or the publish fails.
   */
  publish(partition: number, frame: Buffer, msgId: string, rawSeq: number, expectedLastSeq: number, ingestedAt: number): Promise<number>;
}

export interface DedupBatchResult {
  /** Events forwarded to the clean stream. */
  forwarded: number;
  duplicates: number;
  /** Events of frames skipped as already forwarded (a redelivery). */
  replayed: number;
  /** Messages to dead-letter, with the reason. */
  poison: { seq: number; reason: string }[];
  /** Clean frames published. */
  frames: number;
}

interface Group {
  entries: FrameEntry[];
  bytes: number;
  firstRawSeq: number;
  lastRawSeq: number;
  /** When the earliest of its raw frames was stored. */
  ingestedAt: number;
}

export class DedupProcessor {
  private readonly floors = new Map<number, ForwardedFloor>();

  constructor(
    private readonly store: DedupStore,
    private readonly clean: CleanStream,
    private readonly limits: FrameLimits,
  ) {}

  async process(partition: number, batch: readonly RawFrameMessage[]): Promise<DedupBatchResult> {
    let floor = this.floors.get(partition);
    if (!floor) {
      floor = await this.clean.floor(partition);
      this.floors.set(partition, floor);
    }
    const poison: { seq: number; reason: string }[] = [];
    const frames: { m: RawFrameMessage; frame: EventFrame }[] = [];
    let replayed = 0;
    for (const m of batch) {
      let frame: EventFrame;
      try {
        frame = readFrame(m.data);
      } catch (e) {
        // Decided the same way on every delivery, below the floor or not: a redelivery dead-letters it again (same msgId).
        poison.push({ seq: m.seq, reason: (e as Error).message });
        continue;
      }
      if (frame.count > MAX_FRAME_EVENTS) {
        poison.push({ seq: m.seq, reason: `a frame of ${frame.count} events; at most ${MAX_FRAME_EVENTS}` });
        continue;
      }
      if (m.seq <= floor.rawSeq) replayed += frame.count;
      else frames.push({ m, frame });
    }
    const items: DedupItem[] = [];
    for (const { m, frame } of frames) {
      for (let index = 0; index < frame.count; index++) items.push({ id: frame.ids[index], seq: m.seq, index, timeMs: m.timestampMs });
    }
    const nowMs = frames.length ? frames[frames.length - 1].m.timestampMs : 0;
    const decisions: DedupDecision[] = items.length ? await this.store.claim(items, nowMs) : [];

    // Clean frames along raw frame boundaries, within the limits.
    const groups: Group[] = [];
    let group: Group | undefined;
    let at = 0;
    let forwarded = 0;
    for (const { m, frame } of frames) {
      const kept: FrameEntry[] = [];
      let bytes = 0;
      for (let index = 0; index < frame.count; index++) {
        if (decisions[at + index] === 'duplicate') continue;
        kept.push({ id: frame.ids[index], body: frame.bodies[index] });
        bytes += entrySize(frame.ids[index].length, frame.bodies[index].length);
      }
      at += frame.count;
      forwarded += kept.length;
      const fits = group && group.entries.length + kept.length <= this.limits.maxEvents && group.bytes + bytes <= this.limits.maxBytes;
      if (!group || (!fits && group.entries.length > 0)) {
        group = { entries: [], bytes: EMPTY_FRAME_SIZE, firstRawSeq: m.seq, lastRawSeq: m.seq, ingestedAt: m.timestampMs };
        groups.push(group);
      }
      for (const e of kept) group.entries.push(e);
      group.bytes += bytes;
      group.lastRawSeq = m.seq;
      group.ingestedAt = Math.min(group.ingestedAt, m.timestampMs);
    }

    let published = 0;
    for (const g of groups) {
      if (g.entries.length === 0) continue; // nothing new: the next forward's floor covers these frames
      const msgId = `${partition}:${g.firstRawSeq}-${g.lastRawSeq}`;
      try {
        const seq = await this.clean.publish(partition, encodeFrame(g.entries), msgId, g.lastRawSeq, floor.cleanSeq, g.ingestedAt);
        floor = { rawSeq: g.lastRawSeq, cleanSeq: seq };
        this.floors.set(partition, floor);
        published++;
      } catch (e) {
        // Not sure what the clean stream holds now: read the floor again before the batch comes back.
        this.floors.delete(partition);
        throw e;
      }
    }
    const duplicates = decisions.filter((d) => d === 'duplicate').length;
    return { forwarded, duplicates, replayed, poison, frames: published };
  }

  /** Forget the floors (e.g. after losing a partition): they are read from the clean stream again. */
  reset(): void {
    this.floors.clear();
  }
}
