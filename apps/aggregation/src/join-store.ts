/**
 * How interval joins (unpaid_orders: an order_placed with no payment_succeeded within 15 min) live in Redis,
 * with the semantics of libs/streaming interval-join.ts:
 *
 *   tm:agg:j:<metric>:<key>        hash: the left (ts, id, fields as JSON) — the earliest one wins —, _u
 *                                  (batches that touched the key), _f (the _u last resolved at), _r (1 once
 *                                  resolved), and the last emission: _v version, _s status, _et/_ei its left
 *   tm:agg:j:<metric>:<key>:r      sorted set of right timestamps (payments)
 *   tm:agg:jdue                    sorted set of [metric,key] by the time it must be looked at: the left's
 *                                  deadline (ts + upper), or a right's ts (a right after the key resolved
 *                                  may flip it to matched: version + 1)
 *   tm:agg:jpurge                  sorted set of [metric,key] by cleanup time (only moves later)
 *
 * `<key>` (the join key, e.g. an orderId) is encoded with encodeKeyPart (libs/state key-part.ts): it holds no
 * `:`, so order `Z:r`'s state is never order `Z`'s payments set. Readers never parse key names.
 *
 * A batch's join deltas become StateOps in the same fenced Lua call as its window deltas. The firer resolves
 * due keys with `decideJoin` (pure) and records what it published. Pure: no I/O here.
 */
import { encodeKeyPart, type StateOp } from '@tidemark/state';
import type { IntervalBounds, JoinDelta, JoinLeft, JoinResultValue, JoinStatus } from '@tidemark/streaming';
import { KEYS, indexMember } from './window-store';

export const JOIN_KEYS = {
  state: (metric: string, key: string) => `tm:agg:j:${metric}:${encodeKeyPart(key)}`,
  rights: (metric: string, key: string) => `tm:agg:j:${metric}:${encodeKeyPart(key)}:r`,
  due: 'tm:agg:jdue',
  purge: 'tm:agg:jpurge',
} as const;

export const joinMember = (metric: string, key: string) => JSON.stringify([metric, key]);

export function parseJoinMember(member: string): { metric: string; key: string } {
  const [metric, key] = JSON.parse(member) as [string, string];
  return { metric, key };
}

/** The Redis updates of one key's join delta. */
export function joinDeltaOps(metric: string, key: string, delta: JoinDelta, bounds: IntervalBounds, allowedLatenessMs: number, ttlMs: number): StateOp[] {
  const state = JOIN_KEYS.state(metric, key);
  const rights = JOIN_KEYS.rights(metric, key);
  const member = joinMember(metric, key);
  const ops: StateOp[] = [];
  if (delta.left) {
    const l = delta.left;
    const end = l.ts + bounds.upperMs;
    ops.push(
      { op: 'hearliest', key: state, ts: l.ts, id: l.id, values: { fields: JSON.stringify(l.fields) } },
      { op: 'zadd', key: JOIN_KEYS.due, member, score: end, only: 'lt' },
      { op: 'zadd', key: JOIN_KEYS.purge, member, score: end + allowedLatenessMs, only: 'gt' },
      { op: 'zadd', key: KEYS.index(metric), member: indexMember({ metric, key, start: l.ts, end }), score: l.ts },
    );
  }
  for (const r of delta.rights) {
    ops.push(
      { op: 'zadd', key: rights, member: String(r), score: r },
      { op: 'zadd', key: JOIN_KEYS.due, member, score: r, only: 'lt' },
      { op: 'zadd', key: JOIN_KEYS.purge, member, score: r - bounds.lowerMs + bounds.upperMs + allowedLatenessMs, only: 'gt' },
    );
  }
  if (delta.rights.length > 0) ops.push({ op: 'pexpire', key: rights, ms: ttlMs });
  ops.push({ op: 'hincrby', key: state, field: '_u', by: '1' }, { op: 'pexpire', key: state, ms: ttlMs });
  return ops;
}

/** The earliest watermark at which this delta's lateness decisions would be out of date (the apply's guard). */
export function joinLatenessDeadline(delta: JoinDelta, bounds: IntervalBounds, allowedLatenessMs: number): number {
  let t = Infinity;
  if (delta.left) t = delta.left.ts + bounds.upperMs + allowedLatenessMs;
  for (const r of delta.rights) t = Math.min(t, r + allowedLatenessMs);
  return t;
}

export interface StoredJoin {
  left: JoinLeft | null;
  updates: number;
  resolved: boolean;
  emitted: { version: number; status: JoinStatus; leftTs: number; leftId: string } | null;
}

export function decodeJoin(h: Record<string, string> | null | undefined): StoredJoin | null {
  if (!h || h._u === undefined) return null;
  const left = h.ts === undefined ? null : { ts: Number(h.ts), id: h.id, fields: JSON.parse(h.fields ?? '{}') as Record<string, unknown> };
  const version = Number(h._v ?? 0);
  return {
    left,
    updates: Number(h._u),
    resolved: h._r === '1',
    emitted: version > 0 ? { version, status: h._s as JoinStatus, leftTs: Number(h._et), leftId: h._ei } : null,
  };
}

export function joinValue(left: JoinLeft, matchedTs: number | null): JoinResultValue {
  return { status: matchedTs === null ? 'unmatched' : 'matched', leftId: left.id, leftTs: left.ts, matchedTs, fields: left.fields };
}

export type JoinDecision =
  /** Nothing to resolve (no left): forget the due entry. */
  | { kind: 'drop' }
  /** The left's deadline is ahead: look again then. */
  | { kind: 'wait'; due: number }
  /** Resolved; publish `emit` when its status (or its left) changed since the last emission. */
  | { kind: 'resolve'; emit: { windowStart: number; windowEnd: number; value: JoinResultValue; version: number } | null };

/**
 * What the firer does with a due join key at watermark `wm` (interval-join.ts, emitIfChanged): an unmatched
 * left is published once its deadline passed (version 1); a left matched in time publishes nothing; a change
 * afterwards (a late payment within allowed lateness) re-publishes it with the next version.
 */
export function decideJoin(stored: StoredJoin | null, matchedTs: number | null, wm: number, bounds: IntervalBounds): JoinDecision {
  const left = stored?.left;
  if (!stored || !left) return { kind: 'drop' };
  const end = left.ts + bounds.upperMs;
  if (wm < end) return { kind: 'wait', due: end };
  const value = joinValue(left, matchedTs);
  const prev = stored.emitted;
  if (prev === null && value.status === 'matched') return { kind: 'resolve', emit: null };
  if (prev !== null && prev.status === value.status && prev.leftTs === left.ts && prev.leftId === left.id) return { kind: 'resolve', emit: null };
  return { kind: 'resolve', emit: { windowStart: left.ts, windowEnd: end, value, version: (prev?.version ?? 0) + 1 } };
}
