/**
 * Dedup's operator: one raw partition's state on the shared lifecycle (libs/runtime checkpointed.ts), where
 * the checkpoint is the forward itself (docs/semantics.md "Exactly-once: dedup"):
 *   restore  → the partition's forwarded floor: the last raw sequence a clean frame covers, read from the
 *              clean stream (its Tidemark-Raw-Seq header) — frames at or below it are skipped by the lifecycle;
 *   apply    → read each frame's index of ids (no event is parsed); claim every id with its (raw sequence,
 *              index) in one Lua call per chunk (libs/state dedup); cut the first occurrences into clean frames
 *              along raw frame boundaries and publish them in order, each expecting the subject's last
 *              sequence to be the previous one, with Nats-Msg-Id = partition and the raw sequences covered;
 *   checkpoint → nothing left to write (the service runs it with CHECKPOINT interval 0: acked after each batch).
 * Claims that fail throw BatchNotApplied: nothing was forwarded, and the same places claim the same ids again,
 * so the batch is retried as it is. A publish that fails, or finds another writer's frame (a zombie instance,
 * a publish whose ack was lost), throws CheckpointConflict: the lifecycle restores the floor from the clean
 * stream and delivers again from there. A crash before a forward redoes the claims (the same place claims the
 * same id); a crash between the forward and the ack finds the forward in the clean stream on restart and
 * skips it.
 */
import { FrameLimits, encodeFrame, entrySize, EMPTY_FRAME_SIZE, frameCount, isFrame, readFrame, type EventFrame, type FrameEntry } from '@tidemark/contracts';
import type { ConsumedMessage, DeadLetterRequest } from '@tidemark/jetstream';
import { BatchNotApplied, CheckpointConflict, type BatchDecoder, type CheckpointResult, type PartitionState } from '@tidemark/runtime';
import { DedupDecision, DedupItem, DedupStore, MAX_FRAME_EVENTS } from '@tidemark/state';

/** A raw frame as dedup reads it. */
export interface RawFrame {
  seq: number;
  frame: EventFrame;
  /** When JetStream stored the frame (epoch ms): the time of its claims. */
  timestampMs: number;
}

/** Raw messages → frames (only the index of ids is read); a message that is not a frame, or too large a one, is dead-lettered. */
export const RAW_FRAME_DECODER: BatchDecoder<RawFrame> = {
  decode(batch: readonly Pick<ConsumedMessage, 'seq' | 'data' | 'timestampMs'>[]) {
    const events: RawFrame[] = [];
    const deadLetters: DeadLetterRequest[] = [];
    for (const m of batch) {
      let frame: EventFrame;
      try {
        frame = readFrame(m.data);
      } catch (e) {
        deadLetters.push({ seq: m.seq, reason: (e as Error).message });
        continue;
      }
      if (frame.count > MAX_FRAME_EVENTS) deadLetters.push({ seq: m.seq, reason: `a frame of ${frame.count} events; at most ${MAX_FRAME_EVENTS}` });
      else events.push({ seq: m.seq, frame, timestampMs: m.timestampMs });
    }
    return { events, deadLetters };
  },
  count: (m) => (isFrame(m.data) ? frameCount(m.data) : 1),
};

/** What the clean stream says about a partition: the last raw sequence forwarded and the subject's last sequence. */
export interface ForwardedFloor {
  /** Undefined when the clean stream cannot tell (a foreign message last on the subject, and none before it could be read). */
  rawSeq: number | undefined;
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

/** Counts of one applied batch, for the service's metrics. */
export interface DedupCounts {
  forwarded: number;
  duplicates: number;
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

export class DedupPartition implements PartitionState<RawFrame> {
  private floor = { rawSeq: 0, cleanSeq: 0 };

  constructor(
    private readonly partition: number,
    private readonly store: DedupStore,
    private readonly clean: CleanStream,
    private readonly limits: FrameLimits,
    private readonly counted: (counts: DedupCounts) => void = () => undefined,
  ) {}

  async restore({ ackFloor }: { ackFloor: number }): Promise<number> {
    const read = await this.clean.floor(this.partition);
    // A foreign message last on the subject hides the floor: what this instance forwarded itself, or what the
    // consumer acked (acked frames were forwarded), is known to be in the stream.
    const rawSeq = read.rawSeq ?? Math.max(this.floor.rawSeq, ackFloor);
    this.floor = { rawSeq, cleanSeq: read.cleanSeq };
    return rawSeq;
  }

  async apply(frames: RawFrame[]): Promise<void> {
    if (frames.length === 0) return;
    const items: DedupItem[] = [];
    for (const { seq, frame, timestampMs } of frames) {
      for (let index = 0; index < frame.count; index++) items.push({ id: frame.ids[index], seq, index, timeMs: timestampMs });
    }
    const nowMs = frames[frames.length - 1].timestampMs;
    let decisions: DedupDecision[] = [];
    try {
      if (items.length > 0) decisions = await this.store.claim(items, nowMs);
    } catch (e) {
      // Redis away, or the claims written but not yet on a replica (WAIT): nothing forwarded, the floor
      // unchanged, and claiming the same places again decides the same — the batch is simply retried.
      throw new BatchNotApplied(`claims failed: ${(e as Error).message}`);
    }

    // Clean frames along raw frame boundaries, within the limits.
    const groups: Group[] = [];
    let group: Group | undefined;
    let at = 0;
    let forwarded = 0;
    for (const { seq, frame, timestampMs } of frames) {
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
        group = { entries: [], bytes: EMPTY_FRAME_SIZE, firstRawSeq: seq, lastRawSeq: seq, ingestedAt: timestampMs };
        groups.push(group);
      }
      for (const e of kept) group.entries.push(e);
      group.bytes += bytes;
      group.lastRawSeq = seq;
      group.ingestedAt = Math.min(group.ingestedAt, timestampMs);
    }

    let published = 0;
    for (const g of groups) {
      if (g.entries.length === 0) continue; // nothing new: the next forward's floor covers these frames
      const msgId = `${this.partition}:${g.firstRawSeq}-${g.lastRawSeq}`;
      let seq: number;
      try {
        seq = await this.clean.publish(this.partition, encodeFrame(g.entries), msgId, g.lastRawSeq, this.floor.cleanSeq, g.ingestedAt);
      } catch (e) {
        // Not sure what the clean stream holds now: the lifecycle reads the floor again and delivers from there.
        throw new CheckpointConflict(`forward ${msgId} to the clean stream failed: ${(e as Error).message}`);
      }
      this.floor = { rawSeq: g.lastRawSeq, cleanSeq: seq };
      published++;
    }
    let duplicates = 0;
    for (const d of decisions) if (d === 'duplicate') duplicates++;
    this.counted({ forwarded, duplicates, frames: published });
  }

  /** The forward was the durable write: nothing is left to checkpoint. */
  async checkpoint(): Promise<CheckpointResult> {
    return { status: 'ok' };
  }
}
