/**
 * Per-partition partials of the recommender's shared state, merged at read time (docs/recommendations.md
 * "Where the state lives"). Products, users and trending get additions from visits of every partition; instead
 * of every partition adding into one shared list (a dozen commands per list per checkpoint), each partition
 * keeps its own partial of each list in memory — built only from its own events, bounded like the shared list
 * (caps per list, rebases) — and writes the partials a checkpoint changed as one field each of a few hashes.
 * A read takes the field from every partition and merges:
 *
 *   decayed lists (co-occurrence `nb`, rules `sq`, trending `tr`): every partial's stored numbers are brought to
 *     the latest epoch among them (× 2^((e_p − E)/h)) and summed per member; the highest level wins; then the
 *     top n. Forward decay makes this exact: each partial's value at any time is its own sum, and sums add.
 *   latest sets (a product's visits `vs`, a user's recent and bought products `u`): per member the latest
 *     time, then the newest n.
 *   a product's category (kept in its `nb` field): the one of the partial touched last.
 *
 * What differs from one shared list: caps apply to each partial and again after merging, so a member trimmed
 * from one partition's partial (it was weak there) loses that partition's share even where the merged list
 * would have kept it; members that are strong anywhere are kept. Rebases drop members below MIN_SCORE per
 * partial. Nothing else: with one partition the merged state is the shared state, number for number.
 *
 * Expiry is by event time: a field whose last addition is older than its TTL, measured against the
 * partition's clock (its highest event time), is deleted from memory and its field removed at the next
 * checkpoint (a sweep runs when the clock has moved by a sixteenth of the shortest TTL). Pure, no I/O.
 */
import { FieldReader, FieldWriter, type StoredValue, binaryField, jsonOf } from './field-codec';
import type { RecWriter, SessionItem } from './ops';
import type { Level, RecParams } from './params';
import {
  DecayedList,
  byScoreDesc,
  overflow,
  type ReadContext,
  type ReadRequest,
  type RecReader,
  type SessionContext,
  type SessionReadRequest,
  type StoredList,
  type UserState,
} from './store';

/** The hashes a partition writes: neighbours (with the product's category), rules, trending, a product's visits, users. */
export const PARTIAL_HASHES = ['nb', 'sq', 'tr', 'vs', 'u'] as const;
export type PartialHash = (typeof PARTIAL_HASHES)[number];

/** A decayed list's partial: the list, the event time of its last change, and (nb) the product's category. */
export interface DecayedEntry {
  list: DecayedList;
  t: number;
  category?: string;
}

/** A latest set's partial (a product's visits): member → latest time; t = the latest of them. */
export interface LatestEntry {
  m: Map<string, number>;
  t: number;
}

export interface UserEntry {
  recent: Map<string, number>;
  /** None until the user buys something (most never do). */
  bought: Map<string, number> | undefined;
  t: number;
}

interface EntryOf {
  nb: DecayedEntry;
  sq: DecayedEntry;
  tr: DecayedEntry;
  vs: LatestEntry;
  u: UserEntry;
}

/** The trending field of a category (null: overall). */
export function trendingField(category: string | null): string {
  return category === null ? '*' : `c:${category}`;
}

/** Event-time TTLs of a partial's fields (0 or less: never). Overall trending never expires (bounded by its size). */
export interface PartialExpiry {
  itemMs: number;
  userMs: number;
}

/**
 * What the next checkpoint writes (RecPartial.changes): per hash, field → its entry now (the partial's own
 * object) or null (deleted); the visits' windows planned since the last checkpoint; the partition's clock.
 * `encode` gives the fields' values.
 */
export class PartialChanges {
  readonly nb = new Map<string, DecayedEntry | null>();
  readonly sq = new Map<string, DecayedEntry | null>();
  readonly tr = new Map<string, DecayedEntry | null>();
  readonly vs = new Map<string, LatestEntry | null>();
  readonly u = new Map<string, UserEntry | null>();
  /** Visit → its recent window, replaced whole (a window is never changed once planned: planner.ts copies it first). */
  readonly windows = new Map<string, SessionItem[]>();
  /** The partition's clock after the checkpoint. */
  clock: number | null = null;

