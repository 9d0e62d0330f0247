/**
 * Window assigners (Flink's WindowAssigner): which windows an event at `ts` belongs to. Pure arithmetic.
 *
 * - Tumbling(size, offset): windows [offset + k·size, offset + (k+1)·size).
 * - Sliding(size, hop, offset): windows of length `size` starting every `hop`; an event belongs to every
 *   window whose [start, start + size) contains it (size / hop of them when hop divides size).
 * - Session(gap): each event first gets its own window [ts, ts + gap); windows of one key that intersect
 *   are merged (see session-merge.ts). Two events exactly `gap` apart are in different sessions.
 */
import { mod, TimeWindow } from './window';

/** Tumbling and sliding windows: fixed, aligned, non-merging. Tumbling is sliding with hop = size. */
export class AlignedWindows {
  readonly kind: 'tumbling' | 'sliding';

  constructor(
    readonly size: number,
    readonly hop: number = size,
    readonly offset = 0,
  ) {
    if (!(Number.isInteger(size) && size > 0)) throw new RangeError(`window size must be a positive integer (got ${size})`);
    if (!(Number.isInteger(hop) && hop > 0 && hop <= size)) throw new RangeError(`window hop must be an integer in (0, size] (got ${hop})`);
    if (!Number.isInteger(offset)) throw new RangeError(`window offset must be an integer (got ${offset})`);
    this.kind = hop === size ? 'tumbling' : 'sliding';
  }

  /** Start of the latest window containing ts. */
  lastStart(ts: number): number {
    return ts - mod(ts - this.offset, this.hop);
  }

  /** End of the earliest window containing ts (the first window end after ts): `assignWindows(ts)`'s last end, without the list. */
  firstEnd(ts: number): number {
    return ts - mod(ts - this.offset - this.size, this.hop) + this.hop;
  }

  /** Every window containing ts, latest first. */
  assignWindows(ts: number): TimeWindow[] {
    const out: TimeWindow[] = [];
    for (let s = this.lastStart(ts); s > ts - this.size; s -= this.hop) out.push({ start: s, end: s + this.size });
    return out;
  }
}

export class TumblingWindows extends AlignedWindows {
  constructor(size: number, offset = 0) {
    super(size, size, offset);
  }
}

export class SlidingWindows extends AlignedWindows {
  constructor(size: number, hop: number, offset = 0) {
    super(size, hop, offset);
  }
}

export class SessionWindows {
  readonly kind = 'session' as const;

  constructor(readonly gap: number) {
    if (!(Number.isInteger(gap) && gap > 0)) throw new RangeError(`session gap must be a positive integer (got ${gap})`);
  }

  /** The event's own window, before merging. */
  assignWindows(ts: number): TimeWindow[] {
    return [{ start: ts, end: ts + this.gap }];
  }
}

export type WindowAssigner = AlignedWindows | SessionWindows;
