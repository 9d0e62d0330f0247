/**
 * Session-based evaluation (`tidemark eval recs --task next-item | basket`, docs/recommendations.md): the
 * service's session answer (libs/recommend `Recommender.forSession`, on the store the service uses) against
 * three baselines kept here, all fed the same events in the same run:
 *   popularity            interactions so far per product (undecayed);
 *   category-popularity   popularity within the category of the visit's last product, then overall;
 *   cooccurrence          plain item-to-item: the visits so far that had both products (undecayed, whole
 *                         visits), neighbours of the visit's last product, then popularity.
 * Each answers k products for a visit *before* the event that is scored is applied.
 *
 * next-item: at each product view or cart of a visit that already touched another product, the target is the
 * event's product when it differs from the visit's last one. Two protocols: seen excluded (only targets the
 * visit has not touched before; every recommender leaves out what the visit touched), and seen included (any
 * such target; only the visit's last product is left out).
 * basket: each order (a visit's lines) with 2+ distinct products leaves one out (chosen by a hash of the visit
 * id): the others are applied, the answers asked, then the one left out is applied.
 *
 * HR@k: the share of targets in the top k; MRR@k: mean 1/rank (0 when absent); coverage: the share of the
 * log's products that appeared in at least one answer; latency: time per answer (in process; the service's
 * includes its store, Redis with --redis).
 */
import { performance } from 'node:perf_hooks';
import type { TidemarkEvent } from '@tidemark/contracts';
import { RecParams, RecStore, Recommender, checkpointOps, interactionsOf, planEvents, sessionsOf } from '@tidemark/recommend';

export const ROW_NAMES = ['service', 'popularity', 'category-popularity', 'cooccurrence'] as const;
export type RowName = (typeof ROW_NAMES)[number];

export interface EvalRow {
  name: string;
  seenExcluded: boolean;
  hr: number;
  mrr: number;
  coverage: number;
}

export interface RowDetail extends EvalRow {
  targets: number;
  hits: number;
  /** Per answer, ms. */
  latency: { p50: number; p99: number };
}

export interface SessionEvalResult {
  task: 'next-item' | 'basket';
  k: number;
  events: number;
  products: number;
  rows: RowDetail[];
}

/**
 * Counts that only grow, with their top `size` kept sorted (an item can only enter past the last one, so the
 * kept order is exact); a top k that the exclusions empty falls back to a full sort.
 */
export class TopCounter {
  readonly counts = new Map<string, number>();
  private readonly order: string[] = [];
  private readonly pos = new Map<string, number>();

  constructor(private readonly size = 200) {}

  inc(item: string): void {
    const c = (this.counts.get(item) ?? 0) + 1;
    this.counts.set(item, c);
    let i = this.pos.get(item);
    if (i === undefined) {
      if (this.order.length < this.size) i = this.order.push(item) - 1;
      else if (c > this.counts.get(this.order[this.order.length - 1])!) {
        this.pos.delete(this.order[this.order.length - 1]);
        i = this.order.length - 1;
        this.order[i] = item;
      } else return;
      this.pos.set(item, i);
    }
    while (i > 0 && this.counts.get(this.order[i - 1])! < c) {
      const up = this.order[i - 1];
      this.order[i - 1] = item;
      this.order[i] = up;
      this.pos.set(up, i);
      this.pos.set(item, --i);
    }
  }

  top(k: number, exclude: ReadonlySet<string>, also: Set<string> = new Set()): string[] {
    const out: string[] = [];
    for (const p of this.order) {
      if (out.length >= k) return out;
      if (!exclude.has(p) && !also.has(p)) out.push(p);
    }
    if (out.length >= k || this.order.length < this.size) return out;
    const rest = [...this.counts].filter(([p]) => !exclude.has(p) && !also.has(p) && !out.includes(p)).sort((a, b) => b[1] - a[1]);
    return [...out, ...rest.slice(0, k - out.length).map(([p]) => p)];
  }
}

/** The three baselines' state, fed every event. */
export class Baselines {
  readonly popularity = new TopCounter(200);
  private readonly byCategory = new Map<string, TopCounter>();
  private readonly category = new Map<string, string>();
  private readonly visits = new Map<string, Set<string>>();
  private readonly cooc = new Map<string, Map<string, number>>();

  add(event: unknown): void {
    for (const x of interactionsOf(event)) {
      this.popularity.inc(x.productId);
      if (x.categoryId) {
        this.category.set(x.productId, x.categoryId);
        let c = this.byCategory.get(x.categoryId);
        if (!c) this.byCategory.set(x.categoryId, (c = new TopCounter(50)));
        c.inc(x.productId);
      }
      let v = this.visits.get(x.sessionId);
      if (!v) this.visits.set(x.sessionId, (v = new Set()));
      if (v.has(x.productId)) continue;
      for (const y of v) {
        bumpPair(this.cooc, x.productId, y);
        bumpPair(this.cooc, y, x.productId);
      }
      v.add(x.productId);
    }
  }

