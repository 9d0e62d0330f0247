/**
 * Where the recommender's state lives. Two implementations that must agree: `InMemoryRecStore` (unit tests,
 * the evaluation) and the Redis one (the service; apps/recommendation), which keeps each partition's state in
 * memory (partial.ts), the planner writing into it, and writes a checkpoint — the fields many batches changed
 * and the partition's fence — in one Lua call.
 */
import { MIN_SCORE, forwardWeight, needsRebase } from './decay';
import { OpList, type RecOp, type RecWriter, type SessionItem, replay } from './ops';
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

/** Everything one answer needs, read at once (one round trip on Redis). */
export interface ReadContext {
  now: number | null;
  /** The user (per-user answers), else empty. */
  user: UserState;
  /** Neighbour lists of the anchors (the user's recent products, or the one product asked about). */
  lists: Map<string, StoredList>;
  /** Categories of the anchors. */
  categories: Map<string, string>;
  /** Trending lists: of each anchor category (and of the category asked about), and overall (key null). */
  trending: Map<string | null, StoredList>;
}

export interface ReadRequest {
  userId?: string;
  /** The anchors when there is no user (similar products). */
  productIds?: string[];
  /** Trending of this category too (the trending answer). */
  category?: string;
  /** Most recent products of the user to use as anchors. */
  userRecent: number;
  /** Neighbours per anchor list. */
  neighbours: number;
  /** Trending items per list: this many plus what may be excluded (bought products and anchors). */
  trending: number;
}

/** What a session answer needs (forSession), read at once (one round trip on Redis). */
export interface SessionReadRequest {
  sessionId: string;
  /** The visit's most recent products used as anchors. */
  anchors: number;
  /** Neighbours per anchor list (0: none read). */
  neighbours: number;
  /** Sequential rules per anchor (0: none read). */
  sequences: number;
  /** Session-kNN: visits read per anchor's posting list (0: none), and how many of the best are returned. */
  knnVisits: number;
  knnNeighbours: number;
  /** Trending items per list: this many plus the visit's window (which may be excluded). */
  trending: number;
}

export interface SessionContext {
  now: number | null;
  /** The visit's window, oldest first (as stored). */
  window: SessionItem[];
  /** The anchors: the window's most recent products, most recent first. */
  anchors: string[];
  lists: Map<string, StoredList>;
  sequences: Map<string, StoredList>;
  categories: Map<string, string>;
  /** The neighbour visits (session-kNN) and their windows, best first: most anchors shared, then latest, then id. */
  visits: { sessionId: string; items: SessionItem[] }[];
  /** Trending of each anchor category (most recent anchor's first) and overall (key null). */
  trending: Map<string | null, StoredList>;
}

/** Reads the recommender needs: `context` and `sessionContext` for answers; the others for tests and tools. */
export interface RecReader {
  context(req: ReadRequest): Promise<ReadContext>;
  sessionContext(req: SessionReadRequest): Promise<SessionContext>;
  /** The top `n` sequential rules of each product (itself: its own count). */
  sequences(items: readonly string[], n: number): Promise<Map<string, StoredList>>;
  /** The `n` visits that touched `item` most recently, most recent first (stored = the time). */
  postings(item: string, n: number): Promise<StoredList['items']>;
  sessions(ids: readonly string[]): Promise<Map<string, SessionItem[]>>;
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
  /** The partition's stored last sequence (its last checkpoint) the changes since were planned against. */
  expectedSeq: number;
  /** The last stream sequence the changes cover. */
  newSeq: number;
  /** The writer's fencing token (group assignment): refused when below the partition's current token. */
  token?: number;
}

/** `ok` with `durable: false`: written, but not acknowledged by its replicas in time (Redis Cluster's WAIT). */
export type RecCheckpointResult = { status: 'ok'; durable?: false } | { status: 'conflict'; lastSeq: number } | { status: 'fenced'; token: number };

