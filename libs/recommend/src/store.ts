/**
 * Where the recommender's state lives. Two implementations that must agree: `InMemoryRecStore` (unit tests,
 * the evaluation) and the Redis one (the service; apps/recommendation), which applies a batch's ops and its
 * partition fence in one Lua call.
 */
import { MIN_SCORE, forwardWeight, needsRebase } from './decay';
import type { RecOp, SessionItem } from './ops';
import type { Level, RecParams } from './params';

/** A decayed list as stored: numbers relative to the list's epoch (see decay.ts). */
export interface StoredList {
  /** null for a list that does not exist. */
  epoch: number | null;
  /** Best first (ZREVRANGE order: ties by product id descending). */
  items: { item: string; stored: number; level?: Level }[];
}

export interface UserState {
  /** Most recent first. */
  recent: { item: string; t: number }[];
  bought: Set<string>;
}

/** Reads the recommender needs. Batched by design: one call per kind of read. */
export interface RecReader {
  /** The highest event time applied, or null before any. */
  clock(): Promise<number | null>;
  /** The top `n` neighbours of each product (with the pair's level). */
  neighbours(items: readonly string[], n: number): Promise<Map<string, StoredList>>;
  /** The top `n` trending products overall (category null) or in a category. */
  trending(category: string | null, n: number): Promise<StoredList>;
  user(userId: string): Promise<UserState>;
  categories(items: readonly string[]): Promise<Map<string, string>>;
}

export interface RecFence {
  partition: number;
  /** The partition's stored last sequence this batch was computed against. */
  expectedSeq: number;
  /** The batch's last stream sequence. */
  newSeq: number;
}

export type RecApplyResult = { status: 'applied' } | { status: 'conflict'; lastSeq: number };

export interface RecStore extends RecReader {
  lastSeq(partition: number): Promise<number>;
  sessions(ids: readonly string[]): Promise<Map<string, SessionItem[]>>;
  /** Applies the ops and stores newSeq, atomically — or, when the stored sequence is not expectedSeq, nothing. */
  apply(fence: RecFence, ops: readonly RecOp[]): Promise<RecApplyResult>;
}

/** Redis's sorted-set order: score ascending, ties by member ascending. */
export function byScoreAsc(a: { item: string; stored: number }, b: { item: string; stored: number }): number {
  return a.stored - b.stored || (a.item < b.item ? -1 : a.item > b.item ? 1 : 0);
}

/** ZREVRANGE's order: best first, ties by member descending. */
export function byScoreDesc(a: { item: string; stored: number }, b: { item: string; stored: number }): number {
  return -byScoreAsc(a, b);
}

/** The members ZREMRANGEBYRANK 0 (size − keep − 1) would remove: the lowest, ties smallest member first. */
function overflow(entries: Map<string, number>, keep: number): string[] {
  if (entries.size <= keep) return [];
  return [...entries]
    .map(([item, stored]) => ({ item, stored }))
    .sort(byScoreAsc)
    .slice(0, entries.size - keep)
    .map((x) => x.item);
}

class DecayedList {
  epoch: number | null = null;
  readonly scores = new Map<string, number>();
  readonly levels = new Map<string, Level>();

  add(item: string, w: number, t: number, halfLifeMs: number, keep: number, level?: Level): void {
    if (this.epoch === null) this.epoch = t;
    else if (needsRebase(t, this.epoch, halfLifeMs)) {
      const factor = Math.pow(2, (this.epoch - t) / halfLifeMs);
      for (const [m, s] of this.scores) {
        const v = s * factor;
        if (v < MIN_SCORE) {
          this.scores.delete(m);
          this.levels.delete(m);
        } else this.scores.set(m, v);
      }
      this.epoch = t;
    }
    this.scores.set(item, (this.scores.get(item) ?? 0) + forwardWeight(w, t, this.epoch, halfLifeMs));
    if (level !== undefined) this.levels.set(item, Math.max(this.levels.get(item) ?? 0, level) as Level);
    for (const m of overflow(this.scores, keep)) {
      this.scores.delete(m);
      this.levels.delete(m);
    }
  }

  top(n: number): StoredList {
    const items = [...this.scores]
      .map(([item, stored]) => ({ item, stored, ...(this.levels.has(item) ? { level: this.levels.get(item)! } : {}) }))
      .sort(byScoreDesc)
      .slice(0, n);
    return { epoch: this.epoch, items };
  }
}

