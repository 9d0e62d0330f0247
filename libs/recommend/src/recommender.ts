/**
 * The three answers — per-user recommendations, similar products, trending — ranked from a RecReader, the
 * same code over the in-memory store (evaluation) and Redis (the service). Scores are values at the store's
 * clock (the highest event time applied), so "now" is event time and never Date.now().
 *
 * Per user (item-based k-nearest neighbours): the user's recent products are anchors, each weighted by its
 * recency r(a) = 2^(−age/trendingHalfLife). The similarity of a product b to an anchor a is
 * sim(a, b) = cooc(a, b) / cooc(a, a): the (weighted, decayed) share of a's visits that also had b, so
 * sim(a, a) = 1 and 0 ≤ sim ≤ 1. A candidate's score is Σ over anchors of r(a) × sim(a, b); its reason names
 * the anchor that contributed most ("viewed together with …", "bought together with …"). With includeViewed,
 * an anchor the user has not bought is a candidate too, with its own similarity 1 ("you viewed it recently").
 * Products the user bought are always excluded. The rest of the k is backfilled with trending in the anchors'
 * categories, then trending overall; a user with no history gets trending. Items are best first; a backfilled
 * item's score is its trending value (another scale) and it comes after every co-occurrence item.
 */
import type { RecommendationItem } from '@tidemark/contracts';
import { valueAt } from './decay';
import { Level, RecParams } from './params';
import type { ReadContext, RecReader, SessionContext, StoredList } from './store';

export type Strategy = 'personalised' | 'similar' | 'trending' | 'session';

export interface SessionRecommendations {
  sessionId: string;
  /** 'session' when the visit's signals answered (some items may still be backfilled), 'trending' otherwise. */
  strategy: Strategy;
  items: RecommendationItem[];
}

export interface SessionOptions {
  /** Leave out every product the visit has touched (default true); otherwise only the most recent one. */
  excludeSeen?: boolean;
}

/** The weight of the anchor i steps back in the visit (0 = the most recent): 1, 1/2, 1/3, … */
export function anchorWeight(i: number): number {
  return 1 / (i + 1);
}

export interface UserRecommendations {
  userId: string;
  strategy: Strategy;
  items: RecommendationItem[];
}

export interface SimilarProducts {
  productId: string;
  strategy: Strategy;
  /** false when the product was never seen: the items are then trending ones. */
  known: boolean;
  items: RecommendationItem[];
}

export interface TrendingProducts {
  categoryId: string | null;
  /** 'category' when the category's own list answered, 'overall' otherwise. */
  scope: 'category' | 'overall';
  items: RecommendationItem[];
}

const TOGETHER: Record<Level, string> = { 1: 'viewed together with', 2: 'added to cart together with', 3: 'bought together with' };

export function togetherReason(level: Level | undefined, anchor: string): string {
  return `${TOGETHER[level ?? 1]} ${anchor}`;
}

export function trendingReason(category: string | null): string {
  return category === null ? 'trending overall' : `trending in ${category}`;
}

/** Rounds for the API: 6 significant digits are plenty for a ranking score. */
function round(x: number): number {
  return Number(x.toPrecision(6));
}

function byScore(a: RecommendationItem, b: RecommendationItem): number {
  return b.score - a.score || (a.productId < b.productId ? -1 : a.productId > b.productId ? 1 : 0);
}

export class Recommender {
  constructor(
    private readonly reader: RecReader,
    private readonly params: RecParams,
  ) {}

