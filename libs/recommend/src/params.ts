/**
 * The knobs of the recommender, with their defaults (the service reads them from RECS_* settings,
 * docs/recommendations.md). Pure data.
 */

/** How strongly a shopper engaged with a product in a visit: 1 viewed, 2 added to cart, 3 bought. */
export type Level = 1 | 2 | 3;

export const LEVEL_NAMES: Record<Level, 'view' | 'cart' | 'purchase'> = { 1: 'view', 2: 'cart', 3: 'purchase' };

export interface RecWeights {
  view: number;
  cart: number;
  purchase: number;
}

export interface RecParams {
  /** Weight of an interaction at each level (co-occurrence and trending). */
  weights: RecWeights;
  /** Half-life of co-occurrence scores, in event time (ms). */
  coocHalfLifeMs: number;
  /** Half-life of trending scores and of the recency of a user's items, in event time (ms). */
  trendingHalfLifeMs: number;
  /** Neighbours kept per product (the top ones; the rest are trimmed). */
  neighbours: number;
  /** A visit's most recent distinct products that a new interaction is paired with. */
  sessionWindow: number;
  /** Recent products kept per user (the anchors of their recommendations). */
  userRecent: number;
  /**
   * Bought products kept per user, the most recent ones (never recommended to them again). A cap, so that one
   * user's purchases cannot grow a key or the read of every lookup without bound (docs/settings.md "Limits").
   */
  userBought: number;
  /** Products kept per trending list (overall and per category). */
  trendingSize: number;
  /** Also recommend the user's own recent products that they have not bought ("you viewed it recently"). */
  includeViewed: boolean;
  /** The visit's most recent distinct products that anchor a session answer (forSession). */
  sessionAnchors: number;
  /** Sequential rules: a product B touched within this many distinct-product steps after A teaches A → B. */
  seqSteps: number;
  /** Session-kNN: recent visits kept per product (its posting list), and the most similar visits used per answer. */
  knnVisits: number;
  knnNeighbours: number;
  /** The signals of a session answer, each switchable (RECS_SIGNALS) for an ablation. */
  signals: RecSignals;
}

/**
 * neighbours: recency-weighted co-occurrence over the visit's recent products; sequence: sequential rules
 * (A then B within seqSteps steps); knn: session-kNN (products of the most similar recent visits); category:
 * trending in the anchors' categories fills what the others leave (cold products).
 */
export interface RecSignals {
  neighbours: boolean;
  sequence: boolean;
  knn: boolean;
  category: boolean;
}

export const SIGNAL_NAMES = ['neighbours', 'sequence', 'knn', 'category'] as const;
export type SignalName = (typeof SIGNAL_NAMES)[number];

export const DEFAULT_PARAMS: RecParams = {
  weights: { view: 1, cart: 3, purchase: 5 },
  coocHalfLifeMs: 7 * 86_400_000,
  trendingHalfLifeMs: 3_600_000,
  neighbours: 50,
  sessionWindow: 20,
  userRecent: 20,
  userBought: 200,
  trendingSize: 500,
  includeViewed: true,
  sessionAnchors: 10,
  seqSteps: 3,
  knnVisits: 100,
  knnNeighbours: 50,
  signals: { neighbours: true, sequence: true, knn: true, category: true },
};

export function weightOf(weights: RecWeights, level: Level): number {
  return level === 3 ? weights.purchase : level === 2 ? weights.cart : weights.view;
}

/** `view:1,cart:3,purchase:5` (any order, each at most once; missing ones keep their default). */
export function parseWeights(spec: string, defaults: RecWeights = DEFAULT_PARAMS.weights): RecWeights {
  const out = { ...defaults };
  const seen = new Set<string>();
  for (const part of spec.split(',')) {
    const m = /^\s*(view|cart|purchase)\s*[:=]\s*(\d+(?:\.\d+)?)\s*$/.exec(part);
    if (!m) throw new Error(`"${part.trim()}" is not view|cart|purchase:<number>`);
    if (seen.has(m[1])) throw new Error(`${m[1]} is given twice`);
    seen.add(m[1]);
    const w = Number(m[2]);
    if (!(w > 0)) throw new Error(`${m[1]} must be > 0`);
    out[m[1] as keyof RecWeights] = w;
  }
  return out;
}

/** `neighbours,sequence,knn,category` (any subset, each at most once; `none` for none): the signals switched on. */
export function parseSignals(spec: string): RecSignals {
  const out: RecSignals = { neighbours: false, sequence: false, knn: false, category: false };
  if (spec.trim() === 'none') return out;
  const seen = new Set<string>();
  for (const part of spec.split(',')) {
    const name = part.trim();
    if (!(SIGNAL_NAMES as readonly string[]).includes(name)) throw new Error(`"${name}" is not one of ${SIGNAL_NAMES.join(', ')} (or none)`);
    if (seen.has(name)) throw new Error(`${name} is given twice`);
    seen.add(name);
    out[name as SignalName] = true;
  }
  return out;
}