  recommend(name: Exclude<RowName, 'service'>, last: string, k: number, exclude: ReadonlySet<string>): string[] {
    switch (name) {
      case 'popularity':
        return this.popularity.top(k, exclude);
      case 'category-popularity': {
        const c = this.category.get(last);
        const own = c === undefined ? [] : this.byCategory.get(c)!.top(k, exclude);
        return [...own, ...this.popularity.top(k - own.length, exclude, new Set(own))];
      }
      case 'cooccurrence': {
        const own = [...(this.cooc.get(last) ?? [])]
          .filter(([p]) => !exclude.has(p))
          .sort((a, b) => b[1] - a[1] || (a[0] < b[0] ? -1 : 1))
          .slice(0, k)
          .map(([p]) => p);
        return [...own, ...this.popularity.top(k - own.length, exclude, new Set(own))];
      }
    }
  }
}

function bumpPair(m: Map<string, Map<string, number>>, a: string, b: string): void {
  let n = m.get(a);
  if (!n) m.set(a, (n = new Map()));
  n.set(b, (n.get(b) ?? 0) + 1);
}

/** One recommender under evaluation: its answers, hits, ranks, times and what it ever recommended. */
class Tally {
  targets = 0;
  hits = 0;
  rr = 0;
  readonly shown = new Set<string>();
  readonly times: number[] = [];

  score(list: readonly string[], target: string, ms: number): void {
    this.targets++;
    const i = list.indexOf(target);
    if (i >= 0) {
      this.hits++;
      this.rr += 1 / (i + 1);
    }
    for (const p of list) this.shown.add(p);
    this.times.push(ms);
  }

  row(name: string, seenExcluded: boolean, catalogue: number): RowDetail {
    const sorted = [...this.times].sort((a, b) => a - b);
    const q = (f: number) => (sorted.length ? sorted[Math.min(sorted.length - 1, Math.floor(f * sorted.length))] : 0);
    return {
      name,
      seenExcluded,
      hr: this.targets ? this.hits / this.targets : 0,
      mrr: this.targets ? this.rr / this.targets : 0,
      coverage: catalogue ? this.shown.size / catalogue : 0,
      targets: this.targets,
      hits: this.hits,
      latency: { p50: q(0.5), p99: q(0.99) },
    };
  }
}

/** A service variant under evaluation: its own store and parameters (the ablation runs several). */
export interface ServiceUnderTest {
  name: string;
  store: RecStore;
  params: RecParams;
}

class Replay {
  readonly base = new Baselines();
  readonly services: { name: string; store: RecStore; params: RecParams; rec: Recommender; seq: number }[];
  readonly tallies = new Map<string, Tally>();
  readonly catalogue = new Set<string>();
  /** Per visit: the products it touched, in order of first touch, and its last one. */
  readonly visits = new Map<string, { seen: Set<string>; last: string }>();

  constructor(
    services: readonly ServiceUnderTest[],
    readonly k: number,
  ) {
    this.services = services.map((s) => ({ ...s, rec: new Recommender(s.store, s.params), seq: 0 }));
  }

  tally(name: string, seenExcluded: boolean): Tally {
    const key = `${name}|${seenExcluded}`;
    let t = this.tallies.get(key);
    if (!t) this.tallies.set(key, (t = new Tally()));
    return t;
  }

  async apply(e: TidemarkEvent): Promise<void> {
    for (const s of this.services) {
      if (s.seq === 0) await s.store.restore(0); // taken on before its first event
      const plan = planEvents([e], await s.store.sessions(sessionsOf([e])), s.params);
      const r = await checkpointOps(s.store, { partition: 0, expectedSeq: s.seq, newSeq: s.seq + 1 }, plan.ops);
      if (r.status !== 'ok') throw new Error(`the store refused event ${s.seq + 1}: ${JSON.stringify(r)}`);
      s.seq++;
    }
    this.base.add(e);
    for (const x of interactionsOf(e)) {
      this.catalogue.add(x.productId);
      const v = this.visits.get(x.sessionId);
      if (!v) this.visits.set(x.sessionId, { seen: new Set([x.productId]), last: x.productId });
      else {
        v.seen.add(x.productId);
        v.last = x.productId;
      }
    }
  }

  /** Asks every recommender for `sessionId` (not applying anything) and scores `target`. */
  async score(sessionId: string, target: string, seenExcluded: boolean): Promise<void> {
    const v = this.visits.get(sessionId)!;
    const exclude: ReadonlySet<string> = seenExcluded ? v.seen : new Set([v.last]);
    for (const s of this.services) {
      const t0 = performance.now();
      const answer = await s.rec.forSession(sessionId, this.k, { excludeSeen: seenExcluded });
      const ms = performance.now() - t0;
      this.tally(s.name, seenExcluded).score(
        answer.items.map((i) => i.productId),
        target,
        ms,
      );
    }
    for (const name of ['popularity', 'category-popularity', 'cooccurrence'] as const) {
      const t0 = performance.now();
      const list = this.base.recommend(name, v.last, this.k, exclude);
      this.tally(name, seenExcluded).score(list, target, performance.now() - t0);
    }
  }

