/**
 * Reorder buffer: holds events per key and releases them in event-time order as the watermark passes them
 * (docs/semantics.md "Order": logic that needs event-time order per key). With watermark W, an event at ts is
 * released once ts < W — every event before it has been seen — in (ts, arrival) order: ties keep arrival
 * order, so each key's events come out in event-time order. An event whose ts is already below the
 * watermark when it is added cannot be put in order any more: `add` refuses it and returns 'late' (the
 * caller reports it; nothing is dropped silently).
 */
import { TimerQueue } from './timers';

export interface Released<T> {
  key: string;
  ts: number;
  event: T;
}

/** JSON form for a restart (values must themselves be JSON-serialisable). */
export interface ReorderBufferSnapshot<T> {
  watermark: number | null;
  /** Buffered events in release order. */
  events: Released<T>[];
}

export class ReorderBuffer<T> {
  private readonly queue = new TimerQueue<Released<T>>();
  private readonly perKey = new Map<string, number>();
  private wm: number | null = null;

  constructor(snapshot?: ReorderBufferSnapshot<T>) {
    if (snapshot) {
      this.wm = snapshot.watermark;
      for (const e of snapshot.events) this.push({ key: e.key, ts: e.ts, event: e.event });
    }
  }

  get watermark(): number | null {
    return this.wm;
  }

  /** Buffered events (all keys, or one key). */
  size(key?: string): number {
    return key === undefined ? this.queue.size : (this.perKey.get(key) ?? 0);
  }

  /** Buffers the event; 'late' (not buffered) when ts is already below the watermark. */
  add(key: string, ts: number, event: T): 'buffered' | 'late' {
    if (this.wm !== null && ts < this.wm) return 'late';
    this.push({ key, ts, event });
    return 'buffered';
  }

  /** Raises the watermark (never lowers it) and returns the buffered events with ts < watermark, in (ts, arrival) order. */
  advance(watermark: number | null): Released<T>[] {
    if (watermark === null || (this.wm !== null && watermark <= this.wm)) return [];
    this.wm = watermark;
    const out = this.queue.popBefore(watermark).map((t) => t.value);
    for (const e of out) {
      const n = this.perKey.get(e.key)! - 1;
      if (n === 0) this.perKey.delete(e.key);
      else this.perKey.set(e.key, n);
    }
    return out;
  }

  snapshot(): ReorderBufferSnapshot<T> {
    return { watermark: this.wm, events: this.queue.toSortedArray().map((t) => ({ ...t.value })) };
  }

  private push(e: Released<T>): void {
    this.queue.register(e.ts, e);
    this.perKey.set(e.key, (this.perKey.get(e.key) ?? 0) + 1);
  }
}
