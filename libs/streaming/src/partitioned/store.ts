/**
 * Where the partitioned operator keeps its durable state (docs/checkpoints.md): an interface with two
 * implementations, in memory (this file: tests, the TopologyTestDriver) and Redis (the aggregation
 * service's, checked against this one). Keys are raw here; the Redis one encodes them.
 *
 * Per partition (one Redis Cluster slot): the checkpoint (sequence, watermark state, the operator watermark
 * and purge horizon it was given, the outbox), pane cells, sessions, join states, re-fire marks, join due
 * entries and the session results. Global (the firer's): what each metric fired through, window results
 * (with their versions), join emissions.
 */
import { maxNullable } from '../watermark';

export interface CellRef {
  metric: string;
  pane: number;
  key: string;
  from: number | null;
}

/**
 * A stored cell is its base value and, for accumulators that grow by members (top-K counts, funnel sessions,
 * HyperLogLogs), up to MAX_CELL_PARTS parts: what changed at a checkpoint, written beside the base instead of
 * the whole accumulator again (docs/checkpoints.md, "Cells in parts"). The cell's value is the merge of its
 * base and its parts. `part`: 0 (or absent) the base, 1… a part.
 */
export interface StoredCell extends CellRef {
  value: string;
  part?: number;
}

export interface CellWrite extends CellRef {
  /** Encoded accumulator; null deletes the cell (its parts too). */
  value: string | null;
  /** Mark the cell for re-firing when the stored operator watermark is >= this (its first window's end). */
  firstEnd: number;
  /** 0 (or absent): the base; 1…MAX_CELL_PARTS: a part, written beside the base. */
  part?: number;
  /** With the base: its parts 1…dropParts are deleted (they are merged into it). */
  dropParts?: number;
}

/** Parts a cell has at most beside its base. */
export const MAX_CELL_PARTS = 16;

/** The parts (1…n) a cell write deletes: all of them with the cell, those a base written whole replaces. */
export function partsDeleted(c: CellWrite): number {
  return c.value === null ? MAX_CELL_PARTS : (c.part ?? 0) === 0 ? (c.dropParts ?? 0) : 0;
}

export interface KeyedWrite {
  metric: string;
  key: string;
  /** Encoded state; null deletes it. */
  value: string | null;
}

export interface JoinWrite extends KeyedWrite {
  /** When the firer must look at the key (kept at the earliest). */
  due: number | null;
}

export interface StoredResult {
  metric: string;
  key: string;
  windowStart: number;
  windowEnd: number;
  /** The result JSON (WindowResultDto); null deletes it. */
  value: string | null;
}

export interface PartitionCheckpoint {
  expectedSeq: number;
  seq: number;
  /**
   * The number of checkpoints the stored one is expected to be (written as this + 1). Checkpoints without new
   * events keep the sequence (they fire sessions, purge): a failover that lost one of them is a conflict too.
   */
  expectedEpoch: number;
  /** The writer's fencing token (group assignment); a store refuses one below the partition's current token. */
  token?: number;
  maxTs: number | null;
  lastEventAt: number;
  /** The operator watermark this partition decided lateness with since its last checkpoint. */
  seenWatermark: number | null;
  cells: CellWrite[];
  /** Panes dropped whole (past their lateness). */
  dropPanes: { metric: string; pane: number }[];
  sessions: KeyedWrite[];
  joins: JoinWrite[];
  /** Session results fired at this checkpoint (and superseded ones deleted). */
  results: StoredResult[];
  /** Results to publish once this checkpoint is durable (JSON list; '' none). */
  outbox: string;
}

/**
 * `ok` with `durable: false`: written, but its replicas did not acknowledge it in time (Redis Cluster's WAIT):
 * the next checkpoint is fenced on it, but what it covers is not acknowledged until a later one is durable.
 */
export type CheckpointReply = { status: 'ok'; watermark: number | null; horizon: number | null; durable?: false } | { status: 'conflict'; seq: number } | { status: 'fenced'; token: number };

