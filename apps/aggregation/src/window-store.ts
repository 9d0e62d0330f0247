/**
 * How window state lives in Redis (the aggregation service's keyed state), and how it is read back.
 *
 * `<key>` is the window's key (a user-supplied value: productId, userId…) encoded with encodeKeyPart
 * (libs/state key-part.ts): it holds no `:`, so no key can name another key's state or one of its suffixed
 * keys (`:hll`, `:z`, `:f`). Readers never parse key names: the key travels in JSON members.
 *
 *   tm:agg:w:<metric>:<start>:<end>:<key>        hash: the delta fields (count, micros, numerator, …) and
 *                                                bookkeeping: _u (batches that touched it), _f (the _u it was
 *                                                last fired at), _v (last version published)
 *   …:<key>:hll | :z | :f                        HyperLogLog (distinct), sorted set (top-K), hash (funnel)
 *   tm:agg:idx:<metric>                          sorted set of [key,start,end] by start: range queries
 *   tm:agg:due                                   sorted set of [metric,key,start,end] by end: windows to fire
 *   tm:agg:res:<metric>                          hash [key,start,end] → last published result (after purge)
 *   tm:agg:purge                                 sorted set of [metric,key,start,end] by cleanup time
 *   tm:agg:s:<metric>:<key>                      session windows: sorted set of "start:end" by start (the
 *                                                key's open sessions, disjoint; merged in the batch's apply)
 *   tm:agg:p:<partition>                         hash: lastSeq, maxTs, lastEventAt (the fence)
 *   tm:agg:wm                                    the operator watermark (never goes backwards)
 * Interval joins have their own layout: join-store.ts.
 *
 * A batch's deltas become StateOps applied in one fenced Lua call (libs/state). Pure: no I/O here except
 * `readAccumulator`, which takes the Redis client.
 */
import type Redis from 'ioredis';
import { planSessionMerge, type AggregateDelta, type AggregationKind, type AnyAggregation } from '@tidemark/streaming';
import { encodeKeyPart, type MergeMode, type StateOp } from '@tidemark/state';

export interface WindowRef {
  metric: string;
  key: string;
  start: number;
  end: number;
}

export const KEYS = {
  window: (w: WindowRef) => `tm:agg:w:${w.metric}:${w.start}:${w.end}:${encodeKeyPart(w.key)}`,
  index: (metric: string) => `tm:agg:idx:${metric}`,
  due: 'tm:agg:due',
  results: (metric: string) => `tm:agg:res:${metric}`,
  purge: 'tm:agg:purge',
  sessions: (metric: string, key: string) => `tm:agg:s:${metric}:${encodeKeyPart(key)}`,
  partition: (p: number) => `tm:agg:p:${p}`,
  watermark: 'tm:agg:wm',
  firerLease: 'tm:agg:firer',
} as const;

export const indexMember = (w: WindowRef) => JSON.stringify([w.key, w.start, w.end]);
export const dueMember = (w: WindowRef) => JSON.stringify([w.metric, w.key, w.start, w.end]);

export function parseIndexMember(metric: string, member: string): WindowRef {
  const [key, start, end] = JSON.parse(member) as [string, number, number];
  return { metric, key, start, end };
}

export function parseDueMember(member: string): WindowRef {
  const [metric, key, start, end] = JSON.parse(member) as [string, string, number, number];
  return { metric, key, start, end };
}

/**
 * The Redis updates of one window's delta, plus the bookkeeping that makes it queryable and fireable (its
 * index and due entries and its TTL). `bookkeeping: false` leaves those out, for a window the caller knows is
 * already indexed and due (see AggregationProcessor): half the work for Node and Redis.
 */
