/**
 * Exactly-once state updates (docs/semantics.md "Exactly-once: the common protocol", "Exactly-once: aggregation"): a batch's state updates
 * and the partition's last applied stream sequence are written together, atomically, or not at all.
 *
 * The caller knows the partition's `lastSeq` (its cache, loaded at start) and passes the updates of the
 * messages after it, with `expectedSeq` = that `lastSeq` and `newSeq` = the batch's last sequence.
 *   - stored lastSeq == expectedSeq → apply, store newSeq (and the partition's other fields): `applied`
 *   - otherwise → nothing is written: `conflict`, with the stored lastSeq. A redelivered batch whose
 *     messages are all ≤ lastSeq never reaches here (the caller skips them); a conflict means another
 *     writer owns the partition or the cache is stale: reload and recompute.
 * Operations are commutative increments, so their order within a batch does not matter.
 */

import { isWellFormed } from './key-part';

export type StateOp =
  /** Integer increment (counts, fixed-point sums). `by` is a decimal integer string (no float drift). */
  | { op: 'hincrby'; key: string; field: string; by: string }
  /** Keep the larger / smaller number. */
  | { op: 'hmax'; key: string; field: string; value: number }
  | { op: 'hmin'; key: string; field: string; value: number }
  | { op: 'hset'; key: string; field: string; value: string }
  /** HyperLogLog add. */
  | { op: 'pfadd'; key: string; members: string[] }
  /** Sorted-set increment (exact top-K by count). */
  | { op: 'zincrby'; key: string; member: string; by: number }
  /**
   * Sorted-set add with a score (idempotent): window indexes. `only: 'lt'` / `'gt'` updates an existing
   * member only when the new score is lower / higher (a due time that may only move earlier or later).
   */
  | { op: 'zadd'; key: string; member: string; score: number; only?: 'lt' | 'gt' }
  | { op: 'zrem'; key: string; member: string }
  | { op: 'hdel'; key: string; field: string }
  | { op: 'del'; key: string }
  /**
   * Merge hash `src` into hash `dst` field by field, then delete `src` (session windows merging): each field
   * of `src` is added (`sum`, integers as decimal strings), or kept as the larger / smaller number; fields
   * not named in `fields` use `others`, or are dropped when it is absent. Nothing happens if `src` is absent.
   */
  | { op: 'hmerge'; src: string; dst: string; fields: Record<string, MergeMode>; others?: MergeMode }
  /** HyperLogLog union of `src` into `dst`, then delete `src`. */
  | { op: 'pfmerge'; src: string; dst: string }
  /** Sorted-set union (scores added) of `src` into `dst`, then delete `src`. */
  | { op: 'zmerge'; src: string; dst: string }
  /**
   * Keep the earliest record in hash `key`: write `values` plus `ts` and `id` only if the hash holds no `ts`,
   * or a later one (ties broken by the smaller `id`). The left side of an interval join.
   */
  | { op: 'hearliest'; key: string; ts: number; id: string; values: Record<string, string> }
  /** Expire the key this far ahead (state has TTLs; nothing grows without bound). */
  | { op: 'pexpire'; key: string; ms: number };

export type MergeMode = 'sum' | 'max' | 'min';

export interface Fence {
  /** Hash holding the partition's `lastSeq` and other fields (e.g. its watermark). */
  key: string;
  expectedSeq: number;
  newSeq: number;
  /** Other fields of the partition hash written with the batch (e.g. `maxTs`). */
  fields?: Record<string, string>;
  /**
   * Refuse the batch when the number stored at `key` (e.g. the operator watermark) is >= `below` (e.g. the
   * earliest lateness deadline of the windows the batch touches): its lateness decisions are out of date.
   */
  guard?: { key: string; below: number };
}

export type FenceResult =
  | { status: 'applied' }
  | { status: 'conflict'; lastSeq: number }
  | { status: 'guarded'; value: number };

export interface FencedWriter {
  apply(fence: Fence, ops: StateOp[]): Promise<FenceResult>;
  lastSeq(fenceKey: string): Promise<number>;
}

/** The same semantics in memory: for unit tests and as the reference for the Redis writer. */
export class InMemoryFencedWriter implements FencedWriter {
  readonly hashes = new Map<string, Map<string, string>>();
  readonly hll = new Map<string, Set<string>>();
  readonly zsets = new Map<string, Map<string, number>>();
  readonly ttls = new Map<string, number>();
  readonly strings = new Map<string, string>();