  result(task: SessionEvalResult['task'], events: number): SessionEvalResult {
    const rows: RowDetail[] = [];
    for (const seenExcluded of [true, false])
      for (const name of [...this.services.map((s) => s.name), 'popularity', 'category-popularity', 'cooccurrence']) {
        const t = this.tallies.get(`${name}|${seenExcluded}`);
        if (t) rows.push(t.row(name, seenExcluded, this.catalogue.size));
      }
    return { task, k: this.k, events, products: this.catalogue.size, rows };
  }
}

/** Next-item prediction over a log in event-time order (see the file's comment). */
export async function evaluateNextItem(events: readonly TidemarkEvent[], services: readonly ServiceUnderTest[], k: number, warmupMs: number): Promise<SessionEvalResult> {
  const r = new Replay(services, k);
  const start = events.length ? events[0].ts : 0;
  for (const e of events) {
    if ((e.type === 'product_view' || e.type === 'add_to_cart') && e.productId && e.ts - start >= warmupMs) {
      const v = r.visits.get(e.sessionId);
      if (v && v.last !== e.productId) {
        if (!v.seen.has(e.productId)) await r.score(e.sessionId, e.productId, true);
        await r.score(e.sessionId, e.productId, false);
      }
    }
    await r.apply(e);
  }
  return r.result('next-item', events.length);
}

/** A small stable hash (FNV-1a) of a visit id: which line of an order is left out. */
function leaveOut(id: string, n: number): number {
  let h = 0x811c9dc5;
  for (let i = 0; i < id.length; i++) h = Math.imul(h ^ id.charCodeAt(i), 0x01000193) >>> 0;
  return h % n;
}

/** Basket completion: orders are visits of add_to_cart lines (mapOnlineRetail), in event-time order. */
export async function evaluateBasket(events: readonly TidemarkEvent[], services: readonly ServiceUnderTest[], k: number, warmupMs: number): Promise<SessionEvalResult> {
  const r = new Replay(services, k);
  const start = events.length ? events[0].ts : 0;
  const orders = new Map<string, TidemarkEvent[]>();
  for (const e of events) orders.set(e.sessionId, [...(orders.get(e.sessionId) ?? []), e]);
  for (const [id, lines] of orders) {
    const distinct = [...new Map(lines.filter((l) => l.productId).map((l) => [l.productId!, l])).values()];
    if (distinct.length < 2 || lines[0].ts - start < warmupMs) {
      for (const l of lines) await r.apply(l);
      continue;
    }
    const out = distinct[leaveOut(id, distinct.length)];
    for (const l of lines) if (l.productId !== out.productId) await r.apply(l);
    await r.score(id, out.productId!, true);
    await r.score(id, out.productId!, false);
    for (const l of lines) if (l.productId === out.productId) await r.apply(l);
  }
  return r.result('basket', events.length);
}

/** The JSON the command prints with --json: the four rows of each protocol (the service's variants apart). */
export function jsonOf(r: SessionEvalResult, ablation?: SessionEvalResult['rows']): unknown {
  const rows = r.rows.filter((x) => (ROW_NAMES as readonly string[]).includes(x.name)).map(({ name, seenExcluded, hr, mrr, coverage }) => ({ name, seenExcluded, hr, mrr, coverage }));
  return { task: r.task, k: r.k, rows, ...(ablation ? { ablation: ablation.map(({ name, seenExcluded, hr, mrr, coverage }) => ({ name, seenExcluded, hr, mrr, coverage })) } : {}) };
}

/** The table the command prints. */
export function tableOf(r: SessionEvalResult): string {
  const pct = (x: number) => `${(100 * x).toFixed(2)} %`;
  const lines: string[] = [];
  for (const seenExcluded of [true, false]) {
    const rows = r.rows.filter((x) => x.seenExcluded === seenExcluded);
    if (!rows.length) continue;
    const pop = rows.find((x) => x.name === 'popularity')!;
    const co = rows.find((x) => x.name === 'cooccurrence')!;
    lines.push(`  ${seenExcluded ? 'seen items excluded' : 'seen items included'} (${rows[0].targets} targets)`);
    lines.push(`    ${'recommender'.padEnd(28)} ${`HR@${r.k}`.padStart(9)} ${`MRR@${r.k}`.padStart(8)} ${'coverage'.padStart(9)} ${'× pop'.padStart(6)} ${'× cooc'.padStart(6)}  lookup p50 / p99`);
    for (const x of rows) {
      const ratio = (b: RowDetail) => (b.hr > 0 ? (x.hr / b.hr).toFixed(2) : 'n/a');
      lines.push(
        `    ${x.name.padEnd(28)} ${pct(x.hr).padStart(9)} ${x.mrr.toFixed(4).padStart(8)} ${pct(x.coverage).padStart(9)} ${ratio(pop).padStart(6)} ${ratio(co).padStart(6)}  ${x.latency.p50.toFixed(3)} / ${x.latency.p99.toFixed(3)} ms`,
      );
    }
  }
  return lines.join('\n');
}
