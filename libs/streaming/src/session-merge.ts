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

/**
 * Where a new session window goes among a key's stored sessions (disjoint): the stored sessions it must be
 * merged with (those intersecting the growing cover, repeated until stable), the ones kept apart, and the
 * merged window. What a service needs to apply a `session` delta to its stored sessions; the in-memory
 * operator uses it too. A merged session should carry the highest fired version of its parts.
 */
export function planSessionMerge<T extends { start: number; end: number }>(stored: readonly T[], window: { start: number; end: number }): { merged: T[]; kept: T[]; start: number; end: number } {
  let start = window.start;
  let end = window.end;
  let kept = [...stored];
  const merged: T[] = [];
  for (let changed = true; changed; ) {
    changed = false;
    const next: T[] = [];
    for (const s of kept) {
      if (s.start < end && start < s.end) {
        start = Math.min(start, s.start);
        end = Math.max(end, s.end);
        merged.push(s);
        changed = true;
      } else next.push(s);
    }
    kept = next;
  }
  return { merged, kept, start, end };
}
