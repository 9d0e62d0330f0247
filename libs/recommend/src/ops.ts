/**
 * The state updates of a batch, as plain data. The planner computes them; a store applies them (in memory,
 * or in Redis in one atomic Lua call together with the partition's fence). Every op is an increment, a max or
 * a set, so the effect of a batch does not depend on the order of its ops except through trimming.
 */
import type { Level } from './params';

/** One product in a visit's recent window: its highest level in the visit and when it was last touched. */
export interface SessionItem {
  p: string;
  l: Level;
  t: number;
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
  /** The product's category. */
  | { op: 'category'; item: string; category: string }
  /** The visit's recent window, replaced whole. */
  | { op: 'session'; sessionId: string; items: SessionItem[] }
  /** The store's clock: the highest event time applied. */
  | { op: 'clock'; t: number };
