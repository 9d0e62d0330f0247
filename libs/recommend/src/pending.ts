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
import { type OpSink, type RecOp, type SessionItem, replay } from './ops';
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

export class RecPending implements OpSink {
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

  /** Folds one batch's ops in (in their order); the planner folds into the buffer directly (planInto). */
  add(ops: readonly RecOp[]): void {
    replay(ops, this);
  }

  // ---- OpSink: one op each ----

  onPair(a: string, b: string, w: number, t: number, level: Level): void {
    addDecayed(this.neighbours, a, b, w, t, this.params.coocHalfLifeMs, level);
    this.ops++;
  }

  onSeq(a: string, b: string, w: number, t: number): void {
    addDecayed(this.sequences, a, b, w, t, this.params.coocHalfLifeMs, 1);
    this.ops++;
  }

  onTrend(item: string, category: string | undefined, w: number, t: number): void {
    addDecayed(this.trending, null, item, w, t, this.params.trendingHalfLifeMs, 1);
    if (category !== undefined) addDecayed(this.trending, category, item, w, t, this.params.trendingHalfLifeMs, 1);
    this.ops++;
  }

  onVisit(item: string, sessionId: string, t: number): void {
    addLatest(this.postings, item, sessionId, t, this.params.knnVisits);
    this.ops++;
  }

  onSeen(user: string, item: string, t: number): void {
    addLatest(this.recent, user, item, t, this.params.userRecent);
    this.ops++;
  }

  onBought(user: string, item: string, t: number): void {
    addLatest(this.bought, user, item, t, this.params.userBought);
    this.ops++;
  }

  onCategory(item: string, category: string): void {
    this.categories.set(item, category);
    this.ops++;
  }

  onSession(sessionId: string, items: SessionItem[]): void {
    // taken as it is: a window (array and items) is never changed once planned (planner.ts copies it first)
    this.windows.set(sessionId, items);
    this.ops++;
  }

  onClock(t: number): void {
    this.clock = Math.max(this.clock ?? -Infinity, t);
    this.ops++;
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

/** Keeps the latest time; down to the cap once a set holds twice as many (a sort per added member would cost more than the members). */
function addLatest(sets: Map<string, Map<string, number>>, key: string, member: string, t: number, cap: number): void {
  let m = sets.get(key);
  if (!m) sets.set(key, (m = new Map()));
  const cur = m.get(member);
  if (cur === undefined || t > cur) {
    m.set(member, t);
    if (m.size > 2 * cap) trimLatest(m, cap);
  }
}

/** Keeps the newest `cap` (Redis's ZREMRANGEBYRANK order: the lowest time goes first, ties the smallest member). */
export function trimLatest(m: Map<string, number>, cap: number): void {
  if (m.size <= cap) return;
  const drop = [...m]
    .sort((a, b) => a[1] - b[1] || (a[0] < b[0] ? -1 : a[0] > b[0] ? 1 : 0))
    .slice(0, m.size - cap);
  for (const [k] of drop) m.delete(k);
}