export interface RecStore extends RecReader {
  /** The partition's last checkpointed sequence (0: none). */
  lastSeq(partition: number): Promise<number>;
  /**
   * Takes the partition on to write it: reads what the store keeps of it in memory (if anything), dropping
   * whatever was planned and not checkpointed; its last checkpointed sequence.
   */
  restore(partition: number): Promise<number>;
  /** Where the planner writes the partition (after `restore`; again after a checkpoint that was not `ok`). */
  writer(partition: number): RecWriter;
  /**
   * Writes what the partition's writer took since the last checkpoint and stores newSeq, atomically — or, when
   * the stored sequence is not expectedSeq (or a newer token holds the partition), nothing, and drops what was
   * planned: the partition must be restored before it is written again. A call that throws (Redis did not
   * answer) keeps it: the next checkpoint writes it.
   */
  checkpoint(fence: RecFence): Promise<RecCheckpointResult>;
}

/** Ops written into the store's partition and checkpointed at once (the evaluation, tests); the partition must be restored. */
export async function checkpointOps(store: RecStore, fence: RecFence, ops: readonly RecOp[]): Promise<RecCheckpointResult> {
  replay(ops, store.writer(fence.partition));
  return store.checkpoint(fence);
}

/** Redis's sorted-set order: score ascending, ties by member ascending. */
export function byScoreAsc(a: { item: string; stored: number }, b: { item: string; stored: number }): number {
  return compareScored(a.item, a.stored, b.item, b.stored);
}

/** ZREVRANGE's order: best first, ties by member descending. */
export function byScoreDesc(a: { item: string; stored: number }, b: { item: string; stored: number }): number {
  return byScoreAsc(b, a);
}

/**
 * Redis's sorted-set order of (a, sa) and (b, sb) as −1, 0 or 1 — not the difference of the scores: a
 * comparator's double result is a heap number per comparison.
 */
function compareScored(a: string, sa: number, b: string, sb: number): number {
  return sa < sb ? -1 : sa > sb ? 1 : a < b ? -1 : a > b ? 1 : 0;
}

/** Whether (a, sa) comes before (b, sb) in Redis's sorted-set order: score ascending, ties by member ascending. */
function before(a: string, sa: number, b: string, sb: number): boolean {
  return sa < sb || (sa === sb && a < b);
}

/**
 * The members ZREMRANGEBYRANK 0 (size − keep − 1) would remove: the lowest, ties smallest member first (in that
 * order). A list at its cap usually overflows by a few members per checkpoint: those are picked in one pass
 * (insertion into a short sorted run), not by sorting the whole list.
 */
export function overflow(entries: Map<string, number>, keep: number): string[] {
  const k = entries.size - keep;
  if (k <= 0) return [];
  if (k > 16) {
    // the members and their numbers side by side, their positions sorted: no object per member
    const items: string[] = [];
    const scores: number[] = [];
    entries.forEach((stored, item) => {
      items.push(item);
      scores.push(stored);
    });
    const order = Array.from({ length: items.length }, (_, i) => i);
    order.sort((x, y) => compareScored(items[x], scores[x], items[y], scores[y]));
    const out: string[] = new Array(k);
    for (let i = 0; i < k; i++) out[i] = items[order[i]];
    return out;
  }
  const items: string[] = [];
  const scores: number[] = [];
  // forEach, not for…of: a hot loop over whole lists, and for…of allocates an entry per member
  entries.forEach((stored, item) => {
    if (items.length === k && !before(item, stored, items[k - 1], scores[k - 1])) return;
    let i = items.length === k ? k - 1 : items.length;
    while (i > 0 && before(item, stored, items[i - 1], scores[i - 1])) {
      items[i] = items[i - 1];
      scores[i] = scores[i - 1];
      i--;
    }
    items[i] = item;
    scores[i] = stored;
  });
  return items;
}

/** A forward-decayed list (co-occurrence, rules, trending): numbers relative to its epoch, levels above a view. */
export class DecayedList {
  epoch: number | null = null;
  readonly scores = new Map<string, number>();
  readonly levels = new Map<string, Level>();
  /** The time of the last addition and 2^((at − epoch)/h) (a list always decays with one half-life). */
  private at = NaN;
  private factor = 0;

  /** A list with these stored numbers (a partial read back from Redis). */
  static of(epoch: number | null, items: readonly { item: string; stored: number; level?: Level }[]): DecayedList {
    const l = new DecayedList();
    l.epoch = epoch;
    for (const x of items) {
      l.scores.set(x.item, x.stored);
      if (x.level !== undefined && x.level > 1) l.levels.set(x.item, x.level);
    }
    return l;
  }

