/**
 * Event-time watermarks (docs/semantics.md "Event time and watermarks").
 *
 * Meaning: a watermark W says "every event with ts < W has been seen" (events at ts >= W may still come).
 * So the window [start, end) is complete — and fires — when W >= end. We do NOT subtract Flink's extra
 * 1 ms: Flink's watermark means "ts <= W seen" and fires at W >= end - 1; ours is the same instant, one
 * millisecond higher, and reads without the -1 everywhere.
 *
 * - Per partition: watermark = highest ts seen − maxOutOfOrderness (an event whose ts is at most
 *   maxOutOfOrderness below the highest seen is never late).
 * - Operator watermark: the minimum over the partitions that are not idle. A partition is idle when no event
 *   came for longer than idleTimeout (now − lastActiveAt > idleTimeout). A registered partition that has
 *   seen no event yet holds the watermark back (like a Flink input without a watermark) until it is idle.
 * - Every partition idle: the watermark is flushed to the highest partition watermark (Flink's valve does the
 *   same) and, with idleAdvance = 'wallclock', to max(that, now − maxOutOfOrderness).
 * - `null` until the first event. Never backwards: the result is max(previous, candidate), also after a
 *   restart from a snapshot (the snapshot keeps the last operator watermark).
 *
 * No clock of its own: `now` (processing time, epoch ms) is always an argument.
 */
export type IdleAdvance = 'wallclock' | 'off';

export interface WatermarkOptions {
  /** Bounded out-of-orderness, ms (default 5000). */
  maxOutOfOrdernessMs?: number;
  /** A partition with no event for longer than this is skipped, ms (default 10000). */
  idleTimeoutMs?: number;
  /** When every partition is idle: 'wallclock' advances with `now`, 'off' does not (default 'off', safe for replays). */
  idleAdvance?: IdleAdvance;
}

export interface ResolvedWatermarkOptions {
  maxOutOfOrdernessMs: number;
  idleTimeoutMs: number;
  idleAdvance: IdleAdvance;
}

export const DEFAULT_WATERMARK_OPTIONS: ResolvedWatermarkOptions = {
  maxOutOfOrdernessMs: 5_000,
  idleTimeoutMs: 10_000,
  idleAdvance: 'off',
};

export function resolveWatermarkOptions(o: WatermarkOptions = {}): ResolvedWatermarkOptions {
  const r: ResolvedWatermarkOptions = {
    maxOutOfOrdernessMs: o.maxOutOfOrdernessMs ?? DEFAULT_WATERMARK_OPTIONS.maxOutOfOrdernessMs,
    idleTimeoutMs: o.idleTimeoutMs ?? DEFAULT_WATERMARK_OPTIONS.idleTimeoutMs,
    idleAdvance: o.idleAdvance ?? DEFAULT_WATERMARK_OPTIONS.idleAdvance,
  };
  if (!(Number.isFinite(r.maxOutOfOrdernessMs) && r.maxOutOfOrdernessMs >= 0)) throw new RangeError(`maxOutOfOrdernessMs must be >= 0 (got ${r.maxOutOfOrdernessMs})`);
  if (!(Number.isFinite(r.idleTimeoutMs) && r.idleTimeoutMs >= 0)) throw new RangeError(`idleTimeoutMs must be >= 0 (got ${r.idleTimeoutMs})`);
  if (r.idleAdvance !== 'wallclock' && r.idleAdvance !== 'off') throw new RangeError(`idleAdvance must be 'wallclock' or 'off' (got ${String(r.idleAdvance)})`);
  return r;
}

/** Flink's BoundedOutOfOrdernessWatermarks for one partition: two lines of logic. */
export class BoundedOutOfOrdernessWatermarks {
  private maxTs: number | null = null;

  constructor(readonly maxOutOfOrdernessMs: number) {}

  onEvent(ts: number): void {
    if (this.maxTs === null || ts > this.maxTs) this.maxTs = ts;
  }

  currentWatermark(): number | null {
    return this.maxTs === null ? null : this.maxTs - this.maxOutOfOrdernessMs;
  }
}

/** One partition's part of the state. `maxTs` null: registered, no event yet. */
export interface PartitionWatermarkState {
  maxTs: number | null;
  /** Processing time (epoch ms) of the partition's last event or registration. */
  lastActiveAt: number;
}

/** JSON-serialisable state of a tracker: what a restart needs to resume. */
export interface WatermarkState {
  partitions: Record<string, PartitionWatermarkState>;
  /** The last operator watermark emitted; the floor after a restart. */
  watermark: number | null;
}

export function emptyWatermarkState(): WatermarkState {
  return { partitions: {}, watermark: null };
}

export function cloneWatermarkState(s: WatermarkState): WatermarkState {
  const partitions: Record<string, PartitionWatermarkState> = {};
  for (const [p, v] of Object.entries(s.partitions)) partitions[p] = { maxTs: v.maxTs, lastActiveAt: v.lastActiveAt };
  return { partitions, watermark: s.watermark };
}

function isWatermarkState(s: WatermarkState | readonly WatermarkState[]): s is WatermarkState {
  return !Array.isArray(s);
}

/** The larger of two optional numbers (null: none). */
export const maxNullable = (a: number | null, b: number | null): number | null => (a === null ? b : b === null ? a : Math.max(a, b));