  /** Per hash the encoded fields to set (views of `w`'s buffer) and the fields to delete (the order `write` takes them in). */
  encode(w: FieldWriter = new FieldWriter(16_384)): Record<PartialHash, { set: [string, Buffer][]; del: string[] }> {
    const out = {} as Record<PartialHash, { set: [string, Buffer][]; del: string[] }>;
    for (const h of PARTIAL_HASHES) out[h] = { set: [], del: [] };
    this.write(w, {
      section: () => undefined,
      set: (h, field) => void out[h].set.push([field, w.end()]),
      deleted: (h, field) => void out[h].del.push(field),
    });
    return out;
  }

  /**
   * The changes in the checkpoint script's order (apps/recommendation checkpointArgs), without a value made
   * of each: per hash its counts, then each field set (its value the field `w` holds, just written), then each
   * field deleted.
   */
  write(w: FieldWriter, sink: ChangeSink): void {
    for (const h of PARTIAL_HASHES) {
      const changes = this[h] as Map<string, EntryOf[typeof h] | null>;
      let deleted = 0;
      changes.forEach((e) => {
        if (e === null) deleted++;
      });
      sink.section(h, changes.size - deleted, deleted);
      changes.forEach((e, field) => {
        if (e === null) return;
        writeEntry(h, e, w);
        sink.set(h, field);
      });
      if (deleted > 0)
        changes.forEach((e, field) => {
          if (e === null) sink.deleted(h, field);
        });
    }
  }
}

/** Where PartialChanges.write puts a checkpoint's changes. */
export interface ChangeSink {
  section(h: PartialHash, set: number, deleted: number): void;
  /** A field set: its value is the field `w` holds (begun and written, not ended). */
  set(h: PartialHash, field: string): void;
  deleted(h: PartialHash, field: string): void;
}

/**
 * One partition's partials, in memory: the operator's keyed state (the service restores it from Redis). The
 * planner writes into it directly (RecWriter): every addition goes into its list at once — forward-decayed
 * relative to the list's epoch, rebased when it reaches REBASE_HALF_LIVES past it (DecayedList.add) — and the
 * field it changed is noted for the next checkpoint. At a checkpoint (`changes`) each changed list is trimmed
 * to its size once, the latest sets to theirs, and the expiry sweep due runs: the same arithmetic as
 * InMemoryRecStore applying the same ops in the same order, so one partition's partials equal the shared
 * store exactly. `committed` starts the next checkpoint's changes. A checkpoint that did not happen keeps
 * them: the next one writes every changed field again, whole (a field's value is absolute, so writing it twice
 * changes nothing). Memory holds changes Redis may not: a writer whose checkpoint conflicts restores the
 * partial from Redis (RedisRecStore), as an operator restores its state from the last checkpoint.
 */
export class RecPartial implements RecWriter {
  readonly nb = new Map<string, DecayedEntry>();
  readonly sq = new Map<string, DecayedEntry>();
  readonly tr = new Map<string, DecayedEntry>();
  readonly vs = new Map<string, LatestEntry>();
  readonly u = new Map<string, UserEntry>();
  /** The partition's highest event time applied. */
  clock: number | null = null;
  /** The clock at the last expiry sweep (not stored: a restored partial sweeps at its first checkpoint). */
  private sweptAt = -Infinity;
  /** What the next checkpoint writes. */
  private ch = new PartialChanges();
  /** Ops since the last checkpoint. */
  private ops = 0;

  constructor(
    private readonly params: RecParams,
    private readonly expiry: PartialExpiry = { itemMs: 0, userMs: 0 },
  ) {}

  /** A partial from its stored fields (per hash, field → encoded value) and clock. */
  static decode(params: RecParams, expiry: PartialExpiry | undefined, hashes: Partial<Record<PartialHash, Record<string, StoredValue>>>, clock: number | null): RecPartial {
    const p = new RecPartial(params, expiry);
    for (const h of PARTIAL_HASHES) {
      const target = p[h] as Map<string, EntryOf[typeof h]>;
      for (const [field, value] of Object.entries(hashes[h] ?? {})) target.set(field, decodeEntry(h, value) as EntryOf[typeof h]);
    }
    p.clock = clock;
    return p;
  }

  get windows(): ReadonlyMap<string, SessionItem[]> {
    return this.ch.windows;
  }

  get empty(): boolean {
    return this.ops === 0;
  }

  // ---- RecWriter: the planner's ops, one each ----

  onPair(a: string, b: string, w: number, t: number, level: Level): void {
    const e = this.decayed(this.nb, this.ch.nb, a);
    e.list.add(b, w, t, this.params.coocHalfLifeMs, level);
    if (t > e.t) e.t = t;
    this.ops++;
  }