  /** Adds w at t; `level` (pairs) keeps the highest one above a view (absent = 1). Trimming is left to `trim`. */
  add(item: string, w: number, t: number, halfLifeMs: number, level?: Level): void {
    if (this.epoch === null) this.epoch = t;
    else if (needsRebase(t, this.epoch, halfLifeMs)) this.rebase(t, halfLifeMs);
    // forwardWeight(w, t, epoch, h), its power kept for the next addition at the same time (an event's pairs
    // add to one product's list once per product of the visit): the same number, one Math.pow
    if (t !== this.at) {
      this.at = t;
      this.factor = forwardWeight(1, t, this.epoch, halfLifeMs);
    }
    this.scores.set(item, (this.scores.get(item) ?? 0) + w * this.factor);
    if (level !== undefined && level > 1) this.levels.set(item, Math.max(this.levels.get(item) ?? 0, level) as Level);
  }

  /** Rescales every member to a new epoch `t`, dropping those below MIN_SCORE. */
  private rebase(t: number, halfLifeMs: number): void {
    const factor = Math.pow(2, (this.epoch! - t) / halfLifeMs);
    for (const [m, s] of this.scores) {
      const v = s * factor;
      if (v < MIN_SCORE) {
        this.scores.delete(m);
        this.levels.delete(m);
      } else this.scores.set(m, v);
    }
    this.epoch = t;
    this.at = NaN;
  }