export interface PartitionSnapshot {
  seq: number;
  /** Checkpoints written so far (PartitionCheckpoint.expectedEpoch). */
  epoch: number;
  maxTs: number | null;
  lastEventAt: number;
  watermark: number | null;
  horizon: number | null;
  outbox: string;
  cells: StoredCell[];
  sessions: { metric: string; key: string; value: string }[];
  joins: { metric: string; key: string; value: string }[];
}

export interface PartitionStatus {
  partition: number;
  seq: number;
  maxTs: number | null;
  lastEventAt: number;
  seenWatermark: number | null;
  /** The operator watermark as last raised into this partition's record (its re-fire marks go by it). */
  watermark: number | null;
  /**
   * Set when a raise found the partition's record below the watermark every partition had been raised to: its
   * slot lost writes in a failover, so cells it wrote meanwhile may lack their re-fire marks. The firer
   * merges again every fired window ending after this, then clears it (`clearRefireFrom`).
   */
  refireFrom: number | null;
}

/** `refireFrom` of a partition record that had no watermark at all: every window fired so far. */
export const REFIRE_ALL = Number.MIN_SAFE_INTEGER;

export interface Mark extends CellRef {
  /** Opaque token: the mark is cleared only if unchanged. */
  token: string;
}

export interface JoinDue {
  metric: string;
  key: string;
  due: number;
}

/** The durable state of the partitioned operator. Every method is one round trip or a few. */
export interface AggregationStore {
  // ---- a partition's own (one slot) ----
  restore(partition: number): Promise<PartitionSnapshot>;
  checkpoint(partition: number, cp: PartitionCheckpoint): Promise<CheckpointReply>;

  // ---- the firer ----
  statuses(partitions: number): Promise<PartitionStatus[]>;
  /** The stored operator watermark (global), null before the first. */
  watermark(): Promise<number | null>;
  /**
   * Raises the operator watermark (global, and in every partition's checkpoint). Never lowers it. `expected`:
   * the global watermark before (the value every partition was raised to already); a partition found below it
   * lost writes in a failover, and gets its `refireFrom` (the lower of the one it has and its watermark).
   */
  raiseWatermark(partitions: number, watermark: number, expected?: number | null): Promise<void>;
  /** Clears a partition's `refireFrom` if it still holds the value read (the firer merged those windows again). */
  clearRefireFrom(partition: number, from: number): Promise<void>;
  /** Raises the purge horizon in every partition's checkpoint. */
  raiseHorizon(partitions: number, horizon: number): Promise<void>;
  horizon(): Promise<number | null>;
  /** Panes of `metric` a partition holds with start in [from, to). */
  panes(partition: number, metric: string, from: number, to: number): Promise<number[]>;
  /** Every cell of the given panes of a partition (bases and parts). */
  readPanes(partition: number, metric: string, panes: readonly number[]): Promise<StoredCell[]>;
  /** The cells of one key in the given panes of a partition (any `from`; bases and parts). */
  readKeyCells(partition: number, metric: string, key: string, panes: readonly number[]): Promise<StoredCell[]>;
  marks(partition: number): Promise<Mark[]>;
  clearMarks(partition: number, marks: readonly Mark[]): Promise<void>;
  joinDue(partition: number, upTo: number): Promise<JoinDue[]>;
  /** Clears due entries still at the time read; `reschedule` moves one (if still at that time) instead. */
  settleJoinDue(partition: number, done: readonly JoinDue[], reschedule: readonly { entry: JoinDue; due: number }[]): Promise<void>;
  readJoins(partition: number, metric: string, keys: readonly string[]): Promise<(string | null)[]>;
  firedThrough(metric: string): Promise<number | null>;
  /** What every metric fired through (one read a round). */
  firedThroughAll(): Promise<Map<string, number>>;
  setFiredThrough(metric: string, end: number): Promise<void>;
  /** Window results published by the firer (for versions and queries). */
  readResults(metric: string, refs: readonly { key: string; windowStart: number; windowEnd: number }[]): Promise<(string | null)[]>;
  writeResults(results: readonly StoredResult[]): Promise<void>;
  /** Join emissions per key (the last version, status and left). */
  readEmitted(metric: string, keys: readonly string[]): Promise<(string | null)[]>;
  writeEmitted(metric: string, entries: readonly { key: string; value: string }[]): Promise<void>;
  /** Forgets window results (and join emissions) of windows starting before `before`. */
  purgeResults(metrics: readonly string[], before: number): Promise<void>;
}