  onSeq(a: string, b: string, w: number, t: number): void {
    const e = this.decayed(this.sq, this.ch.sq, a);
    e.list.add(b, w, t, this.params.coocHalfLifeMs);
    if (t > e.t) e.t = t;
    this.ops++;
  }

  onTrend(item: string, category: string | undefined, w: number, t: number): void {
    const h = this.params.trendingHalfLifeMs;
    let e = this.decayed(this.tr, this.ch.tr, trendingField(null));
    e.list.add(item, w, t, h);
    if (t > e.t) e.t = t;
    if (category !== undefined) {
      e = this.decayed(this.tr, this.ch.tr, trendingField(category));
      e.list.add(item, w, t, h);
      if (t > e.t) e.t = t;
    }
    this.ops++;
  }

  onVisit(item: string, sessionId: string, t: number): void {
    let e = this.vs.get(item);
    if (!e) this.vs.set(item, (e = { m: new Map(), t: -Infinity }));
    if (this.ch.vs.get(item) !== e) this.ch.vs.set(item, e);
    latest(e.m, sessionId, t);
    if (t > e.t) e.t = t;
    this.ops++;
  }

  onSeen(user: string, item: string, t: number): void {
    const e = this.user(user);
    latest(e.recent, item, t);
    if (t > e.t) e.t = t;
    this.ops++;
  }

  onBought(user: string, item: string, t: number): void {
    const e = this.user(user);
    latest((e.bought ??= new Map()), item, t);
    if (t > e.t) e.t = t;
    this.ops++;
  }

  onCategory(item: string, category: string, t: number): void {
    const e = this.decayed(this.nb, this.ch.nb, item);
    e.category = category;
    if (t > e.t) e.t = t;
    this.ops++;
  }

  onSession(sessionId: string, items: SessionItem[]): void {
    // taken as it is: a window (array and items) is never changed once planned (planner.ts copies it first)
    this.ch.windows.set(sessionId, items);
    this.ops++;
  }

  onClock(t: number): void {
    if (this.clock === null || t > this.clock) this.clock = t;
    this.ops++;
  }

  private decayed(entries: Map<string, DecayedEntry>, changed: Map<string, DecayedEntry | null>, id: string): DecayedEntry {
    let e = entries.get(id);
    if (!e) entries.set(id, (e = { list: new DecayedList(), t: -Infinity }));
    if (changed.get(id) !== e) changed.set(id, e);
    return e;
  }

  private user(id: string): UserEntry {
    let e = this.u.get(id);
    if (!e) this.u.set(id, (e = { recent: new Map(), bought: undefined, t: -Infinity }));
    if (this.ch.u.get(id) !== e) this.ch.u.set(id, e);
    return e;
  }

  // ---- checkpoints ----

  /**
   * What the next checkpoint writes: each changed list trimmed to its size (the lowest first, as Redis's
   * ZREMRANGEBYRANK), each changed latest set to its newest; the expiry sweep due; the clock. Trimming again
   * (a checkpoint retried) changes nothing.
   */
  changes(): PartialChanges {
    const p = this.params;
    const ch = this.ch;
    const trim = (keep: number) => (e: DecayedEntry | null) => e?.list.trim(keep);
    ch.nb.forEach(trim(p.neighbours));
    ch.sq.forEach(trim(p.neighbours));
    ch.tr.forEach(trim(p.trendingSize));
    ch.vs.forEach((e) => e && trimNewest(e.m, p.knnVisits));
    ch.u.forEach((e) => {
      if (!e) return;
      trimNewest(e.recent, p.userRecent);
      if (e.bought) trimNewest(e.bought, p.userBought);
    });
    ch.clock = this.clock;
    this.sweep(ch);
    return ch;
  }

  /** The checkpoint of `changes` is written: the next one starts empty. */
  committed(): void {
    this.ch = new PartialChanges();
    this.ops = 0;
  }

  /** The encoded value of one field (null: none), as a checkpoint writes it. */
  encoded(h: PartialHash, field: string): Buffer | null {
    const e = (this[h] as Map<string, EntryOf[typeof h]>).get(field);
    return e === undefined ? null : encodeEntry(h, e);
  }