/** The store in memory: the reference for the Redis store, and what the evaluation runs on. No TTLs. */
export class InMemoryRecStore implements RecStore {
  private readonly seqs = new Map<number, number>();
  private readonly neighbourLists = new Map<string, DecayedList>();
  private readonly trendLists = new Map<string, DecayedList>();
  private readonly users = new Map<string, { seen: Map<string, number>; bought: Set<string> }>();
  private readonly cats = new Map<string, string>();
  private readonly windows = new Map<string, SessionItem[]>();
  private now: number | null = null;

  constructor(private readonly params: RecParams) {}

  async lastSeq(partition: number): Promise<number> {
    return this.seqs.get(partition) ?? 0;
  }

  async sessions(ids: readonly string[]): Promise<Map<string, SessionItem[]>> {
    return this.sessionsSync(ids);
  }

  sessionsSync(ids: readonly string[]): Map<string, SessionItem[]> {
    const out = new Map<string, SessionItem[]>();
    for (const id of ids) {
      const w = this.windows.get(id);
      if (w) out.set(id, w.map((i) => ({ ...i })));
    }
    return out;
  }

  async apply(fence: RecFence, ops: readonly RecOp[]): Promise<RecApplyResult> {
    const current = this.seqs.get(fence.partition) ?? 0;
    if (current !== fence.expectedSeq) return { status: 'conflict', lastSeq: current };
    this.applyOps(ops);
    this.seqs.set(fence.partition, fence.newSeq);
    return { status: 'applied' };
  }

  /** Applies ops without a fence (the evaluation's replay). */
  applyOps(ops: readonly RecOp[]): void {
    const p = this.params;
    for (const o of ops) {
      switch (o.op) {
        case 'pair':
          list(this.neighbourLists, o.a).add(o.b, o.w, o.t, p.coocHalfLifeMs, p.neighbours, o.level);
          break;
        case 'trend':
          list(this.trendLists, '').add(o.item, o.w, o.t, p.trendingHalfLifeMs, p.trendingSize);
          if (o.category !== undefined) list(this.trendLists, 'c:' + o.category).add(o.item, o.w, o.t, p.trendingHalfLifeMs, p.trendingSize);
          break;
        case 'seen': {
          const u = this.userOf(o.user);
          u.seen.set(o.item, Math.max(u.seen.get(o.item) ?? -Infinity, o.t));
          for (const m of overflow(u.seen, p.userRecent)) u.seen.delete(m);
          break;
        }
        case 'bought':
          this.userOf(o.user).bought.add(o.item);
          break;
        case 'category':
          this.cats.set(o.item, o.category);
          break;
        case 'session':
          this.windows.set(o.sessionId, o.items.map((i) => ({ ...i })));
          break;
        case 'clock':
          this.now = Math.max(this.now ?? -Infinity, o.t);
          break;
        default:
          assertNever(o);
      }
    }
  }

  async clock(): Promise<number | null> {
    return this.now;
  }

  async neighbours(items: readonly string[], n: number): Promise<Map<string, StoredList>> {
    return new Map(items.map((i) => [i, this.neighbourLists.get(i)?.top(n) ?? { epoch: null, items: [] }]));
  }

  async trending(category: string | null, n: number): Promise<StoredList> {
    return this.trendLists.get(category === null ? '' : 'c:' + category)?.top(n) ?? { epoch: null, items: [] };
  }

  async user(userId: string): Promise<UserState> {
    const u = this.users.get(userId);
    if (!u) return { recent: [], bought: new Set() };
    const recent = [...u.seen].map(([item, t]) => ({ item, stored: t })).sort(byScoreDesc).map((x) => ({ item: x.item, t: x.stored }));
    return { recent, bought: new Set(u.bought) };
  }

  async categories(items: readonly string[]): Promise<Map<string, string>> {
    const out = new Map<string, string>();
    for (const i of items) if (this.cats.has(i)) out.set(i, this.cats.get(i)!);
    return out;
  }

  private userOf(id: string) {
    let u = this.users.get(id);
    if (!u) this.users.set(id, (u = { seen: new Map(), bought: new Set() }));
    return u;
  }
}

function list(lists: Map<string, DecayedList>, key: string): DecayedList {
  let l = lists.get(key);
  if (!l) lists.set(key, (l = new DecayedList()));
  return l;
}

function assertNever(x: never): never {
  throw new Error(`unknown op ${JSON.stringify(x)}`);
}