  /** Keeps the `keep` best (once per checkpoint, after all its additions). */
  trim(keep: number): void {
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

/** The ops planned into a partition of the in-memory store, kept until its checkpoint applies them. */
class OpBuffer extends OpList implements RecWriter {
  /** A new map at each clear: a caller may keep the one of a checkpoint it wrote (as of a partition's partials). */
  windows = new Map<string, SessionItem[]>();

  get empty(): boolean {
    return this.ops.length === 0;
  }

  override onSession(sessionId: string, items: SessionItem[]): void {
    super.onSession(sessionId, items);
    this.windows.set(sessionId, items);
  }

  clear(): void {
    this.ops.length = 0;
    this.windows = new Map();
  }
}

/**
 * The store in memory: the reference for the Redis store, and what the evaluation runs on. No TTLs. A
 * checkpoint applies its partition's ops in order, each list trimmed once at the end (applyOps): the
 * arithmetic of a partition's partials (partial.ts), so with one partition the two agree exactly.
 */
export class InMemoryRecStore implements RecStore {
  private readonly seqs = new Map<number, number>();
  private readonly writers = new Map<number, OpBuffer>();
  private readonly neighbourLists = new Map<string, DecayedList>();
  private readonly trendLists = new Map<string, DecayedList>();
  private readonly seqLists = new Map<string, DecayedList>();
  private readonly posting = new Map<string, Map<string, number>>();
  private readonly users = new Map<string, { seen: Map<string, number>; bought: Map<string, number> }>();
  private readonly cats = new Map<string, string>();
  private readonly windows = new Map<string, SessionItem[]>();
  private now: number | null = null;

  constructor(private readonly params: RecParams) {}

  async lastSeq(partition: number): Promise<number> {
    return this.seqs.get(partition) ?? 0;
  }

  async restore(partition: number): Promise<number> {
    this.writers.get(partition)?.clear();
    return this.lastSeq(partition);
  }

  writer(partition: number): RecWriter {
    let w = this.writers.get(partition);
    if (!w) this.writers.set(partition, (w = new OpBuffer()));
    return w;
  }

  async sessions(ids: readonly string[]): Promise<Map<string, SessionItem[]>> {
    return this.sessionsSync(ids);
  }

  sessionsSync(ids: readonly string[]): Map<string, SessionItem[]> {
    const out = new Map<string, SessionItem[]>();
    for (const id of ids) {
      const w = this.windows.get(id);
      if (w) out.set(id, w.slice());
    }
    return out;
  }

  async checkpoint(fence: RecFence): Promise<RecCheckpointResult> {
    const w = this.writer(fence.partition) as OpBuffer;
    const current = this.seqs.get(fence.partition) ?? 0;
    if (current === fence.expectedSeq) this.applyOps(w.ops);
    w.clear();
    if (current !== fence.expectedSeq) return { status: 'conflict', lastSeq: current };
    this.seqs.set(fence.partition, fence.newSeq);
    return { status: 'ok' };
  }

  /**
   * Applies ops one after the other without a fence (the reference the checkpoints are checked against).
   * Lists are trimmed to their size once, after all the additions, so a list may hold more in between.
   */
  applyOps(ops: readonly RecOp[]): void {
    const p = this.params;
    const touched = new Map<DecayedList, number>();
    const users = new Set<string>();
    const postings = new Set<string>();
    for (const o of ops) {
      switch (o.op) {
        case 'pair': {
          const l = list(this.neighbourLists, o.a);
          l.add(o.b, o.w, o.t, p.coocHalfLifeMs, o.level);
          touched.set(l, p.neighbours);
          break;
        }
        case 'seq': {
          const l = list(this.seqLists, o.a);
          l.add(o.b, o.w, o.t, p.coocHalfLifeMs);
          touched.set(l, p.neighbours);
          break;
        }
        case 'visit': {
          let m = this.posting.get(o.item);
          if (!m) this.posting.set(o.item, (m = new Map()));
          m.set(o.sessionId, Math.max(m.get(o.sessionId) ?? -Infinity, o.t));
          postings.add(o.item);
          break;
        }
        case 'trend': {
          const all = list(this.trendLists, '');
          all.add(o.item, o.w, o.t, p.trendingHalfLifeMs);
          touched.set(all, p.trendingSize);
          if (o.category !== undefined) {
            const c = list(this.trendLists, 'c:' + o.category);
            c.add(o.item, o.w, o.t, p.trendingHalfLifeMs);
            touched.set(c, p.trendingSize);
          }
          break;
        }
        case 'seen': {
          const u = this.userOf(o.user);
          u.seen.set(o.item, Math.max(u.seen.get(o.item) ?? -Infinity, o.t));
          users.add(o.user);
          break;
        }
        case 'bought': {
          const u = this.userOf(o.user);
          u.bought.set(o.item, Math.max(u.bought.get(o.item) ?? -Infinity, o.t));
          users.add(o.user);
          break;
        }
        case 'category':
          this.cats.set(o.item, o.category);
          break;
        case 'session':
          this.windows.set(o.sessionId, o.items.slice());
          break;
        case 'clock':
          this.now = Math.max(this.now ?? -Infinity, o.t);
          break;
        default:
          assertNever(o);
      }
    }
    for (const [l, keep] of touched) l.trim(keep);
    for (const id of users) {
      const u = this.userOf(id);
      for (const m of overflow(u.seen, p.userRecent)) u.seen.delete(m);
      for (const m of overflow(u.bought, p.userBought)) u.bought.delete(m);
    }
    for (const item of postings) {
      const m = this.posting.get(item)!;
      for (const s of overflow(m, p.knnVisits)) m.delete(s);
    }
  }

  async clock(): Promise<number | null> {
    return this.now;
  }

  async context(req: ReadRequest): Promise<ReadContext> {
    return readContext(this, req);
  }

  async sessionContext(req: SessionReadRequest): Promise<SessionContext> {
    return readSessionContext(this, req);
  }

  async neighbours(items: readonly string[], n: number): Promise<Map<string, StoredList>> {
    return new Map(items.map((i) => [i, this.neighbourLists.get(i)?.top(n) ?? { epoch: null, items: [] }]));
  }

  async sequences(items: readonly string[], n: number): Promise<Map<string, StoredList>> {
    return new Map(items.map((i) => [i, this.seqLists.get(i)?.top(n) ?? { epoch: null, items: [] }]));
  }

  async postings(item: string, n: number): Promise<StoredList['items']> {
    const m = this.posting.get(item);
    if (!m) return [];
    return [...m]
      .map(([s, t]) => ({ item: s, stored: t }))
      .sort(byScoreDesc)
      .slice(0, n);
  }

  async trending(category: string | null, n: number): Promise<StoredList> {
    return this.trendLists.get(category === null ? '' : 'c:' + category)?.top(n) ?? { epoch: null, items: [] };
  }

  async user(userId: string): Promise<UserState> {
    const u = this.users.get(userId);
    if (!u) return { recent: [], bought: new Set() };
    const recent = [...u.seen].map(([item, t]) => ({ item, stored: t })).sort(byScoreDesc).map((x) => ({ item: x.item, t: x.stored }));
    return { recent, bought: new Set(u.bought.keys()) };
  }

  async categories(items: readonly string[]): Promise<Map<string, string>> {
    const out = new Map<string, string>();
    for (const i of items) if (this.cats.has(i)) out.set(i, this.cats.get(i)!);
    return out;
  }

  private userOf(id: string) {
    let u = this.users.get(id);
    if (!u) this.users.set(id, (u = { seen: new Map(), bought: new Map() }));
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

/** ReadContext from the single reads, in the order the Redis script reads them (the reference for it). */
export async function readContext(reader: Omit<RecReader, 'context'>, req: ReadRequest): Promise<ReadContext> {
  const now = await reader.clock();
  const user: UserState = req.userId === undefined ? { recent: [], bought: new Set() } : await reader.user(req.userId);
  user.recent = user.recent.slice(0, req.userRecent);
  const anchors = req.userId === undefined ? (req.productIds ?? []) : user.recent.map((r) => r.item);
  const [lists, categories] = [await reader.neighbours(anchors, req.neighbours), await reader.categories(anchors)];
  const n = req.trending + user.bought.size + anchors.length;
  const trending = new Map<string | null, StoredList>();
  for (const c of [...(req.category === undefined ? [] : [req.category]), ...anchors.map((a) => categories.get(a)).filter((c): c is string => c !== undefined)]) {
    if (!trending.has(c)) trending.set(c, await reader.trending(c, n));
  }
  trending.set(null, await reader.trending(null, n));
  return { now, user, lists, categories, trending };
}

/**
 * SessionContext from the single reads, in the order the Redis script reads them (the reference for it).
 * Session-kNN candidates: the visits in the anchors' posting lists (the current one left out), ranked by how
 * many anchors they share, then by their latest time in those lists, then by id; the best knnNeighbours are
 * read whole. A visit whose window has expired is skipped.
 */
export async function readSessionContext(reader: Omit<RecReader, 'sessionContext' | 'context'>, req: SessionReadRequest): Promise<SessionContext> {
  const now = await reader.clock();
  const window = (await reader.sessions([req.sessionId])).get(req.sessionId) ?? [];
  const anchors = [...window]
    .reverse()
    .slice(0, Math.max(req.anchors, 0))
    .map((i) => i.p);
  const empty = new Map<string, StoredList>(anchors.map((a) => [a, { epoch: null, items: [] }]));
  const lists = req.neighbours > 0 ? await reader.neighbours(anchors, req.neighbours) : empty;
  const sequences = req.sequences > 0 ? await reader.sequences(anchors, req.sequences) : empty;
  const categories = await reader.categories(anchors);
  const visits: SessionContext['visits'] = [];
  if (req.knnVisits > 0 && req.knnNeighbours > 0) {
    const cand = new Map<string, { n: number; t: number }>();
    for (const a of anchors) {
      for (const v of await reader.postings(a, req.knnVisits)) {
        if (v.item === req.sessionId) continue;
        const c = cand.get(v.item);
        if (!c) cand.set(v.item, { n: 1, t: v.stored });
        else Object.assign(c, { n: c.n + 1, t: Math.max(c.t, v.stored) });
      }
    }
    const best = [...cand]
      .sort((x, y) => y[1].n - x[1].n || y[1].t - x[1].t || (x[0] < y[0] ? -1 : x[0] > y[0] ? 1 : 0))
      .slice(0, req.knnNeighbours)
      .map(([id]) => id);
    const ws = await reader.sessions(best);
    for (const id of best) if (ws.has(id)) visits.push({ sessionId: id, items: ws.get(id)! });
  }
  const n = req.trending + window.length;
  const trending = new Map<string | null, StoredList>();
  for (const a of anchors) {
    const c = categories.get(a);
    if (c !== undefined && !trending.has(c)) trending.set(c, await reader.trending(c, n));
  }
  trending.set(null, await reader.trending(null, n));
  return { now, window, anchors, lists, sequences, categories, visits, trending };
}