const cellId = (c: CellRef) => `${c.metric}\u0000${c.pane}\u0000${c.from}\u0000${c.key}`;
const partId = (c: CellRef, part: number) => `${cellId(c)}\u0000${part}`;
const keyId = (metric: string, key: string) => `${metric}\u0000${key}`;
const resultId = (r: { metric?: string; key: string; windowStart: number; windowEnd: number }, metric?: string) => `${metric ?? r.metric}\u0000${r.key}\u0000${r.windowStart}\u0000${r.windowEnd}`;

interface MemoryPartition {
  /** Has a checkpoint (even one of sequence 0). */
  written: boolean;
  seq: number;
  epoch: number;
  maxTs: number | null;
  lastEventAt: number;
  seen: number | null;
  watermark: number | null;
  horizon: number | null;
  refireFrom: number | null;
  outbox: string;
  /** By cell and part (cellId + part). */
  cells: Map<string, StoredCell>;
  sessions: Map<string, { metric: string; key: string; value: string }>;
  joins: Map<string, { metric: string; key: string; value: string }>;
  marks: Map<string, Mark>;
  due: Map<string, JoinDue>;
  results: Map<string, StoredResult>;
}

/** The in-memory store: the same contract as the Redis one, for tests and the TopologyTestDriver. */
export class MemoryAggregationStore implements AggregationStore {
  private readonly parts = new Map<number, MemoryPartition>();
  private wm: number | null = null;
  private hz: number | null = null;
  private markSeq = 0;
  private readonly fired = new Map<string, number>();
  private readonly results = new Map<string, StoredResult>();
  private readonly emitted = new Map<string, string>();

  private part(p: number): MemoryPartition {
    let s = this.parts.get(p);
    if (!s) {
      s = { written: false, seq: 0, epoch: 0, maxTs: null, lastEventAt: 0, seen: null, watermark: this.wm, horizon: this.hz, refireFrom: null, outbox: '', cells: new Map(), sessions: new Map(), joins: new Map(), marks: new Map(), due: new Map(), results: new Map() };
      this.parts.set(p, s);
    }
    return s;
  }

  /** Session results a partition stored (queries). */
  partitionResults(p: number): StoredResult[] {
    return [...this.part(p).results.values()];
  }

  allResults(): StoredResult[] {
    return [...this.results.values()];
  }

  /**
   * Test support for a Redis failover that loses a slot's last writes (a replica promoted before it caught
   * up): a copy of a partition's slot now, and `resetPartition` puts it back later.
   */
  copyPartition(p: number): unknown {
    return structuredClone(this.part(p));
  }

  resetPartition(p: number, copy: unknown): void {
    this.parts.set(p, structuredClone(copy) as MemoryPartition);
  }

  async restore(p: number): Promise<PartitionSnapshot> {
    const s = this.part(p);
    return {
      seq: s.seq,
      epoch: s.epoch,
      maxTs: s.maxTs,
      lastEventAt: s.lastEventAt,
      // At least the global purge horizon (the partition's slot lost the firer's last raises in a failover):
      // other partitions may have dropped what is past it, so a replayed event for it must go late.
      watermark: maxNullable(s.watermark, this.hz),
      horizon: maxNullable(s.horizon, this.hz),
      outbox: s.outbox,
      cells: [...s.cells.values()].map((c) => ({ ...c })),
      sessions: [...s.sessions.values()].map((c) => ({ ...c })),
      joins: [...s.joins.values()].map((c) => ({ ...c })),
    };
  }