  /** Deletes the fields whose last addition is older than their TTL (when the clock moved enough since the last sweep). */
  private sweep(ch: PartialChanges): void {
    const now = ch.clock;
    const ttls = [this.expiry.itemMs, this.expiry.userMs].filter((x) => x > 0);
    if (now === null || ttls.length === 0 || now - this.sweptAt < Math.min(...ttls) / 16) return;
    this.sweptAt = now;
    const stale = <H extends PartialHash>(h: H, ttl: number, skip?: string) => {
      if (!(ttl > 0)) return;
      const entries = this[h] as Map<string, EntryOf[H]>;
      for (const [id, e] of entries) {
        if (id !== skip && now - e.t > ttl) {
          entries.delete(id);
          (ch[h] as Map<string, EntryOf[H] | null>).set(id, null);
        }
      }
    };
    stale('nb', this.expiry.itemMs);
    stale('sq', this.expiry.itemMs);
    stale('vs', this.expiry.itemMs);
    stale('tr', this.expiry.itemMs, trendingField(null));
    stale('u', this.expiry.userMs);
  }
}

/** Keeps a member's latest time. */
function latest(m: Map<string, number>, member: string, t: number): void {
  const cur = m.get(member);
  if (cur === undefined || t > cur) m.set(member, t);
}

/** Keeps the newest `keep` (Redis's ZREMRANGEBYRANK order: the lowest time goes first, ties the smallest member). */
function trimNewest(m: Map<string, number>, keep: number): void {
  for (const x of overflow(m, keep)) m.delete(x);
}

// ---- encoding: one field's partial (field-codec.ts: binary; JSON from an earlier version still read) ----

/** Writes one field's partial into `w` (members in the maps' own order); the value, a view of `w`'s buffer. */
export function encodeEntry<H extends PartialHash>(h: H, e: EntryOf[H], w: FieldWriter = new FieldWriter(256)): Buffer {
  writeEntry(h, e, w);
  return w.end();
}

/** Begins a field in `w` and writes one field's partial (members in the maps' own order); `w.end()` or `w.endInto` finishes it. */
export function writeEntry<H extends PartialHash>(h: H, e: EntryOf[H], w: FieldWriter): void {
  w.begin();
  if (h === 'nb' || h === 'sq' || h === 'tr') {
    const d = e as DecayedEntry;
    w.f64(d.list.epoch ?? NaN).f64(d.t);
    if (h === 'nb') {
      w.str(d.category);
      // forEach, not for…of: every member of every changed list, and for…of allocates an entry per member
      const levels = d.list.levels;
      if (levels.size === 0) d.list.scores.forEach((stored, m) => w.str(m).f64(stored).u8(0));
      else d.list.scores.forEach((stored, m) => w.str(m).f64(stored).u8(levels.get(m) ?? 0));
    } else d.list.scores.forEach((stored, m) => w.str(m).f64(stored));
  } else if (h === 'vs') {
    const l = e as LatestEntry;
    w.f64(l.t);
    l.m.forEach((t, m) => w.str(m).f64(t));
  } else {
    const u = e as UserEntry;
    w.f64(u.t).u32(u.recent.size);
    u.recent.forEach((t, m) => w.str(m).f64(t));
    u.bought?.forEach((t, m) => w.str(m).f64(t));
  }
}

/** A visit's window as stored: FORMAT, then per item (oldest first): product, u8 level, f64 last touched. */
export function encodeWindow(items: readonly SessionItem[], w: FieldWriter = new FieldWriter(256)): Buffer {
  writeWindow(items, w);
  return w.end();
}

/** Begins a field in `w` and writes a window into it (encodeWindow's format). */
export function writeWindow(items: readonly SessionItem[], w: FieldWriter): void {
  w.begin();
  for (const i of items) w.str(i.p).u8(i.l).f64(i.t);
}

/** A stored window (binary, or the JSON array of SessionItems an earlier version wrote). */
export function decodeWindow(value: StoredValue): SessionItem[] {
  const r = binaryField(value);
  if (r === null) return jsonOf(value) as SessionItem[];
  const items: SessionItem[] = [];
  while (!r.done) items.push({ p: r.str()!, l: r.u8() as Level, t: r.f64() });
  return items;
}