export function deltaOps(w: WindowRef, delta: AggregateDelta, ttlMs: number, bookkeeping = true): StateOp[] {
  const key = KEYS.window(w);
  const ops: StateOp[] = [];
  const incr = (field: string, by: number) => {
    const n = Math.round(by);
    ops.push({ op: 'hincrby', key, field, by: Number.isSafeInteger(n) ? String(n) : BigInt(n).toString() });
  };
  switch (delta.kind) {
    case 'count':
      incr('count', delta.count);
      break;
    case 'sum':
      incr('micros', delta.micros);
      break;
    case 'avg':
      incr('micros', delta.micros);
      incr('count', delta.count);
      break;
    case 'min':
      ops.push({ op: 'hmin', key, field: 'value', value: delta.value });
      break;
    case 'max':
      ops.push({ op: 'hmax', key, field: 'value', value: delta.value });
      break;
    case 'distinct':
      ops.push({ op: 'pfadd', key: `${key}:hll`, members: delta.members }, { op: 'pexpire', key: `${key}:hll`, ms: ttlMs });
      break;
    case 'topK':
      for (const [member, n] of Object.entries(delta.counts)) ops.push({ op: 'zincrby', key: `${key}:z`, member, by: n });
      ops.push({ op: 'pexpire', key: `${key}:z`, ms: ttlMs });
      break;
    case 'ratio':
      incr('numerator', delta.numerator);
      incr('denominator', delta.denominator);
      break;
    case 'funnel':
      for (const [session, stage] of Object.entries(delta.sessions)) ops.push({ op: 'hmax', key: `${key}:f`, field: session, value: stage });
      ops.push({ op: 'pexpire', key: `${key}:f`, ms: ttlMs });
      break;
    case 'abandonment':
      incr('started', delta.started);
      incr('completed', delta.completed);
      break;
    default:
      return assertNever(delta);
  }
  incr('_u', 1);
  if (!bookkeeping) return ops;
  ops.push(
    { op: 'pexpire', key, ms: ttlMs },
    { op: 'zadd', key: KEYS.index(w.metric), member: indexMember(w), score: w.start },
    { op: 'zadd', key: KEYS.due, member: dueMember(w), score: w.end },
  );
  return ops;
}

/** The hash fields of each aggregation, and how two sessions' values combine. */
const MERGE_FIELDS: Record<AggregationKind, Record<string, MergeMode>> = {
  count: { count: 'sum' },
  sum: { micros: 'sum' },
  avg: { micros: 'sum', count: 'sum' },
  min: { value: 'min' },
  max: { value: 'max' },
  distinct: {},
  topK: {},
  ratio: { numerator: 'sum', denominator: 'sum' },
  funnel: {},
  abandonment: { started: 'sum', completed: 'sum' },
};

/** Bookkeeping: updates add up; a merged session carries the highest firing of its parts (so it re-fires as the next version). */
const META_FIELDS: Record<string, MergeMode> = { _u: 'sum', _f: 'max', _v: 'max' };

export interface SessionSpan {
  start: number;
  end: number;
}

export const sessionMember = (s: SessionSpan) => `${s.start}:${s.end}`;

export function parseSessionMember(member: string): SessionSpan {
  const i = member.indexOf(':');
  return { start: Number(member.slice(0, i)), end: Number(member.slice(i + 1)) };
}

/**
 * The Redis updates of one session delta of a key (docs/semantics.md "Windows and lateness", sessions; libs/streaming planSessionMerge):
 * the stored sessions it intersects are merged into the new cover — their state moved into it, their index,
 * due, purge and stored-result entries removed — then the delta is applied to the cover. `stored` is the key's
 * open sessions; it is updated in place so that several deltas of one key in a batch chain correctly.
 * A session past its allowed lateness is closed (being purged) and is not in `stored`: an event within its
 * gap after that starts a new session.
 */
export function sessionDeltaOps(w: WindowRef, kind: AggregationKind, delta: AggregateDelta, stored: SessionSpan[], ttlMs: number): { ops: StateOp[]; merged: SessionSpan[]; window: WindowRef } {
  const plan = planSessionMerge(stored, { start: w.start, end: w.end });
  const dst: WindowRef = { metric: w.metric, key: w.key, start: plan.start, end: plan.end };
  const dstKey = KEYS.window(dst);
  const setKey = KEYS.sessions(w.metric, w.key);
  const ops: StateOp[] = [];
  for (const s of plan.merged) {
    if (s.start === dst.start && s.end === dst.end) continue;
    const src: WindowRef = { metric: w.metric, key: w.key, start: s.start, end: s.end };
    const srcKey = KEYS.window(src);
    ops.push({ op: 'hmerge', src: srcKey, dst: dstKey, fields: { ...MERGE_FIELDS[kind], ...META_FIELDS } });
    if (kind === 'distinct') ops.push({ op: 'pfmerge', src: `${srcKey}:hll`, dst: `${dstKey}:hll` });
    if (kind === 'topK') ops.push({ op: 'zmerge', src: `${srcKey}:z`, dst: `${dstKey}:z` });
    if (kind === 'funnel') ops.push({ op: 'hmerge', src: `${srcKey}:f`, dst: `${dstKey}:f`, fields: {}, others: 'max' });
    ops.push(
      { op: 'zrem', key: KEYS.index(w.metric), member: indexMember(src) },
      { op: 'zrem', key: KEYS.due, member: dueMember(src) },
      { op: 'zrem', key: KEYS.purge, member: dueMember(src) },
      { op: 'hdel', key: KEYS.results(w.metric), field: indexMember(src) },
      { op: 'zrem', key: setKey, member: sessionMember(s) },
    );
  }
  ops.push(...deltaOps(dst, delta, ttlMs), { op: 'zadd', key: setKey, member: sessionMember(dst), score: dst.start }, { op: 'pexpire', key: setKey, ms: ttlMs });
  stored.length = 0;
  stored.push(...plan.kept, { start: dst.start, end: dst.end });
  stored.sort((a, b) => a.start - b.start);
  return { ops, merged: plan.merged, window: dst };
}

