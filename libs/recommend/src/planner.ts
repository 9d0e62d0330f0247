/**
 * From a batch of events to state updates (ops). Pure: the sessions' recent windows come in (read from the
 * store before the batch), the ops — including the new windows — go out.
 *
 * Co-occurrence: a visit contributes to the pair (x, y) the weight of the weaker of the two engagements,
 * W[min(level(x), level(y))], once: when a product enters the visit's window, or its level rises, each pair
 * with the window's other products grows by the difference between the new and the old contribution. So
 * viewing x ten times in a visit counts once, viewing x and y then buying both counts W[purchase] in all.
 * The window holds the visit's `sessionWindow` most recently touched distinct products. A product is also
 * paired with itself (W[its level] per visit): its own visit count, never trimmed (no pair outweighs it), so
 * that co-occurrence(x, y) / co-occurrence(x, x) is the weighted share of x's visits that also had y.
 * Sequential rules (signal `sequence`): when a product x enters the window, each of the `seqSteps` products
 * touched just before it (distinct products, d = 1 for the last one) gets the rule y → x with weight 1/d, and x
 * counts itself once (x → x += 1: the denominator of "how often does x lead to …"). Session-kNN (signal `knn`):
 * a product entering the window records the visit in its posting list. Both only when their signal is on, so
 * a switched-off signal costs no state. Per event at most 2·sessionWindow + 1 pair, seqSteps + 1 rule and one
 * posting ops: bounded whatever the visit's length.
 * Trending: every interaction adds its weight. Users: every interaction marks the product as seen at its time;
 * a purchase also as bought.
 */
import { Interaction, interactionsOf } from './interactions';
import { OpList, type OpSink, type RecOp, type SessionItem } from './ops';
import { Level, RecParams, weightOf } from './params';

export interface Plan {
  ops: RecOp[];
  /** The new windows of the touched visits (also in `ops`). */
  sessions: Map<string, SessionItem[]>;
  interactions: number;
}

export function planInteractions(interactions: readonly Interaction[], sessions: ReadonlyMap<string, readonly SessionItem[]>, params: RecParams): Plan {
  const out = new OpList();
  const windows = planInto(interactions, sessions, params, out);
  return { ops: out.ops, sessions: windows, interactions: interactions.length };
}

/** Plans into a sink (a partition's partials take the ops as they come, with no op objects); the touched visits' new windows. */
export function planInto(interactions: readonly Interaction[], sessions: ReadonlyMap<string, readonly SessionItem[]>, params: RecParams, sink: OpSink): Map<string, SessionItem[]> {
  const windows = new Map<string, SessionItem[]>();
  const W = params.weights;
  let clock = -Infinity;
  for (const x of interactions) {
    let window = windows.get(x.sessionId);
    // a copy of the array: items are never changed in place (a touched product gets a new item), so they are shared
    if (!window) windows.set(x.sessionId, (window = (sessions.get(x.sessionId) ?? []).slice()));
    const p = x.productId;
    const t = x.ts;
    const at = window.findIndex((i) => i.p === p);
    const oldLevel = at >= 0 ? window[at].l : 0;
    const newLevel = Math.max(oldLevel, x.level) as Level;
    if (newLevel > oldLevel) {
      // the product with itself: its own (weighted, decayed) number of visits, the denominator of P(y | x)
      sink.onPair(p, p, weightOf(W, newLevel) - (oldLevel ? weightOf(W, oldLevel as Level) : 0), t, newLevel);
      for (const y of window) {
        if (y.p === p) continue;
        const level = Math.min(newLevel, y.l) as Level;
        const w = weightOf(W, level) - (oldLevel ? weightOf(W, Math.min(oldLevel, y.l) as Level) : 0);
        if (w <= 0) continue;
        sink.onPair(p, y.p, w, t, level);
        sink.onPair(y.p, p, w, t, level);
      }
    }
    if (at < 0) {
      if (params.signals.sequence) {
        sink.onSeq(p, p, 1, t);
        for (let d = 1; d <= params.seqSteps && d <= window.length; d++) sink.onSeq(window[window.length - d].p, p, 1 / d, t);
      }
      if (params.signals.knn) sink.onVisit(p, x.sessionId, t);
    }
    const lastTouched = at >= 0 ? Math.max(window[at].t, t) : t;
    if (at >= 0) window.splice(at, 1);
    window.push({ p, l: newLevel, t: lastTouched });
    while (window.length > params.sessionWindow) window.shift();

    sink.onTrend(p, x.categoryId || undefined, weightOf(W, x.level), t);
    sink.onSeen(x.userId, p, t);
    if (x.level === 3) sink.onBought(x.userId, p, t);
    if (x.categoryId) sink.onCategory(p, x.categoryId, t);
    clock = Math.max(clock, t);
  }
  for (const [sessionId, items] of windows) sink.onSession(sessionId, items);
  if (clock > -Infinity) sink.onClock(clock);
  return windows;
}

/** The same for raw events (anything; events that carry no interaction are skipped). */
export function planEvents(events: readonly unknown[], sessions: ReadonlyMap<string, readonly SessionItem[]>, params: RecParams): Plan {
  return planInteractions(events.flatMap(interactionsOf), sessions, params);
}

/** The visits a batch touches (to read their windows first). */
export function sessionsOf(events: readonly unknown[]): string[] {
  return [...new Set(events.flatMap(interactionsOf).map((x) => x.sessionId))];
}