/** A decayed field as read: the list (members in stored order), its last addition's time, the category (nb). */
export function decodeDecayed(value: StoredValue, withLevels: boolean): { list: StoredList; t: number; category?: string } {
  const items: StoredList['items'] = [];
  const r = binaryField(value);
  if (r === null) {
    // [epoch, t, (nb) category|null, member, stored, (nb) level, …]
    const a = jsonOf(value) as (string | number | null)[];
    const start = withLevels ? 3 : 2;
    const step = withLevels ? 3 : 2;
    for (let i = start; i + step - 1 < a.length; i += step) {
      const level = withLevels ? (a[i + 2] as number) : 0;
      items.push({ item: a[i] as string, stored: a[i + 1] as number, ...(level > 1 ? { level: level as Level } : {}) });
    }
    const category = withLevels && typeof a[2] === 'string' ? a[2] : undefined;
    return { list: { epoch: a[0] as number | null, items }, t: a[1] as number, ...(category !== undefined ? { category } : {}) };
  }
  const epoch = r.f64();
  const t = r.f64();
  const category = withLevels ? r.str() : null;
  while (!r.done) {
    const item = r.str()!;
    const stored = r.f64();
    const level = withLevels ? r.u8() : 0;
    items.push(level > 1 ? { item, stored, level: level as Level } : { item, stored });
  }
  return { list: { epoch: Number.isNaN(epoch) ? null : epoch, items }, t, ...(category !== null ? { category } : {}) };
}

/** Members and their times until the end of the field (or `n` of them). */
function latestMembers(r: FieldReader, n = Infinity): { item: string; stored: number }[] {
  const out: { item: string; stored: number }[] = [];
  for (let i = 0; i < n && !r.done; i++) out.push({ item: r.str()!, stored: r.f64() });
  return out;
}

/** A latest-set field (vs): its members (in stored order) and their latest time. */
export function decodeLatest(value: StoredValue): { items: { item: string; stored: number }[]; t: number } {
  const r = binaryField(value);
  if (r === null) {
    // [t, member, time, …]
    const a = jsonOf(value) as (string | number)[];
    const items: { item: string; stored: number }[] = [];
    for (let i = 1; i + 1 < a.length; i += 2) items.push({ item: a[i] as string, stored: a[i + 1] as number });
    return { items, t: a[0] as number };
  }
  const t = r.f64();
  return { items: latestMembers(r), t };
}

export function decodeUser(value: StoredValue): { recent: { item: string; stored: number }[]; bought: { item: string; stored: number }[]; t: number } {
  const r = binaryField(value);
  if (r === null) {
    // [t, recent count, member, time, … (recent, then bought)]
    const a = jsonOf(value) as (string | number)[];
    const n = a[1] as number;
    const recent: { item: string; stored: number }[] = [];
    const bought: { item: string; stored: number }[] = [];
    for (let i = 2, j = 0; i + 1 < a.length; i += 2, j++) (j < n ? recent : bought).push({ item: a[i] as string, stored: a[i + 1] as number });
    return { recent, bought, t: a[0] as number };
  }
  const t = r.f64();
  const n = r.u32();
  const recent = latestMembers(r, n);
  return { recent, bought: latestMembers(r), t };
}

function decodeEntry(h: PartialHash, value: StoredValue): EntryOf[PartialHash] {
  if (h === 'nb' || h === 'sq' || h === 'tr') {
    const d = decodeDecayed(value, h === 'nb');
    return { list: DecayedList.of(d.list.epoch, d.list.items), t: d.t, ...(d.category !== undefined ? { category: d.category } : {}) };
  }
  if (h === 'vs') {
    const l = decodeLatest(value);
    return { m: new Map(l.items.map((x) => [x.item, x.stored])), t: l.t };
  }
  const u = decodeUser(value);
  return { recent: new Map(u.recent.map((x) => [x.item, x.stored])), bought: u.bought.length > 0 ? new Map(u.bought.map((x) => [x.item, x.stored])) : undefined, t: u.t };
}

// ---- merging: what a read does with the partials of every partition ----

/**
 * The partials of one decayed list summed: each brought to the latest epoch E among them, × 2^((e_p − E)/h)
 * (exact for one partial: × 1), the highest level per member, best first (ZREVRANGE order), the top n.
 */