  async checkpoint(p: number, cp: PartitionCheckpoint): Promise<CheckpointReply> {
    const s = this.part(p);
    if (s.seq !== cp.expectedSeq || s.epoch !== cp.expectedEpoch) return { status: 'conflict', seq: s.seq };
    s.written = true;
    s.seq = cp.seq;
    s.epoch = cp.expectedEpoch + 1;
    s.maxTs = cp.maxTs;
    s.lastEventAt = cp.lastEventAt;
    s.seen = cp.seenWatermark;
    s.outbox = cp.outbox;
    for (const c of cp.cells) {
      const id = cellId(c);
      const part = c.part ?? 0;
      if (part < 0 || part > MAX_CELL_PARTS || !Number.isInteger(part)) throw new RangeError(`cell part ${part} out of range`);
      if (c.value === null) s.cells.delete(partId(c, part));
      else s.cells.set(partId(c, part), { metric: c.metric, pane: c.pane, key: c.key, from: c.from, value: c.value, ...(part > 0 ? { part } : {}) });
      for (let k = 1, n = partsDeleted(c); k <= n; k++) s.cells.delete(partId(c, k));
      if (s.watermark !== null && c.firstEnd <= s.watermark) s.marks.set(id, { metric: c.metric, pane: c.pane, key: c.key, from: c.from, token: String(++this.markSeq) });
    }
    for (const d of cp.dropPanes) {
      for (const [id, c] of s.cells) if (c.metric === d.metric && c.pane === d.pane) s.cells.delete(id);
    }
    for (const w of cp.sessions) {
      if (w.value === null) s.sessions.delete(keyId(w.metric, w.key));
      else s.sessions.set(keyId(w.metric, w.key), { metric: w.metric, key: w.key, value: w.value });
    }
    for (const w of cp.joins) {
      const id = keyId(w.metric, w.key);
      if (w.value === null) s.joins.delete(id);
      else s.joins.set(id, { metric: w.metric, key: w.key, value: w.value });
      if (w.value === null) s.due.delete(id);
      else if (w.due !== null) {
        const cur = s.due.get(id);
        if (!cur || w.due < cur.due) s.due.set(id, { metric: w.metric, key: w.key, due: w.due });
      }
    }
    for (const r of cp.results) {
      if (r.value === null) s.results.delete(resultId(r));
      else s.results.set(resultId(r), { ...r });
    }
    return { status: 'ok', watermark: s.watermark, horizon: s.horizon };
  }

  async statuses(partitions: number): Promise<PartitionStatus[]> {
    const out: PartitionStatus[] = [];
    for (let p = 0; p < partitions; p++) {
      const s = this.parts.get(p);
      if (s && s.written) out.push({ partition: p, seq: s.seq, maxTs: s.maxTs, lastEventAt: s.lastEventAt, seenWatermark: s.seen, watermark: s.watermark, refireFrom: s.refireFrom });
    }
    return out;
  }

  async watermark(): Promise<number | null> {
    return this.wm;
  }

  async raiseWatermark(partitions: number, watermark: number, expected: number | null = null): Promise<void> {
    for (let p = 0; p < partitions; p++) {
      const s = this.part(p);
      if (expected !== null && (s.watermark === null || s.watermark < expected)) s.refireFrom = Math.min(s.refireFrom ?? Infinity, s.watermark ?? REFIRE_ALL);
      if (s.watermark === null || watermark > s.watermark) s.watermark = watermark;
    }
    if (this.wm === null || watermark > this.wm) this.wm = watermark;
  }

  async clearRefireFrom(p: number, from: number): Promise<void> {
    const s = this.part(p);
    if (s.refireFrom === from) s.refireFrom = null;
  }