export interface WindowMeta {
  updates: number;
  firedAt: number;
  version: number;
}

export interface WindowState {
  meta: WindowMeta;
  value: unknown;
}

export interface WindowRead {
  w: WindowRef;
  kind: AggregationKind;
  aggregation: AnyAggregation;
}

/** Reads a window back and computes its value with the metric's aggregation; null when nothing is stored. */
export async function readWindow(redis: Redis, w: WindowRef, kind: AggregationKind, aggregation: AnyAggregation): Promise<WindowState | null> {
  return (await readWindows(redis, [{ w, kind, aggregation }]))[0];
}

/** Many windows in one round trip (the firer reads every due window of a round at once). */
export async function readWindows(redis: Redis, reads: readonly WindowRead[]): Promise<(WindowState | null)[]> {
  if (reads.length === 0) return [];
  const pipeline = redis.pipeline();
  for (const { w, kind } of reads) {
    const key = KEYS.window(w);
    pipeline.hgetall(key);
    if (kind === 'distinct') pipeline.pfcount(`${key}:hll`);
    if (kind === 'topK') pipeline.zrange(`${key}:z`, 0, -1, 'WITHSCORES');
    if (kind === 'funnel') pipeline.hgetall(`${key}:f`);
  }
  const replies = (await pipeline.exec()) ?? [];
  for (const [err] of replies) if (err) throw err;
  let i = 0;
  return reads.map(({ kind, aggregation }) => {
    const h = replies[i++][1] as Record<string, string>;
    const extra = kind === 'distinct' || kind === 'topK' || kind === 'funnel' ? replies[i++][1] : undefined;
    return decodeWindow(kind, aggregation, h, extra);
  });
}

function decodeWindow(kind: AggregationKind, aggregation: AnyAggregation, h: Record<string, string>, extra: unknown): WindowState | null {
  if (!h || h._u === undefined) return null;
  const n = (f: string) => Number(h[f] ?? 0);
  const meta = { updates: n('_u'), firedAt: n('_f'), version: n('_v') };
  let acc: unknown;
  switch (kind) {
    case 'count':
      acc = { count: n('count') };
      break;
    case 'sum':
      acc = { micros: n('micros') };
      break;
    case 'avg':
      acc = { micros: n('micros'), count: n('count') };
      break;
    case 'min':
    case 'max':
      acc = { value: h.value === undefined ? null : Number(h.value) };
      break;
    case 'distinct':
      return { meta, value: extra as number };
    case 'topK': {
      const flat = extra as string[];
      const counts = new Map<string, number>();
      for (let j = 0; j < flat.length; j += 2) counts.set(flat[j], Number(flat[j + 1]));
      acc = { counts };
      break;
    }
    case 'ratio':
      acc = { numerator: n('numerator'), denominator: n('denominator') };
      break;
    case 'funnel': {
      const sessions = new Map<string, number>();
      for (const [sid, stage] of Object.entries((extra as Record<string, string>) ?? {})) sessions.set(sid, Number(stage));
      acc = { sessions };
      break;
    }
    case 'abandonment':
      acc = { started: n('started'), completed: n('completed') };
      break;
    default:
      return assertNever(kind);
  }
  return { meta, value: aggregation.result(acc) };
}

function assertNever(x: never): never {
  throw new Error(`unknown aggregation ${JSON.stringify(x)}`);
}

/** The open sessions of each (metric, key), in one round trip. */
export async function readSessions(redis: Redis, pairs: readonly { metric: string; key: string }[]): Promise<SessionSpan[][]> {
  if (pairs.length === 0) return [];
  const pipeline = redis.pipeline();
  for (const p of pairs) pipeline.zrange(KEYS.sessions(p.metric, p.key), 0, -1);
  const replies = (await pipeline.exec()) ?? [];
  return replies.map(([err, members]) => {
    if (err) throw err;
    return (members as string[]).map(parseSessionMember);
  });
}