  async apply(fence: Fence, ops: StateOp[]): Promise<FenceResult> {
    const current = await this.lastSeq(fence.key);
    if (current !== fence.expectedSeq) return { status: 'conflict', lastSeq: current };
    if (fence.guard) {
      const stored = this.strings.get(fence.guard.key);
      if (stored !== undefined && Number(stored) >= fence.guard.below) return { status: 'guarded', value: Number(stored) };
    }
    this.check(fence, ops);
    for (const o of ops) this.applyOp(o);
    const h = this.hash(fence.key);
    h.set('lastSeq', String(fence.newSeq));
    for (const [k, v] of Object.entries(fence.fields ?? {})) h.set(k, v);
    return { status: 'applied' };
  }

  async lastSeq(fenceKey: string): Promise<number> {
    return Number(this.hashes.get(fenceKey)?.get('lastSeq') ?? 0);
  }

  /**
   * The checks RedisFencedWriter's script makes before its first write (see there): throws `refused: …`
   * and writes nothing when a string is not well-formed Unicode, an op's numbers do not parse, a key holds
   * another type than the op needs (or the batch names it with two types), or an HINCRBY would overflow.
   */
  private check(fence: Fence, ops: StateOp[]): void {
    const refuse = (msg: string): never => {
      throw new Error(`refused: ${msg}`);
    };
    for (const [k, v] of Object.entries(fence.fields ?? {})) if (!isWellFormed(k) || !isWellFormed(v)) refuse('fields are not valid JSON');
    if (!ops.every(wellFormedOp)) refuse('ops are not valid JSON (a string that is not well-formed Unicode?)');
    const want = new Map<string, KeyType>();
    const is = (key: string, t: KeyType): boolean => {
      let w = want.get(key);
      if (w === undefined) want.set(key, (w = this.typeOf(key) ?? t));
      return w === t;
    };
    const int = (s: string) => /^-?\d+$/.test(s);
    const num = (x: number | string) => Number.isFinite(Number(x)) && String(x).trim() !== '';
    const fits = (a: string, b: string) => Math.abs(Number(a) + Number(b)) < INT_LIMIT;
    ops.forEach((o, n) => {
      let ok: boolean;
      switch (o.op) {
        case 'hincrby':
          ok = is(o.key, 'hash') && int(o.by);
          if (ok && Math.abs(Number(o.by)) >= 2 ** 31) ok = fits(this.hashes.get(o.key)?.get(o.field) ?? '0', o.by);
          break;
        case 'hmax':
        case 'hmin':
          ok = is(o.key, 'hash') && num(o.value);
          break;
        case 'hset':
        case 'hdel':
          ok = is(o.key, 'hash');
          break;
        case 'pfadd':
          ok = is(o.key, 'string');
          break;
        case 'zincrby':
          ok = is(o.key, 'zset') && num(o.by);
          break;
        case 'zadd':
          ok = is(o.key, 'zset') && num(o.score);
          break;
        case 'zrem':
          ok = is(o.key, 'zset');
          break;
        case 'del':
          ok = true;
          break;
        case 'pexpire':
          ok = int(String(Math.max(1, Math.round(o.ms))));
          break;
        case 'hmerge': {
          ok = is(o.src, 'hash') && is(o.dst, 'hash');
          const dst = this.hashes.get(o.dst);
          for (const [f, v] of ok ? (this.hashes.get(o.src) ?? []) : []) {
            if ((o.fields[f] ?? o.others) !== 'sum') continue;
            const cur = dst?.get(f) ?? '0';
            ok = ok && int(v) && int(cur) && fits(v, cur);
          }
          break;
        }
        case 'pfmerge':
          ok = is(o.src, 'string') && is(o.dst, 'string');
          break;
        case 'zmerge':
          ok = is(o.src, 'zset') && is(o.dst, 'zset');
          break;
        case 'hearliest':
          ok = is(o.key, 'hash') && num(o.ts);
          break;
        default:
          return assertNever(o);
      }
      if (!ok) refuse(`op ${n + 1} (${o.op}): bad arguments or a key of another type`);
    });
  }

  private typeOf(key: string): KeyType | undefined {
    if (this.hashes.has(key)) return 'hash';
    if (this.zsets.has(key)) return 'zset';
    if (this.hll.has(key) || this.strings.has(key)) return 'string';
    return undefined;
  }

  private remove(key: string): void {
    this.hashes.delete(key);
    this.hll.delete(key);
    this.zsets.delete(key);
    this.ttls.delete(key);
    this.strings.delete(key);
  }

