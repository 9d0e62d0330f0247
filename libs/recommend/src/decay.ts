/**
 * Exponential time decay in event time, the forward-decay way (Cormode et al., "Forward decay", ICDE 2009):
 * an interaction of weight w at time t is stored as w · 2^((t − e)/h) relative to an epoch e, so adding one
 * never needs the others to be decayed first, and the value of a whole list at any time `now` is
 * stored · 2^((e − now)/h) — one factor for every member, so the ranking needs no scan and no clock.
 *
 * Renormalisation: the stored numbers grow by 2 per half-life after e. Each list keeps its own epoch; when an
 * interaction arrives more than REBASE_HALF_LIVES half-lives after it, the list (bounded: top-N) is rescaled
 * once to a new epoch = that interaction's time, and members that decayed below MIN_SCORE are dropped. So
 * stored numbers stay below w · 2^REBASE_HALF_LIVES, far inside a double's range and precision.
 * Out-of-order interactions (t < e) simply get a factor below 1. Order of arrival never changes a sum.
 */

export const REBASE_HALF_LIVES = 32;
/** Scores (relative to the weight of one view) below this after a rescale are dropped. */
export const MIN_SCORE = 1e-6;

/** The stored increment of weight `w` at time `t` in a list of epoch `epoch`. */
export function forwardWeight(w: number, t: number, epoch: number, halfLifeMs: number): number {
  return w * Math.pow(2, (t - epoch) / halfLifeMs);
}

/** The value at time `now` of a stored number of a list of epoch `epoch`. */
export function valueAt(stored: number, epoch: number, now: number, halfLifeMs: number): number {
  return stored * Math.pow(2, (epoch - now) / halfLifeMs);
}

/** Does an interaction at `t` force the list of epoch `epoch` to be rebased first? */
export function needsRebase(t: number, epoch: number, halfLifeMs: number): boolean {
  return (t - epoch) / halfLifeMs > REBASE_HALF_LIVES;
}

/** Plain exponential decay of a weight from `t` to `now` (for hand checks and recency). */
export function decayed(w: number, t: number, now: number, halfLifeMs: number): number {
  return w * Math.pow(2, (t - now) / halfLifeMs);
}