export function mergeDecayed(parts: readonly StoredList[], halfLifeMs: number, n: number): StoredList {
  let epoch: number | null = null;
  for (const l of parts) if (l.epoch !== null && (epoch === null || l.epoch > epoch)) epoch = l.epoch;
  if (epoch === null) return { epoch: null, items: [] };
  const sums = new Map<string, { item: string; stored: number; level?: Level }>();
  for (const l of parts) {
    if (l.epoch === null) continue;
    const f = l.epoch === epoch ? 1 : Math.pow(2, (l.epoch - epoch) / halfLifeMs);
    for (const x of l.items) {
      const add = f === 1 ? x.stored : x.stored * f;
      const cur = sums.get(x.item);
      if (!cur) sums.set(x.item, { item: x.item, stored: add, ...(x.level !== undefined ? { level: x.level } : {}) });
      else {
        cur.stored += add;
        if (x.level !== undefined && (cur.level === undefined || x.level > cur.level)) cur.level = x.level;
      }
    }
  }
  return { epoch, items: [...sums.values()].sort(byScoreDesc).slice(0, n) };
}

/** The partials of one latest set merged: per member its latest time, newest first (ties: member descending), the newest n. */
export function mergeLatest(parts: readonly (readonly { item: string; stored: number }[])[], n: number): { item: string; stored: number }[] {
  const m = new Map<string, number>();
  for (const l of parts) for (const x of l) if (!(m.get(x.item)! >= x.stored)) m.set(x.item, x.stored);
  return [...m]
    .map(([item, stored]) => ({ item, stored }))
    .sort(byScoreDesc)
    .slice(0, n);
}

/** One product's neighbour partials (nb fields, one per partition, null: none) merged, and its category. */
export function mergeNeighbourFields(values: readonly (StoredValue | null)[], halfLifeMs: number, n: number): { list: StoredList; category?: string } {
  const lists: StoredList[] = [];
  let category: string | undefined;
  let ct = -Infinity;
  for (const v of values) {
    if (v === null) continue;
    const d = decodeDecayed(v, true);
    lists.push(d.list);
    if (d.category !== undefined && d.t > ct) [category, ct] = [d.category, d.t];
  }
  return { list: mergeDecayed(lists, halfLifeMs, n), ...(category !== undefined ? { category } : {}) };
}

/** A rule or trending list's partials merged. */
export function mergeDecayedFields(values: readonly (StoredValue | null)[], halfLifeMs: number, n: number): StoredList {
  return mergeDecayed(
    values.filter((v): v is StoredValue => v !== null).map((v) => decodeDecayed(v, false).list),
    halfLifeMs,
    n,
  );
}

export function mergeLatestFields(values: readonly (StoredValue | null)[], n: number): { item: string; stored: number }[] {
  return mergeLatest(
    values.filter((v): v is StoredValue => v !== null).map((v) => decodeLatest(v).items),
    n,
  );
}

/** A user's partials merged: the userRecent newest products touched, the userBought newest bought. */
export function mergeUserFields(values: readonly (StoredValue | null)[], userRecent: number, userBought: number): UserState {
  const us = values.filter((v): v is StoredValue => v !== null).map(decodeUser);
  const recent = mergeLatest(
    us.map((u) => u.recent),
    userRecent,
  ).map((x) => ({ item: x.item, t: x.stored }));
  const bought = mergeLatest(
    us.map((u) => u.bought),
    userBought,
  ).map((x) => x.item);
  return { recent, bought: new Set(bought) };
}

// ---- the read side over any source of partials ----

/** A field request: these fields of this hash, from every partition. */
export interface FieldRequest {
  hash: PartialHash;
  fields: readonly string[];
}

/** Where a reader finds partials: Redis (one pipelined round trip per call) or partials in memory (tests). */
export interface PartialSource {
  /** Per request, per field, the encoded value in each partition (null: none there). */
  fields(reqs: readonly FieldRequest[]): Promise<(StoredValue | null)[][][]>;
  /** The highest event time any partition applied (null: none). */
  clock(): Promise<number | null>;
  /** Visits' windows (each lives in its own partition). */
  sessions(ids: readonly string[]): Promise<Map<string, SessionItem[]>>;
}

/**
 * RecReader over partials: every read takes the needed fields from every partition and merges them (above).
 * An answer costs at most three round trips: the user (or product) with the clock and the overall trending;
 * the anchors' lists; the anchors' categories' trending (and a visit's kNN windows).
 */
export class PartialReader implements RecReader {
  constructor(
    private readonly source: PartialSource,
    private readonly params: RecParams,
  ) {}

  async clock(): Promise<number | null> {
    return this.source.clock();
  }