/** Per-partition tracking and the operator watermark. */
export class WatermarkTracker {
  readonly options: ResolvedWatermarkOptions;
  private readonly partitions = new Map<string, PartitionWatermarkState>();
  private current: number | null = null;

  constructor(options: WatermarkOptions = {}, state?: WatermarkState) {
    this.options = resolveWatermarkOptions(options);
    if (state) {
      for (const [p, v] of Object.entries(state.partitions)) this.partitions.set(p, { maxTs: v.maxTs, lastActiveAt: v.lastActiveAt });
      this.current = state.watermark;
    }
  }

  /**
   * Resumes from a snapshot after a restart: partitions, maxima and the operator watermark come back;
   * every partition counts as active from `now` (the old processing times would make them all look idle).
   * Several snapshots (e.g. one per partition, stored with each partition's batches) may be given: each
   * partition keeps its highest maxTs and the floor is the highest watermark.
   */
  static restore(states: WatermarkState | readonly WatermarkState[], options: WatermarkOptions, now: number): WatermarkTracker {
    const t = new WatermarkTracker(options);
    const list: readonly WatermarkState[] = isWatermarkState(states) ? [states] : states;
    for (const s of list) {
      for (const [p, v] of Object.entries(s.partitions)) {
        const prev = t.partitions.get(p);
        t.partitions.set(p, { maxTs: maxNullable(prev?.maxTs ?? null, v.maxTs), lastActiveAt: now });
      }
      t.current = maxNullable(t.current, s.watermark);
    }
    return t;
  }

  /** Registers a partition before its first event: it holds the watermark back until it sends or goes idle. */
  addPartition(partition: string | number, now: number): void {
    const p = String(partition);
    if (!this.partitions.has(p)) this.partitions.set(p, { maxTs: null, lastActiveAt: now });
  }

  /**
   * An event of `partition` with event time `ts`, seen at processing time `now`. Returns true when the
   * partition's state changed (new partition, higher maxTs or later activity): only then can advance(now) move.
   */
  onEvent(partition: string | number, ts: number, now: number): boolean {
    if (!Number.isFinite(ts)) throw new RangeError(`event time must be a finite number (got ${ts})`);
    const p = typeof partition === 'string' ? partition : String(partition);
    const s = this.partitions.get(p);
    if (!s) {
      this.partitions.set(p, { maxTs: ts, lastActiveAt: now });
      return true;
    }
    let changed = false;
    if (s.maxTs === null || ts > s.maxTs) {
      s.maxTs = ts;
      changed = true;
    }
    if (now > s.lastActiveAt) {
      s.lastActiveAt = now;
      changed = true;
    }
    return changed;
  }

  /** Idle: no event for longer than idleTimeout. */
  isIdle(partition: string | number, now: number): boolean {
    const s = this.partitions.get(String(partition));
    return s !== undefined && now - s.lastActiveAt > this.options.idleTimeoutMs;
  }

  /** Recomputes the operator watermark at processing time `now` and returns it (never lower than before). */
  advance(now: number): number | null {
    const bound = this.options.maxOutOfOrdernessMs;
    const idleTimeout = this.options.idleTimeoutMs;
    let activeMin: number | null = null;
    let anyActive = false;
    let blocked = false;
    let highest: number | null = null;
    for (const s of this.partitions.values()) {
      if (s.maxTs !== null && (highest === null || s.maxTs > highest)) highest = s.maxTs;
      if (now - s.lastActiveAt > idleTimeout) continue;
      anyActive = true;
      if (s.maxTs === null) blocked = true;
      else if (activeMin === null || s.maxTs < activeMin) activeMin = s.maxTs;
    }
    let candidate: number | null;
    if (highest === null) candidate = null; // no event yet
    else if (anyActive) candidate = blocked || activeMin === null ? null : activeMin - bound;
    else {
      candidate = highest - bound;
      if (this.options.idleAdvance === 'wallclock') candidate = Math.max(candidate, now - bound);
    }
    this.current = maxNullable(this.current, candidate);
    return this.current;
  }

  /** An external watermark (e.g. a test harness, or a floor from elsewhere): raises it, never lowers it. */
  advanceTo(watermark: number): number | null {
    this.current = maxNullable(this.current, watermark);
    return this.current;
  }

  /** The last computed operator watermark (null before any event). */
  get watermark(): number | null {
    return this.current;
  }

  /** One partition's watermark (maxTs − maxOutOfOrderness), null if unknown or no event yet. */
  partitionWatermark(partition: string | number): number | null {
    const s = this.partitions.get(String(partition));
    return s?.maxTs == null ? null : s.maxTs - this.options.maxOutOfOrdernessMs;
  }

  /** Every partition's watermark, for `GET /v1/watermark` (partitions without an event are left out). */
  partitionWatermarks(): Record<string, number> {
    const out: Record<string, number> = {};
    for (const [p, s] of this.partitions) if (s.maxTs !== null) out[p] = s.maxTs - this.options.maxOutOfOrdernessMs;
    return out;
  }

  /** A JSON-serialisable deep copy of the state. */
  snapshot(): WatermarkState {
    const partitions: Record<string, PartitionWatermarkState> = {};
    for (const [p, s] of this.partitions) partitions[p] = { maxTs: s.maxTs, lastActiveAt: s.lastActiveAt };
    return { partitions, watermark: this.current };
  }
}