  async forUser(userId: string, k: number): Promise<UserRecommendations> {
    // per anchor its 2k best neighbours (and itself): enough for a top k, a bounded read whatever RECS_NEIGHBOURS
    const ctx = await this.reader.context({ userId, userRecent: this.params.userRecent, neighbours: Math.min(this.params.neighbours, 2 * k) + 1, trending: 2 * k });
    const { now, user } = ctx;
    const exclude = new Set(user.bought);
    if (user.recent.length === 0 || now === null) {
      return { userId, strategy: 'trending', items: this.backfill(ctx, [], exclude, k) };
    }
    const anchors = user.recent;
    if (!this.params.includeViewed) for (const a of anchors) exclude.add(a.item);
    const cands = new Map<string, { score: number; best: number; anchor: string; level?: Level }>();
    for (const a of anchors) {
      const weight = Math.pow(2, (a.t - now) / this.params.trendingHalfLifeMs);
      const list = ctx.lists.get(a.item);
      const self = list?.items.find((n) => n.item === a.item)?.stored;
      if (!list || !self) continue;
      for (const n of list.items) {
        if (n.item === a.item || exclude.has(n.item)) continue;
        const c = (weight * n.stored) / self; // same list, same epoch: the decay factors cancel
        const cur = cands.get(n.item);
        if (!cur) cands.set(n.item, { score: c, best: c, anchor: a.item, level: n.level });
        else {
          cur.score += c;
          if (c > cur.best) Object.assign(cur, { best: c, anchor: a.item, level: n.level });
        }
      }
    }
    const items: RecommendationItem[] = [...cands]
      .map(([productId, c]) => ({ productId, score: c.score, reason: togetherReason(c.level, c.anchor) }))
      .sort(byScore)
      .slice(0, k)
      .map((i) => ({ ...i, score: round(i.score) }));
    if (this.params.includeViewed) {
      // the user's own recent products they did not buy, with sim(a, a) = 1 (plus what other anchors add)
      for (const a of anchors) {
        if (exclude.has(a.item)) continue;
        const own = Math.pow(2, (a.t - now) / this.params.trendingHalfLifeMs);
        const cur = items.find((i) => i.productId === a.item);
        if (cur) Object.assign(cur, { score: round(cur.score + own), reason: 'you viewed it recently' });
        else items.push({ productId: a.item, score: round(own + (cands.get(a.item)?.score ?? 0)), reason: 'you viewed it recently' });
      }
      items.sort(byScore);
      items.splice(k);
    }
    const personal = items.length > 0;
    for (const i of items) exclude.add(i.productId);
    const categories = [...new Set(anchors.map((a) => ctx.categories.get(a.item)).filter((c): c is string => c !== undefined))];
    items.push(...this.backfill(ctx, categories, exclude, k - items.length));
    return { userId, strategy: personal ? 'personalised' : 'trending', items };
  }

  /**
   * The next products for a visit (session-based; docs/recommendations.md, "Per visit"): its `sessionAnchors`
   * most recent products are anchors, the i-th most recent weighted anchorWeight(i). Each switched-on signal
   * scores candidates, is scaled to a best of 1, and the scaled scores are added:
   *   neighbours  Σ_i w_i · cooc(a_i, b) / cooc(a_i, a_i)
   *   sequence    Σ_i w_i · rule(a_i → b) / rule(a_i, a_i)       (how often b came within seqSteps after a_i)
   *   knn         Σ_v sim(v) over the neighbour visits v holding b, sim(v) = Σ_{i: a_i ∈ v} w_i / √|v|
   * The reason names the signal and anchor that gave the most. The rest of the k: trending in the anchors'
   * categories, most recent anchor first (signal `category`), then overall. A visit never seen gets trending.
   */
  async forSession(sessionId: string, k: number, options: SessionOptions = {}): Promise<SessionRecommendations> {
    const p = this.params;
    const sig = p.signals;
    const read = Math.min(p.neighbours, 3 * k) + 1;
    const ctx = await this.reader.sessionContext({
      sessionId,
      anchors: p.sessionAnchors,
      neighbours: sig.neighbours ? read : 0,
      sequences: sig.sequence ? read : 0,
      knnVisits: sig.knn ? p.knnVisits : 0,
      knnNeighbours: sig.knn ? p.knnNeighbours : 0,
      trending: 2 * k,
    });
    const exclude = new Set<string>(options.excludeSeen === false ? ctx.anchors.slice(0, 1) : ctx.window.map((i) => i.p));
    if (ctx.anchors.length === 0 || ctx.now === null) return { sessionId, strategy: 'trending', items: this.backfill(ctx, [], exclude, k) };
    const total = new Map<string, { score: number; best: number; reason: string }>();
    const add = (scores: Map<string, { score: number; best: number; reason: string }>) => {
      let max = 0;
      for (const c of scores.values()) max = Math.max(max, c.score);
      if (!(max > 0)) return;
      for (const [item, c] of scores) {
        const x = c.score / max;
        const cur = total.get(item);
        if (!cur) total.set(item, { score: x, best: x, reason: c.reason });
        else {
          cur.score += x;
          if (x > cur.best) Object.assign(cur, { best: x, reason: c.reason });
        }
      }
    };
    const bump = (m: Map<string, { score: number; best: number; reason: string }>, item: string, x: number, reason: () => string) => {
      const cur = m.get(item);
      if (!cur) m.set(item, { score: x, best: x, reason: reason() });
      else {
        cur.score += x;
        if (x > cur.best) Object.assign(cur, { best: x, reason: reason() });
      }
    };
    const anchored = (lists: Map<string, StoredList>, reason: (level: Level | undefined, a: string) => string) => {
      const out = new Map<string, { score: number; best: number; reason: string }>();
      ctx.anchors.forEach((a, i) => {
        const list = lists.get(a);
        const self = list?.items.find((n) => n.item === a)?.stored;
        if (!list || !self) return;
        for (const n of list.items) {
          if (n.item === a || exclude.has(n.item)) continue;
          bump(out, n.item, (anchorWeight(i) * n.stored) / self, () => reason(n.level, a)); // same list, same epoch: decay cancels
        }
      });
      return out;
    };
    if (sig.neighbours) add(anchored(ctx.lists, togetherReason));
    if (sig.sequence) add(anchored(ctx.sequences, (_l, a) => `often next after ${a}`));
    if (sig.knn) {
      const weight = new Map(ctx.anchors.map((a, i) => [a, anchorWeight(i)]));
      const out = new Map<string, { score: number; best: number; reason: string }>();
      for (const v of ctx.visits) {
        let sim = 0;
        for (const x of v.items) sim += weight.get(x.p) ?? 0;
        sim /= Math.sqrt(v.items.length);
        if (!(sim > 0)) continue;
        for (const x of v.items) if (!exclude.has(x.p) && !weight.has(x.p)) bump(out, x.p, sim, () => 'in similar visits');
      }
      add(out);
    }
    const items: RecommendationItem[] = [...total]
      .map(([productId, c]) => ({ productId, score: c.score, reason: c.reason }))
      .sort(byScore)
      .slice(0, k)
      .map((i) => ({ ...i, score: round(i.score) }));
    const personal = items.length > 0;
    for (const i of items) exclude.add(i.productId);
    const categories = sig.category ? [...new Set(ctx.anchors.map((a) => ctx.categories.get(a)).filter((c): c is string => c !== undefined))] : [];
    items.push(...this.backfill(ctx, categories, exclude, k - items.length));
    return { sessionId, strategy: personal ? 'session' : 'trending', items };
  }