  async raiseHorizon(partitions: number, horizon: number): Promise<void> {
    if (this.hz === null || horizon > this.hz) this.hz = horizon;
    for (let p = 0; p < partitions; p++) {
      const s = this.part(p);
      if (s.horizon === null || horizon > s.horizon) s.horizon = horizon;
    }
  }

  async horizon(): Promise<number | null> {
    return this.hz;
  }

  async panes(p: number, metric: string, from: number, to: number): Promise<number[]> {
    const out = new Set<number>();
    for (const c of this.part(p).cells.values()) if (c.metric === metric && c.pane >= from && c.pane < to) out.add(c.pane);
    return [...out].sort((a, b) => a - b);
  }

  async readPanes(p: number, metric: string, panes: readonly number[]): Promise<StoredCell[]> {
    const want = new Set(panes);
    return [...this.part(p).cells.values()].filter((c) => c.metric === metric && want.has(c.pane)).map((c) => ({ ...c }));
  }

  async readKeyCells(p: number, metric: string, key: string, panes: readonly number[]): Promise<StoredCell[]> {
    return (await this.readPanes(p, metric, panes)).filter((c) => c.key === key);
  }

  async marks(p: number): Promise<Mark[]> {
    return [...this.part(p).marks.values()].map((m) => ({ ...m }));
  }

  async clearMarks(p: number, marks: readonly Mark[]): Promise<void> {
    const s = this.part(p);
    for (const m of marks) {
      const id = cellId(m);
      if (s.marks.get(id)?.token === m.token) s.marks.delete(id);
    }
  }

  async joinDue(p: number, upTo: number): Promise<JoinDue[]> {
    return [...this.part(p).due.values()].filter((d) => d.due <= upTo).map((d) => ({ ...d }));
  }

  async settleJoinDue(p: number, done: readonly JoinDue[], reschedule: readonly { entry: JoinDue; due: number }[]): Promise<void> {
    const s = this.part(p);
    for (const d of done) {
      const id = keyId(d.metric, d.key);
      if (s.due.get(id)?.due === d.due) s.due.delete(id);
    }
    for (const r of reschedule) {
      const id = keyId(r.entry.metric, r.entry.key);
      if (s.due.get(id)?.due === r.entry.due) s.due.set(id, { ...r.entry, due: r.due });
    }
  }

  async readJoins(p: number, metric: string, keys: readonly string[]): Promise<(string | null)[]> {
    const s = this.part(p);
    return keys.map((k) => s.joins.get(keyId(metric, k))?.value ?? null);
  }

  async firedThrough(metric: string): Promise<number | null> {
    return this.fired.get(metric) ?? null;
  }

  async firedThroughAll(): Promise<Map<string, number>> {
    return new Map(this.fired);
  }

  async setFiredThrough(metric: string, end: number): Promise<void> {
    if ((this.fired.get(metric) ?? -Infinity) < end) this.fired.set(metric, end);
  }

  async readResults(metric: string, refs: readonly { key: string; windowStart: number; windowEnd: number }[]): Promise<(string | null)[]> {
    return refs.map((r) => this.results.get(resultId(r, metric))?.value ?? null);
  }

  async writeResults(results: readonly StoredResult[]): Promise<void> {
    for (const r of results) {
      if (r.value === null) this.results.delete(resultId(r));
      else this.results.set(resultId(r), { ...r });
    }
  }

  async readEmitted(metric: string, keys: readonly string[]): Promise<(string | null)[]> {
    return keys.map((k) => this.emitted.get(keyId(metric, k)) ?? null);
  }

  async writeEmitted(metric: string, entries: readonly { key: string; value: string }[]): Promise<void> {
    for (const e of entries) this.emitted.set(keyId(metric, e.key), e.value);
  }

  async purgeResults(metrics: readonly string[], before: number): Promise<void> {
    const names = new Set(metrics);
    for (const [id, r] of this.results) {
      if (!names.has(r.metric) || r.windowStart >= before) continue;
      this.results.delete(id);
      this.emitted.delete(keyId(r.metric, r.key));
    }
  }
}
