/**
 * A time window: the half-open interval [start, end) of event time, in epoch milliseconds.
 * An event at `ts` belongs to a window iff start <= ts < end; an event at exactly `end` belongs to the next one.
 */
export interface TimeWindow {
  readonly start: number;
  readonly end: number;
}

/** a mod n, always in [0, n) (also for negative a). */
export function mod(a: number, n: number): number {
  const r = a % n;
  return r < 0 ? r + n : r || 0; // no -0
}

export function contains(w: TimeWindow, ts: number): boolean {
  return w.start <= ts && ts < w.end;
}

/** True when two half-open windows share at least one instant (touching windows do not intersect). */
export function intersects(a: TimeWindow, b: TimeWindow): boolean {
  return a.start < b.end && b.start < a.end;
}

/** The smallest window covering both. */
export function cover(a: TimeWindow, b: TimeWindow): TimeWindow {
  return { start: Math.min(a.start, b.start), end: Math.max(a.end, b.end) };
}

/** `[start, end)` for messages. */
export function formatWindow(w: TimeWindow): string {
  return `[${w.start}, ${w.end})`;
}
