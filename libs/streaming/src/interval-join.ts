/**
 * Interval join with "unmatched" output (unpaid_orders: an order_placed with no payment_succeeded within
 * 15 min). Keyed (e.g. by orderId). A right event at r matches the left event at l when
 *     l + lower <= r < l + upper            (half-open, like windows; default lower = 0)
 * The left's result is due when the watermark W >= l + upper (every right with r < l + upper has been seen):
 * if no right matched, it is emitted as `unmatched` (final, version 1). A matching right that still arrives
 * within allowed lateness flips it to `matched` and re-emits it with version + 1. Nothing is emitted for a
 * left matched in time.
 *
 * Lateness (an event past it goes to the late output, never into the state):
 *   left  late iff W >= l + upper + allowedLateness   (its result is past correction)
 *   right late iff W >= r + allowedLateness           (a left it could match may already be purged)
 * Purge: a key's state goes when W >= max(l + upper, r − lower + upper for every right) + allowedLateness.
 * One left per key while the key has state: the earliest (by ts, then id). A left arriving after the key's
 * state was purged starts a new join (keys such as orderId are meant to have one left).
 *
 * Delta form (JSON), per metric|key: { kind: 'join', left: {ts, id, fields} | null, rights: [ts…] sorted
 * unique }. Merge keeps the earliest left (by ts, then id) and the union of rights; in Redis: a hash for the
 * left (replace only if earlier) and a sorted set of right timestamps (ZADD), match = ZRANGEBYSCORE
 * [l + lower, l + upper).
 */

export interface IntervalBounds {
  lowerMs: number;
  upperMs: number;
}

export interface JoinLeft {
  ts: number;
  /** The left event's id (ties between lefts at the same ts are broken by it). */
  id: string;
  /** Fields copied from the left event into the result (e.g. userId, amount). */
  fields: Record<string, unknown>;
}

export interface JoinDelta {
  kind: 'join';
  left: JoinLeft | null;
  /** Timestamps of right events, sorted ascending, unique (after finalizeJoinDelta). */
  rights: number[];
}

export interface JoinState {
  left: JoinLeft | null;
  /** Sorted ascending, unique. */
  rights: number[];
}

export type JoinStatus = 'unmatched' | 'matched';

/** The `value` of a join result. */
export interface JoinResultValue {
  status: JoinStatus;
  leftId: string;
  leftTs: number;
  /** Earliest matching right, null when unmatched. */
  matchedTs: number | null;
  fields: Record<string, unknown>;
}

export function earlierLeft(a: JoinLeft | null, b: JoinLeft | null): JoinLeft | null {
  if (a === null) return b;
  if (b === null) return a;
  return b.ts < a.ts || (b.ts === a.ts && b.id < a.id) ? b : a;
}

function sortedUnion(a: readonly number[], b: readonly number[]): number[] {
  const out: number[] = [];
  let i = 0;
  let j = 0;
  while (i < a.length || j < b.length) {
    const x = j >= b.length || (i < a.length && a[i] <= b[j]) ? a[i++] : b[j++];
    if (out.length === 0 || out[out.length - 1] !== x) out.push(x);
  }
  return out;
}

export function joinDeltaOfLeft(left: JoinLeft): JoinDelta {
  return { kind: 'join', left, rights: [] };
}

export function joinDeltaOfRight(ts: number): JoinDelta {
  return { kind: 'join', left: null, rights: [ts] };
}

/** Mutates and returns d. */
export function addLeftToDelta(d: JoinDelta, left: JoinLeft): JoinDelta {
  d.left = earlierLeft(d.left, left);
  return d;
}

/** Mutates and returns d (rights are put in canonical order by finalizeJoinDelta). */
export function addRightToDelta(d: JoinDelta, ts: number): JoinDelta {
  d.rights.push(ts);
  return d;
}

export function finalizeJoinDelta(d: JoinDelta): JoinDelta {
  d.rights = [...new Set(d.rights)].sort((a, b) => a - b);
  return d;
}

/** Pure, associative, commutative. */
export function mergeJoinDelta(a: JoinDelta, b: JoinDelta): JoinDelta {
  return { kind: 'join', left: earlierLeft(a.left, b.left), rights: sortedUnion(a.rights, b.rights) };
}

export function emptyJoinState(): JoinState {
  return { left: null, rights: [] };
}

/** Mutates and returns state. */
export function applyJoinDelta(state: JoinState, d: JoinDelta): JoinState {
  state.left = earlierLeft(state.left, d.left);
  if (d.rights.length > 0) state.rights = sortedUnion(state.rights, [...d.rights].sort((x, y) => x - y));
  return state;
}

/** The earliest right matching the state's left, or null. */
export function matchOf(state: JoinState, b: IntervalBounds): number | null {
  if (state.left === null) return null;
  const lo = state.left.ts + b.lowerMs;
  const hi = state.left.ts + b.upperMs;
  for (const r of state.rights) {
    if (r >= hi) return null;
    if (r >= lo) return r;
  }
  return null;
}

export function joinDeadline(left: JoinLeft, b: IntervalBounds): number {
  return left.ts + b.upperMs;
}

export function isLeftLate(ts: number, watermark: number | null, b: IntervalBounds, allowedLatenessMs: number): boolean {
  return watermark !== null && watermark >= ts + b.upperMs + allowedLatenessMs;
}

export function isRightLate(ts: number, watermark: number | null, allowedLatenessMs: number): boolean {
  return watermark !== null && watermark >= ts + allowedLatenessMs;
}

/** The watermark at which a key's join state can go. */
export function joinCleanupTime(state: JoinState, b: IntervalBounds, allowedLatenessMs: number): number {
  let t = -Infinity;
  if (state.left) t = state.left.ts + b.upperMs;
  if (state.rights.length > 0) t = Math.max(t, state.rights[state.rights.length - 1] - b.lowerMs + b.upperMs);
  return t + allowedLatenessMs;
}

export function joinResultValue(state: JoinState, b: IntervalBounds): JoinResultValue {
  const left = state.left!;
  const matchedTs = matchOf(state, b);
  return { status: matchedTs === null ? 'unmatched' : 'matched', leftId: left.id, leftTs: left.ts, matchedTs, fields: left.fields };
}
