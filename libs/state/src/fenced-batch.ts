/**
 * Exactly-once state updates (DESIGN.md "Exactly-once, concretely" — Aggregation): a batch's state updates
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
  /** Sorted-set add with a score (idempotent): window indexes. */
  | { op: 'zadd'; key: string; member: string; score: number }
  /** Expire the key this far ahead (state has TTLs; nothing grows without bound). */
  | { op: 'pexpire'; key: string; ms: number };

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
    for (const o of ops) this.applyOp(o);
    const h = this.hash(fence.key);
    h.set('lastSeq', String(fence.newSeq));
    for (const [k, v] of Object.entries(fence.fields ?? {})) h.set(k, v);
    return { status: 'applied' };
  }

  async lastSeq(fenceKey: string): Promise<number> {
    return Number(this.hashes.get(fenceKey)?.get('lastSeq') ?? 0);
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
        z.set(o.member, o.score);
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

function assertNever(x: never): never {
  throw new Error(`unknown state op ${JSON.stringify(x)}`);
}