  sessions(ids: readonly string[]): Promise<Map<string, SessionItem[]>> {
    return this.source.sessions(ids);
  }

  async neighbours(items: readonly string[], n: number): Promise<Map<string, StoredList>> {
    const [vals] = await this.source.fields([{ hash: 'nb', fields: items }]);
    return new Map(items.map((i, k) => [i, mergeNeighbourFields(vals[k], this.params.coocHalfLifeMs, n).list]));
  }

  async categories(items: readonly string[]): Promise<Map<string, string>> {
    const [vals] = await this.source.fields([{ hash: 'nb', fields: items }]);
    const out = new Map<string, string>();
    items.forEach((i, k) => {
      const c = mergeNeighbourFields(vals[k], this.params.coocHalfLifeMs, 0).category;
      if (c !== undefined) out.set(i, c);
    });
    return out;
  }

  async sequences(items: readonly string[], n: number): Promise<Map<string, StoredList>> {
    const [vals] = await this.source.fields([{ hash: 'sq', fields: items }]);
    return new Map(items.map((i, k) => [i, mergeDecayedFields(vals[k], this.params.coocHalfLifeMs, n)]));
  }

  async postings(item: string, n: number): Promise<StoredList['items']> {
    const [vals] = await this.source.fields([{ hash: 'vs', fields: [item] }]);
    return mergeLatestFields(vals[0], n);
  }

  async trending(category: string | null, n: number): Promise<StoredList> {
    const [vals] = await this.source.fields([{ hash: 'tr', fields: [trendingField(category)] }]);
    return mergeDecayedFields(vals[0], this.params.trendingHalfLifeMs, n);
  }

  async user(userId: string): Promise<UserState> {
    const [vals] = await this.source.fields([{ hash: 'u', fields: [userId] }]);
    return mergeUserFields(vals[0], this.params.userRecent, this.params.userBought);
  }

  /** readContext (store.ts), staged: the same result in up to three round trips. */
  async context(req: ReadRequest): Promise<ReadContext> {
    const p = this.params;
    const first = req.category === undefined ? [] : [req.category];
    const stage1: FieldRequest[] = [{ hash: 'tr', fields: [...first.map(trendingField), trendingField(null)] }];
    stage1.push(req.userId === undefined ? { hash: 'nb', fields: req.productIds ?? [] } : { hash: 'u', fields: [req.userId] });
    const [now, [trVals, second]] = await Promise.all([this.source.clock(), this.source.fields(stage1)]);
    const user: UserState = req.userId === undefined ? { recent: [], bought: new Set() } : mergeUserFields(second[0], p.userRecent, p.userBought);
    user.recent = user.recent.slice(0, req.userRecent);
    const anchors = req.userId === undefined ? (req.productIds ?? []) : user.recent.map((r) => r.item);
    const nbVals = req.userId === undefined ? second : anchors.length > 0 ? (await this.source.fields([{ hash: 'nb', fields: anchors }]))[0] : [];
    const lists = new Map<string, StoredList>();
    const categories = new Map<string, string>();
    anchors.forEach((a, k) => {
      const m = mergeNeighbourFields(nbVals[k], p.coocHalfLifeMs, req.neighbours);
      lists.set(a, m.list);
      if (m.category !== undefined) categories.set(a, m.category);
    });
    const n = req.trending + user.bought.size + anchors.length;
    const read = new Map<string, (StoredValue | null)[]>();
    [...first.map(trendingField), trendingField(null)].forEach((f, k) => read.set(f, trVals[k]));
    const wanted: string[] = [];
    for (const c of [...first, ...anchors.map((a) => categories.get(a)).filter((c): c is string => c !== undefined)]) if (!wanted.includes(c)) wanted.push(c);
    const missing = wanted.map(trendingField).filter((f) => !read.has(f));
    if (missing.length > 0) {
      const [vals] = await this.source.fields([{ hash: 'tr', fields: missing }]);
      missing.forEach((f, k) => read.set(f, vals[k]));
    }
    const trending = new Map<string | null, StoredList>();
    for (const c of wanted) trending.set(c, mergeDecayedFields(read.get(trendingField(c))!, p.trendingHalfLifeMs, n));
    trending.set(null, mergeDecayedFields(read.get(trendingField(null))!, p.trendingHalfLifeMs, n));
    return { now, user, lists, categories, trending };
  }

