/**
 * What a partition's batches change between two checkpoints, pre-summed in memory (docs/recommendations.md
 * "Checkpoints"). The planner's ops of every batch are folded in as they come; a checkpoint writes the whole
 * buffer once (a store's `checkpoint`) and clears it. Folding keeps exactly what applying the ops one after
 * the other would leave after the checkpoint's one trim:
 *
 *   decayed lists (co-occurrence, sequential rules, trending): per (list, member) one sum of the
 *     forward-decayed weights, relative to a reference time r (the first addition's time), and the highest
 *     level. An addition more than REBASE_HALF_LIVES half-lives after r starts a new segment with its own r,
 *     so a segment spans at most that many half-lives and its sums stay as small as a rebased list's. The store
 *     adds sum · 2^((r − epoch)/h) to each member — the same value as adding each weight at its own time —
 *     rebasing the list to r first when the segment reaches past its epoch by that much (decay.ts).
 *   latest sets (a product's visits, a user's recent and bought products): per member the latest time, only
 *     the newest `cap` kept (a member the buffer drops has `cap` newer ones that only get newer in the store:
 *     it would be trimmed there too).
 *   categories and visit windows: the last one wins; the clock: the highest time.
 *
 * Bounded: decayed lists hold at most a member per addition (CHECKPOINT_MAX_EVENTS caps the additions per
 * checkpoint), latest sets their caps, windows one per visit touched. Pure, no I/O.
 */
import { forwardWeight, needsRebase } from './decay';
import type { RecOp, SessionItem } from './ops';
import type { Level, RecParams } from './params';

/** A member's pre-summed additions in one segment: Σ w·2^((t − r)/h), and the highest level (0: none above a view). */
export interface PendingSum {
  sum: number;
  level: Level | 0;
}

/** Additions to one decayed list within REBASE_HALF_LIVES half-lives of `r`. */
export interface PendingSegment {
  /** Reference time: the first addition's. */
  r: number;
  /** The latest addition's time. */
  tmax: number;
  members: Map<string, PendingSum>;
}

/** The decayed lists, by kind: `nb` co-occurrence and `sq` rules of a product, `tr` trending (list id null: overall). */
export type DecayedKind = 'nb' | 'sq' | 'tr';
/** The latest sets: `vs` a product's visits, `u` a user's recent products, `bz` a user's bought products. */
export type LatestKind = 'vs' | 'u' | 'bz';

export class RecPending {
  /** Product → segments of its neighbour list. */
  readonly neighbours = new Map<string, PendingSegment[]>();
  /** Product → segments of its sequential rules. */
  readonly sequences = new Map<string, PendingSegment[]>();
  /** Category (null: overall) → segments of the trending list. */
  readonly trending = new Map<string | null, PendingSegment[]>();
  /** Product → visit → latest time. */
  readonly postings = new Map<string, Map<string, number>>();
  /** User → product → latest time touched. */
  readonly recent = new Map<string, Map<string, number>>();
  /** User → product → latest time bought. */
  readonly bought = new Map<string, Map<string, number>>();
  readonly categories = new Map<string, string>();
  /** Visit → its recent window (replaced whole). */
  readonly windows = new Map<string, SessionItem[]>();
  clock: number | null = null;
  /** Ops folded since the last clear. */
  ops = 0;

  constructor(private readonly params: RecParams) {}

  get empty(): boolean {
    return this.ops === 0;
  }

  clear(): void {
    for (const m of [this.neighbours, this.sequences, this.trending, this.postings, this.recent, this.bought, this.categories, this.windows] as Map<unknown, unknown>[]) m.clear();
    this.clock = null;
    this.ops = 0;
  }

  /** Folds one batch's ops in (in their order). */
  add(ops: readonly RecOp[]): void {
    const p = this.params;
    const latest: [Map<string, number>, number][] = [];
    for (const o of ops) {
      switch (o.op) {
        case 'pair':
          addDecayed(this.neighbours, o.a, o.b, o.w, o.t, p.coocHalfLifeMs, o.level);
          break;
        case 'seq':
          addDecayed(this.sequences, o.a, o.b, o.w, o.t, p.coocHalfLifeMs, 1);
          break;
        case 'trend':
          addDecayed(this.trending, null, o.item, o.w, o.t, p.trendingHalfLifeMs, 1);
          if (o.category !== undefined) addDecayed(this.trending, o.category, o.item, o.w, o.t, p.trendingHalfLifeMs, 1);
          break;
        case 'visit':
          latest.push([addLatest(this.postings, o.item, o.sessionId, o.t), p.knnVisits]);
          break;
        case 'seen':
          latest.push([addLatest(this.recent, o.user, o.item, o.t), p.userRecent]);
          break;
        case 'bought':
          latest.push([addLatest(this.bought, o.user, o.item, o.t), p.userBought]);
          break;
        case 'category':
          this.categories.set(o.item, o.category);
          break;
        case 'session':
          this.windows.set(o.sessionId, o.items.map((i) => ({ ...i })));
          break;
        case 'clock':
          this.clock = Math.max(this.clock ?? -Infinity, o.t);
          break;
        default:
          assertNever(o);
      }
    }
    this.ops += ops.length;
    // down to the cap once a set holds twice as many (a sort per added member would cost more than the members)
    for (const [m, cap] of latest) if (m.size > 2 * cap) trimLatest(m, cap);
  }

  /** Folds each batch in turn (tests, the evaluation). */
  static of(params: RecParams, batches: readonly (readonly RecOp[])[]): RecPending {
    const p = new RecPending(params);
    for (const b of batches) p.add(b);
    return p;
  }
}

function addDecayed<K>(lists: Map<K, PendingSegment[]>, list: K, member: string, w: number, t: number, halfLifeMs: number, level: Level): void {
  let segs = lists.get(list);
  if (!segs) lists.set(list, (segs = []));
  let seg = segs[segs.length - 1];
  if (!seg || needsRebase(t, seg.r, halfLifeMs)) segs.push((seg = { r: t, tmax: t, members: new Map() }));
  else if (t > seg.tmax) seg.tmax = t;
  const x = seg.members.get(member);
  const add = forwardWeight(w, t, seg.r, halfLifeMs);
  const l = level > 1 ? level : 0;
  if (!x) seg.members.set(member, { sum: add, level: l });
  else {
    x.sum += add;
    if (l > x.level) x.level = l;
  }
}

function addLatest(sets: Map<string, Map<string, number>>, key: string, member: string, t: number): Map<string, number> {
  let m = sets.get(key);
  if (!m) sets.set(key, (m = new Map()));
  const cur = m.get(member);
  if (cur === undefined || t > cur) m.set(member, t);
  return m;
}

/** Keeps the newest `cap` (Redis's ZREMRANGEBYRANK order: the lowest time goes first, ties the smallest member). */
export function trimLatest(m: Map<string, number>, cap: number): void {
  if (m.size <= cap) return;
  const drop = [...m]
    .sort((a, b) => a[1] - b[1] || (a[0] < b[0] ? -1 : a[0] > b[0] ? 1 : 0))
    .slice(0, m.size - cap);
  for (const [k] of drop) m.delete(k);
}

function assertNever(x: never): never {
  throw new Error(`unknown op ${JSON.stringify(x)}`);
}
