/**
 * Session window merging (Flink's MergingWindowAssigner): windows of one key that intersect — share at least
 * one instant of [start, end) — are replaced by their cover, their contents combined. Touching windows
 * ([a, b) and [b, c)) stay apart: an event exactly `gap` after the previous one starts a new session.
 */
export interface SessionEntry<T> {
  start: number;
  end: number;
  value: T;
}

/**
 * Merges a list of possibly overlapping session windows into disjoint sessions, sorted by start.
 * `combine` must be associative and commutative (an aggregation's merge or mergeDelta); entries are
 * combined in start order. The input list is not modified.
 */
export function mergeSessions<T>(entries: readonly SessionEntry<T>[], combine: (a: T, b: T) => T): SessionEntry<T>[] {
  if (entries.length <= 1) return entries.map((e) => ({ ...e }));
  const sorted = [...entries].sort((a, b) => a.start - b.start || a.end - b.end);
  const out: SessionEntry<T>[] = [];
  let cur: SessionEntry<T> = { ...sorted[0] };
  for (let i = 1; i < sorted.length; i++) {
    const e = sorted[i];
    if (e.start < cur.end) {
      cur = { start: cur.start, end: Math.max(cur.end, e.end), value: combine(cur.value, e.value) };
    } else {
      out.push(cur);
      cur = { ...e };
    }
  }
  out.push(cur);
  return out;
}
