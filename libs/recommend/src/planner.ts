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
import type { RecOp, SessionItem } from './ops';
import { Level, RecParams, weightOf } from './params';

export interface Plan {
  ops: RecOp[];
  /** The new windows of the touched visits (also in `ops`). */
  sessions: Map<string, SessionItem[]>;
  interactions: number;
}

export function planInteractions(interactions: readonly Interaction[], sessions: ReadonlyMap<string, readonly SessionItem[]>, params: RecParams): Plan {
  const ops: RecOp[] = [];
  const windows = new Map<string, SessionItem[]>();
  let clock = -Infinity;
  for (const x of interactions) {
    let window = windows.get(x.sessionId);
    if (!window) windows.set(x.sessionId, (window = (sessions.get(x.sessionId) ?? []).map((i) => ({ ...i }))));
    const at = window.findIndex((i) => i.p === x.productId);
    const oldLevel = at >= 0 ? window[at].l : 0;
    const newLevel = Math.max(oldLevel, x.level) as Level;
    if (newLevel > oldLevel) {
      // the product with itself: its own (weighted, decayed) number of visits, the denominator of P(y | x)
      const self = weightOf(params.weights, newLevel) - (oldLevel ? weightOf(params.weights, oldLevel as Level) : 0);
      ops.push({ op: 'pair', a: x.productId, b: x.productId, w: self, t: x.ts, level: newLevel });
      for (const y of window) {
        if (y.p === x.productId) continue;
        const level = Math.min(newLevel, y.l) as Level;
        const w = weightOf(params.weights, level) - (oldLevel ? weightOf(params.weights, Math.min(oldLevel, y.l) as Level) : 0);
        if (w <= 0) continue;
        ops.push({ op: 'pair', a: x.productId, b: y.p, w, t: x.ts, level }, { op: 'pair', a: y.p, b: x.productId, w, t: x.ts, level });
      }
    }
    if (at < 0) {
      if (params.signals.sequence) {
        ops.push({ op: 'seq', a: x.productId, b: x.productId, w: 1, t: x.ts });
        for (let d = 1; d <= params.seqSteps && d <= window.length; d++) ops.push({ op: 'seq', a: window[window.length - d].p, b: x.productId, w: 1 / d, t: x.ts });
      }
      if (params.signals.knn) ops.push({ op: 'visit', item: x.productId, sessionId: x.sessionId, t: x.ts });
    }
    const lastTouched = at >= 0 ? Math.max(window[at].t, x.ts) : x.ts;
    if (at >= 0) window.splice(at, 1);
    window.push({ p: x.productId, l: newLevel, t: lastTouched });
    while (window.length > params.sessionWindow) window.shift();

    ops.push({ op: 'trend', item: x.productId, ...(x.categoryId ? { category: x.categoryId } : {}), w: weightOf(params.weights, x.level), t: x.ts });
    ops.push({ op: 'seen', user: x.userId, item: x.productId, t: x.ts });
    if (x.level === 3) ops.push({ op: 'bought', user: x.userId, item: x.productId, t: x.ts });
    if (x.categoryId) ops.push({ op: 'category', item: x.productId, category: x.categoryId });
    clock = Math.max(clock, x.ts);
  }
  for (const [sessionId, items] of windows) ops.push({ op: 'session', sessionId, items });
  if (clock > -Infinity) ops.push({ op: 'clock', t: clock });
  return { ops, sessions: windows, interactions: interactions.length };
}

/** The same for raw events (anything; events that carry no interaction are skipped). */
export function planEvents(events: readonly unknown[], sessions: ReadonlyMap<string, readonly SessionItem[]>, params: RecParams): Plan {
  return planInteractions(events.flatMap(interactionsOf), sessions, params);
}

/** The visits a batch touches (to read their windows first). */
export function sessionsOf(events: readonly unknown[]): string[] {
  return [...new Set(events.flatMap(interactionsOf).map((x) => x.sessionId))];
}
