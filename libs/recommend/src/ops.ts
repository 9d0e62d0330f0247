/**
 * The state updates of a batch, as plain data. The planner computes them; a store applies them (in memory,
 * or in Redis in one atomic Lua call together with the partition's fence). Every op is an increment, a max or
 * a set, so the effect of a batch does not depend on the order of its ops except through trimming.
 */
import type { Level } from './params';

/**
 * One product in a visit's recent window: its highest level in the visit and when it was last touched. Never
 * changed in place (a touched product gets a new item), so windows share items.
 */
export interface SessionItem {
  readonly p: string;
  readonly l: Level;
  readonly t: number;
}

export type RecOp =
  /** Co-occurrence: neighbours(a)[b] += w at time t (forward-decayed); the pair's level is the max seen. */
  | { op: 'pair'; a: string; b: string; w: number; t: number; level: Level }
  /** Sequential rule: sequences(a)[b] += w at time t (forward-decayed, co-occurrence half-life); a = b: a's own count. */
  | { op: 'seq'; a: string; b: string; w: number; t: number }
  /** Session-kNN posting list: the visit touched `item` at t (keeps the latest; the oldest beyond knnVisits are trimmed). */
  | { op: 'visit'; item: string; sessionId: string; t: number }
  /** Trending overall (and in `category`) += w at time t. */
  | { op: 'trend'; item: string; category?: string; w: number; t: number }
  /** The user touched `item` at t (keeps the latest time; the oldest items beyond userRecent are trimmed). */
  | { op: 'seen'; user: string; item: string; t: number }
  /** The user bought `item` at t (keeps the latest time; the oldest beyond userBought are trimmed). */
  | { op: 'bought'; user: string; item: string; t: number }
  /** The product's category, seen at t. */
  | { op: 'category'; item: string; category: string; t: number }
  /** The visit's recent window, replaced whole. */
  | { op: 'session'; sessionId: string; items: SessionItem[] }
  /** The store's clock: the highest event time applied. */
  | { op: 'clock'; t: number };

/**
 * Where the planner's ops go (planner.ts `planInto`), one method per kind: a partition's partials take them
 * as they come, with no op object in between (partial.ts RecPartial); OpList keeps them as RecOps (tests, the
 * reference store, the evaluation).
 */
export interface OpSink {
  onPair(a: string, b: string, w: number, t: number, level: Level): void;
  onSeq(a: string, b: string, w: number, t: number): void;
  onVisit(item: string, sessionId: string, t: number): void;
  onTrend(item: string, category: string | undefined, w: number, t: number): void;
  onSeen(user: string, item: string, t: number): void;
  onBought(user: string, item: string, t: number): void;
  onCategory(item: string, category: string, t: number): void;
  onSession(sessionId: string, items: SessionItem[]): void;
  onClock(t: number): void;
}

/**
 * What a store gives the planner to write a partition through (planner.ts `planInto`): the ops go into the
 * partition's state, and the store's next checkpoint writes what they changed.
 */
export interface RecWriter extends OpSink {
  /** The visits' windows planned since the last checkpoint (memory is at least as new as the store for these). */
  readonly windows: ReadonlyMap<string, SessionItem[]>;
  /** Nothing planned since the last checkpoint. */
  readonly empty: boolean;
}

/** An OpSink that keeps the ops, in order. */
export class OpList implements OpSink {
  readonly ops: RecOp[] = [];
  onPair(a: string, b: string, w: number, t: number, level: Level): void {
    this.ops.push({ op: 'pair', a, b, w, t, level });
  }
  onSeq(a: string, b: string, w: number, t: number): void {
    this.ops.push({ op: 'seq', a, b, w, t });
  }
  onVisit(item: string, sessionId: string, t: number): void {
    this.ops.push({ op: 'visit', item, sessionId, t });
  }
  onTrend(item: string, category: string | undefined, w: number, t: number): void {
    this.ops.push(category === undefined ? { op: 'trend', item, w, t } : { op: 'trend', item, category, w, t });
  }
  onSeen(user: string, item: string, t: number): void {
    this.ops.push({ op: 'seen', user, item, t });
  }
  onBought(user: string, item: string, t: number): void {
    this.ops.push({ op: 'bought', user, item, t });
  }
  onCategory(item: string, category: string, t: number): void {
    this.ops.push({ op: 'category', item, category, t });
  }
  onSession(sessionId: string, items: SessionItem[]): void {
    this.ops.push({ op: 'session', sessionId, items });
  }
  onClock(t: number): void {
    this.ops.push({ op: 'clock', t });
  }
}

/** Sends ops to a sink, in order. */
export function replay(ops: readonly RecOp[], sink: OpSink): void {
  for (const o of ops) {
    switch (o.op) {
      case 'pair':
        sink.onPair(o.a, o.b, o.w, o.t, o.level);
        break;
      case 'seq':
        sink.onSeq(o.a, o.b, o.w, o.t);
        break;
      case 'visit':
        sink.onVisit(o.item, o.sessionId, o.t);
        break;
      case 'trend':
        sink.onTrend(o.item, o.category, o.w, o.t);
        break;
      case 'seen':
        sink.onSeen(o.user, o.item, o.t);
        break;
      case 'bought':
        sink.onBought(o.user, o.item, o.t);
        break;
      case 'category':
        sink.onCategory(o.item, o.category, o.t);
        break;
      case 'session':
        sink.onSession(o.sessionId, o.items);
        break;
      case 'clock':
        sink.onClock(o.t);
        break;
      default:
        throw new Error(`unknown op ${JSON.stringify(o satisfies never)}`);
    }
  }
}