  /** readSessionContext (store.ts), staged: the same result in up to three round trips. */
  async sessionContext(req: SessionReadRequest): Promise<SessionContext> {
    const p = this.params;
    const [now, windows, [[allVals]]] = await Promise.all([this.source.clock(), this.source.sessions([req.sessionId]), this.source.fields([{ hash: 'tr', fields: [trendingField(null)] }])]);
    const window = windows.get(req.sessionId) ?? [];
    const anchors = [...window]
      .reverse()
      .slice(0, Math.max(req.anchors, 0))
      .map((i) => i.p);
    const knn = req.knnVisits > 0 && req.knnNeighbours > 0;
    const reqs: FieldRequest[] = [{ hash: 'nb', fields: anchors }];
    if (req.sequences > 0) reqs.push({ hash: 'sq', fields: anchors });
    if (knn) reqs.push({ hash: 'vs', fields: anchors });
    const got = anchors.length > 0 ? await this.source.fields(reqs) : reqs.map(() => []);
    const lists = new Map<string, StoredList>();
    const sequences = new Map<string, StoredList>();
    const categories = new Map<string, string>();
    const empty = (): StoredList => ({ epoch: null, items: [] });
    anchors.forEach((a, k) => {
      const m = mergeNeighbourFields(got[0][k], p.coocHalfLifeMs, Math.max(req.neighbours, 0));
      lists.set(a, req.neighbours > 0 ? m.list : empty());
      sequences.set(a, req.sequences > 0 ? mergeDecayedFields(got[1][k], p.coocHalfLifeMs, req.sequences) : empty());
      if (m.category !== undefined) categories.set(a, m.category);
    });
    let best: string[] = [];
    if (knn) {
      const postings = got[req.sequences > 0 ? 2 : 1] ?? [];
      const cand = new Map<string, { n: number; t: number }>();
      anchors.forEach((_a, k) => {
        for (const v of mergeLatestFields(postings[k], req.knnVisits)) {
          if (v.item === req.sessionId) continue;
          const c = cand.get(v.item);
          if (!c) cand.set(v.item, { n: 1, t: v.stored });
          else Object.assign(c, { n: c.n + 1, t: Math.max(c.t, v.stored) });
        }
      });
      best = [...cand]
        .sort((x, y) => y[1].n - x[1].n || y[1].t - x[1].t || (x[0] < y[0] ? -1 : x[0] > y[0] ? 1 : 0))
        .slice(0, req.knnNeighbours)
        .map(([id]) => id);
    }
    const cats: string[] = [];
    for (const a of anchors) {
      const c = categories.get(a);
      if (c !== undefined && !cats.includes(c)) cats.push(c);
    }
    const [ws, trVals] = await Promise.all([
      best.length > 0 ? this.source.sessions(best) : Promise.resolve(new Map<string, SessionItem[]>()),
      cats.length > 0 ? this.source.fields([{ hash: 'tr', fields: cats.map(trendingField) }]).then((r) => r[0]) : Promise.resolve([]),
    ]);
    const visits: SessionContext['visits'] = [];
    for (const id of best) if (ws.has(id)) visits.push({ sessionId: id, items: ws.get(id)! });
    const n = req.trending + window.length;
    const trending = new Map<string | null, StoredList>();
    cats.forEach((c, k) => trending.set(c, mergeDecayedFields(trVals[k], p.trendingHalfLifeMs, n)));
    trending.set(null, mergeDecayedFields(allVals, p.trendingHalfLifeMs, n));
    return { now, window, anchors, lists, sequences, categories, visits, trending };
  }
}

/** A PartialSource over partials in memory, one per partition (the property tests; the Redis store's twin). */
export class MemoryPartialSource implements PartialSource {
  constructor(
    readonly partials: readonly RecPartial[],
    private readonly windows: (ids: readonly string[]) => Map<string, SessionItem[]> = () => new Map(),
  ) {}

  async fields(reqs: readonly FieldRequest[]): Promise<(StoredValue | null)[][][]> {
    return reqs.map((r) => r.fields.map((f) => this.partials.map((p) => p.encoded(r.hash, f))));
  }

  async clock(): Promise<number | null> {
    let c: number | null = null;
    for (const p of this.partials) if (p.clock !== null && (c === null || p.clock > c)) c = p.clock;
    return c;
  }

  async sessions(ids: readonly string[]): Promise<Map<string, SessionItem[]>> {
    return this.windows(ids);
  }
}