  async similar(productId: string, k: number): Promise<SimilarProducts> {
    const ctx = await this.reader.context({ productIds: [productId], userRecent: 0, neighbours: k + 1, trending: 2 * k });
    const { now } = ctx;
    const list = ctx.lists.get(productId)!;
    const category = ctx.categories.get(productId) ?? null;
    const known = list.epoch !== null || category !== null;
    const items: RecommendationItem[] =
      list.epoch === null || now === null
        ? []
        : list.items
            .filter((n) => n.item !== productId)
            .map((n) => ({ productId: n.item, score: valueAt(n.stored, list.epoch!, now, this.params.coocHalfLifeMs), reason: togetherReason(n.level, productId) }))
            .sort(byScore)
            .slice(0, k)
            .map((i) => ({ ...i, score: round(i.score) }));
    const exclude = new Set([productId, ...items.map((i) => i.productId)]);
    const co = items.length;
    items.push(...this.backfill(ctx, category === null ? [] : [category], exclude, k - items.length));
    return { productId, strategy: co > 0 ? 'similar' : 'trending', known, items };
  }

  async trending(categoryId: string | null, k: number): Promise<TrendingProducts> {
    const ctx = await this.reader.context({ ...(categoryId === null ? {} : { category: categoryId }), userRecent: 0, neighbours: 0, trending: k });
    const own = categoryId === null ? undefined : ctx.trending.get(categoryId);
    if (own && own.epoch !== null && own.items.length > 0) return { categoryId, scope: 'category', items: this.ranked(own, ctx.now, categoryId, new Set(), k) };
    return { categoryId, scope: 'overall', items: this.ranked(ctx.trending.get(null)!, ctx.now, null, new Set(), k) };
  }

  /** Trending in each category in turn, then overall, skipping `exclude`, up to `k` items. */
  private backfill(ctx: Pick<ReadContext | SessionContext, 'trending' | 'now'>, categories: readonly string[], exclude: Set<string>, k: number): RecommendationItem[] {
    const out: RecommendationItem[] = [];
    for (const scope of [...categories, null]) {
      const list = ctx.trending.get(scope);
      if (!list || out.length >= k) continue;
      for (const item of this.ranked(list, ctx.now, scope, exclude, k - out.length)) {
        out.push(item);
        exclude.add(item.productId);
      }
    }
    return out;
  }

  private ranked(list: StoredList, now: number | null, category: string | null, exclude: Set<string>, k: number): RecommendationItem[] {
    if (list.epoch === null || now === null || k <= 0) return [];
    return list.items
      .filter((i) => !exclude.has(i.item))
      .map((i) => ({ productId: i.item, score: valueAt(i.stored, list.epoch!, now, this.params.trendingHalfLifeMs), reason: trendingReason(category) }))
      .sort(byScore)
      .slice(0, k)
      .map((i) => ({ ...i, score: round(i.score) }));
  }
}