  private hash(key: string): Map<string, string> {
    let h = this.hashes.get(key);
    if (!h) this.hashes.set(key, (h = new Map()));
    return h;
  }

  private applyOp(o: StateOp): void {
    switch (o.op) {
      case 'hincrby': {
        const h = this.hash(o.key);
        h.set(o.field, (BigInt(h.get(o.field) ?? '0') + BigInt(o.by)).toString());
        return;
      }
      case 'hmax':
      case 'hmin': {
        const h = this.hash(o.key);
        const cur = h.get(o.field);
        const better = cur === undefined || (o.op === 'hmax' ? o.value > Number(cur) : o.value < Number(cur));
        if (better) h.set(o.field, String(o.value));
        return;
      }
      case 'hset':
        this.hash(o.key).set(o.field, o.value);
        return;
      case 'pfadd': {
        let s = this.hll.get(o.key);
        if (!s) this.hll.set(o.key, (s = new Set()));
        for (const m of o.members) s.add(m);
        return;
      }
      case 'zincrby': {
        let z = this.zsets.get(o.key);
        if (!z) this.zsets.set(o.key, (z = new Map()));
        z.set(o.member, (z.get(o.member) ?? 0) + o.by);
        return;
      }
      case 'zadd': {
        let z = this.zsets.get(o.key);
        if (!z) this.zsets.set(o.key, (z = new Map()));
        const cur = z.get(o.member);
        if (cur === undefined || o.only === undefined || (o.only === 'lt' ? o.score < cur : o.score > cur)) z.set(o.member, o.score);
        return;
      }
      case 'zrem':
        this.zsets.get(o.key)?.delete(o.member);
        if (this.zsets.get(o.key)?.size === 0) this.zsets.delete(o.key);
        return;
      case 'hdel':
        this.hashes.get(o.key)?.delete(o.field);
        if (this.hashes.get(o.key)?.size === 0) this.hashes.delete(o.key);
        return;
      case 'del':
        this.remove(o.key);
        return;
      case 'hmerge': {
        const src = this.hashes.get(o.src);
        if (!src) return;
        const dst = this.hash(o.dst);
        for (const [field, v] of src) {
          const mode = o.fields[field] ?? o.others;
          if (!mode) continue;
          const cur = dst.get(field);
          if (mode === 'sum') dst.set(field, (BigInt(cur ?? '0') + BigInt(v)).toString());
          else if (cur === undefined || (mode === 'max' ? Number(v) > Number(cur) : Number(v) < Number(cur))) dst.set(field, v);
        }
        this.remove(o.src);
        return;
      }
      case 'pfmerge': {
        const src = this.hll.get(o.src);
        if (!src) return;
        let dst = this.hll.get(o.dst);
        if (!dst) this.hll.set(o.dst, (dst = new Set()));
        for (const m of src) dst.add(m);
        this.remove(o.src);
        return;
      }
      case 'zmerge': {
        const src = this.zsets.get(o.src);
        if (!src) return;
        let dst = this.zsets.get(o.dst);
        if (!dst) this.zsets.set(o.dst, (dst = new Map()));
        for (const [m, n] of src) dst.set(m, (dst.get(m) ?? 0) + n);
        this.remove(o.src);
        return;
      }
      case 'hearliest': {
        const h = this.hashes.get(o.key);
        const ts = h?.get('ts');
        if (ts !== undefined && !(o.ts < Number(ts) || (o.ts === Number(ts) && o.id < h!.get('id')!))) return;
        const dst = this.hash(o.key);
        for (const [k, v] of Object.entries(o.values)) dst.set(k, v);
        dst.set('ts', String(o.ts));
        dst.set('id', o.id);
        return;
      }
      case 'pexpire':
        this.ttls.set(o.key, o.ms);
        return;
      default:
        return assertNever(o);
    }
  }
}

type KeyType = 'hash' | 'zset' | 'string';

/** HINCRBY refuses to overflow int64 (±9.22e18); sums are kept below this, checked in doubles like Lua does. */
const INT_LIMIT = 9.2e18;

function wellFormedValue(v: unknown): boolean {
  if (typeof v === 'string') return isWellFormed(v);
  if (Array.isArray(v)) return v.every(wellFormedValue);
  if (typeof v === 'object' && v !== null) return Object.entries(v).every(([k, x]) => isWellFormed(k) && wellFormedValue(x));
  return true;
}

function wellFormedOp(o: StateOp): boolean {
  return wellFormedValue(o);
}

function assertNever(x: never): never {
  throw new Error(`unknown state op ${JSON.stringify(x)}`);
}
