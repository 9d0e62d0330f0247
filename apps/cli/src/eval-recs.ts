/**
 * `tidemark eval recs --file <REES46 csv>`: offline evaluation of the recommender on a real log, with the
 * service's own code (libs/recommend: the same planner, store semantics and ranking; the in-memory store by
 * default, `--redis URL` for the Redis store the service uses).
 *
 * The log is replayed in event-time order (stable for equal times). Before each purchase (`order_placed`)
 * after the warm-up, the user's top 10 is asked for — from the service's algorithm and from a popularity
 * baseline (the 10 products with the most interactions so far, same exclusions of bought products) — and
 * whether the purchased product is in it is recorded (hit), with 1/rank (reciprocal rank, 0 when absent).
 * Then the event is applied. Nothing about the purchase is known to either before it is applied.
 * Prints HR@10 and MRR for both, and the ratio of the HR@10s.
 */
import * as fs from 'node:fs';
import { parseArgs } from 'node:util';
import { parse } from 'csv-parse';
import type { TidemarkEvent } from '@tidemark/contracts';
import { InMemoryRecStore, RecParams, RecStore, Recommender, interactionsOf, planEvents, sessionsOf } from '@tidemark/recommend';
import { SAMPLES, displayPath, mapRees46 } from '@tidemark/simulator';
import { connectRedis } from '@tidemark/state';
import { RedisRecStore } from '../../recommendation/src/redis-rec.store';

export const EVAL_USAGE = `Usage: tidemark eval recs --file <events.csv> [options]
  --file F             REES46 CSV; the sample in the repository is
                       ${displayPath(SAMPLES.rees46)}
  --k N                list length (default 10)
  --warmup-minutes M   purchases in the first M minutes of the log are applied but not scored (default 30)
  --include-viewed     also recommend the user's own recent products (RECS_INCLUDE_VIEWED)
  --redis URL          run on the Redis store (an empty database you can spare) instead of in memory
  Other settings (half-lives, weights, sizes) come from the RECS_* environment variables, as in the service.`;

export interface EvalScore {
  purchases: number;
  hits: number;
  hr: number;
  mrr: number;
}

export interface EvalResult {
  events: number;
  scored: number;
  service: EvalScore;
  baseline: EvalScore;
  /** Scored purchases of a product the buyer had viewed or carted before. */
  touchedBefore: number;
}

async function readLog(file: string): Promise<{ events: TidemarkEvent[]; bad: number }> {
  const events: TidemarkEvent[] = [];
  const ids = new Set<string>();
  let bad = 0;
  const parser = fs.createReadStream(file).pipe(parse({ from_line: 2, relax_column_count: true, relax_quotes: true, skip_empty_lines: true }));
  for await (const rec of parser as AsyncIterable<string[]>) {
    const m = mapRees46(rec);
    if (!m.ok) bad++;
    else if (!ids.has(m.event.id)) {
      ids.add(m.event.id); // exact duplicate rows count once, as the pipeline's de-duplication does
      events.push(m.event);
    }
  }
  // event-time order; Array.prototype.sort is stable, so equal times keep the file's order
  events.sort((a, b) => a.ts - b.ts);
  return { events, bad };
}

/** Popularity: interactions so far per product, undecayed. */
class Popularity {
  private readonly counts = new Map<string, number>();
  add(event: TidemarkEvent): void {
    for (const x of interactionsOf(event)) this.counts.set(x.productId, (this.counts.get(x.productId) ?? 0) + 1);
  }
  top(k: number, exclude: ReadonlySet<string>): string[] {
    return [...this.counts]
      .filter(([p]) => !exclude.has(p))
      .sort((a, b) => b[1] - a[1] || (a[0] < b[0] ? -1 : 1))
      .slice(0, k)
      .map(([p]) => p);
  }
}

function rankOf(list: readonly string[], product: string): number {
  const i = list.indexOf(product);
  return i < 0 ? 0 : 1 / (i + 1);
}

export async function evaluate(events: readonly TidemarkEvent[], store: RecStore, params: RecParams, k: number, warmupMs: number): Promise<EvalResult> {
  const rec = new Recommender(store, params);
  const pop = new Popularity();
  const bought = new Map<string, Set<string>>();
  const touched = new Map<string, Set<string>>();
  let touchedBefore = 0;
  const start = events.length ? events[0].ts : 0;
  const s = { hits: 0, rr: 0 };
  const b = { hits: 0, rr: 0 };
  let scored = 0;
  let seq = 0;
  for (const e of events) {
    if (e.type === 'order_placed' && e.ts - start >= warmupMs) {
      const mine = bought.get(e.userId) ?? new Set<string>();
      const ours = (await rec.forUser(e.userId, k)).items.map((i) => i.productId);
      const theirs = pop.top(k, mine);
      for (const item of e.items ?? []) {
        scored++;
        if (touched.get(e.userId)?.has(item.productId)) touchedBefore++;
        const r1 = rankOf(ours, item.productId);
        const r2 = rankOf(theirs, item.productId);
        s.hits += r1 > 0 ? 1 : 0;
        s.rr += r1;
        b.hits += r2 > 0 ? 1 : 0;
        b.rr += r2;
      }
    }
    const plan = planEvents([e], await store.sessions(sessionsOf([e])), params);
    const applied = await store.apply({ partition: 0, expectedSeq: seq, newSeq: seq + 1 }, plan.ops);
    if (applied.status !== 'applied') throw new Error(`the store refused event ${seq + 1}: ${JSON.stringify(applied)}`);
    seq++;
    pop.add(e);
    for (const x of interactionsOf(e)) {
      let mine = touched.get(x.userId);
      if (!mine) touched.set(x.userId, (mine = new Set()));
      mine.add(x.productId);
    }
    if (e.type === 'order_placed') {
      let mine = bought.get(e.userId);
      if (!mine) bought.set(e.userId, (mine = new Set()));
      for (const item of e.items ?? []) mine.add(item.productId);
    }
  }
  const score = (x: { hits: number; rr: number }): EvalScore => ({ purchases: scored, hits: x.hits, hr: scored ? x.hits / scored : 0, mrr: scored ? x.rr / scored : 0 });
  return { events: events.length, scored, service: score(s), baseline: score(b), touchedBefore };
}

export async function evalRecs(args: string[], params: RecParams, redisStore?: (url: string, params: RecParams) => Promise<{ store: RecStore; close(): Promise<void> }>): Promise<number> {
  const { values, positionals } = parseArgs({
    args,
    allowPositionals: true,
    options: {
      file: { type: 'string' },
      k: { type: 'string', default: '10' },
      'warmup-minutes': { type: 'string', default: '30' },
      'include-viewed': { type: 'boolean', default: false },
      redis: { type: 'string' },
      help: { type: 'boolean', default: false },
    },
  });
  if (values.help || positionals[0] !== 'recs' || !values.file) {
    console.log(EVAL_USAGE);
    return values.help ? 0 : 2;
  }
  if (!fs.existsSync(values.file)) throw new Error(`no such file: ${values.file}`);
  const k = Number(values.k);
  const warmup = Number(values['warmup-minutes']);
  if (!Number.isInteger(k) || k < 1 || k > 100) throw new Error('--k must be a whole number 1..100');
  if (!Number.isFinite(warmup) || warmup < 0) throw new Error('--warmup-minutes must be a number >= 0');
  const p: RecParams = { ...params, includeViewed: params.includeViewed || values['include-viewed']! };
  const { events, bad } = await readLog(values.file);
  let store: RecStore = new InMemoryRecStore(p);
  let close = async () => undefined as void;
  if (values.redis) {
    if (!redisStore) throw new Error('--redis is not available here');
    ({ store, close } = await redisStore(values.redis, p));
  }
  const t0 = Date.now();
  try {
    const r = await evaluate(events, store, p, k, warmup * 60_000);
    // the same replay with the other includeViewed setting, in memory: what the user's own products add
    const other: RecParams = { ...p, includeViewed: !p.includeViewed };
    const ablation = await evaluate(events, new InMemoryRecStore(other), other, k, warmup * 60_000);
    const pct = (x: number) => `${(100 * x).toFixed(2)} %`;
    const line = (name: string, x: EvalScore) => `  ${name.padEnd(64)} HR@${k} ${pct(x.hr).padStart(8)} (${x.hits}/${x.purchases})  MRR ${x.mrr.toFixed(4)}`;
    const variant = (q: RecParams) => (q.includeViewed ? 'service: co-occurrence + own recent products + trending' : 'co-occurrence + trending, own recent products left out');
    console.log(
      `eval recs: ${r.events} events (${bad} bad rows skipped), ${r.scored} purchases scored after a ${warmup}-minute warm-up; ${values.redis ? 'Redis' : 'in-memory'} store (the service's ranking code), ${((Date.now() - t0) / 1000).toFixed(1)} s`,
    );
    console.log(
      `  settings: weights view ${p.weights.view} / cart ${p.weights.cart} / purchase ${p.weights.purchase}, co-occurrence half-life ${p.coocHalfLifeMs} ms, trending half-life ${p.trendingHalfLifeMs} ms, RECS_INCLUDE_VIEWED=${p.includeViewed}`,
    );
    console.log(line(variant(p), r.service));
    console.log(line('baseline: popularity so far (same exclusions)', r.baseline));
    console.log(`  HR@${k} ratio service / baseline: ${r.baseline.hr > 0 ? (r.service.hr / r.baseline.hr).toFixed(2) : 'n/a (baseline 0)'}  (goal ≥ 2)`);
    console.log(line(`ablation: ${variant(other)}`, ablation.service));
    console.log(`  ${r.touchedBefore} of ${r.scored} purchased products had been viewed or carted by the buyer before`);
  } finally {
    await close();
  }
  return 0;
}

/** `--redis URL`: the service's Redis store under a fresh key prefix, removed afterwards. */
export async function openRedisRecStore(url: string, params: RecParams): Promise<{ store: RecStore; close(): Promise<void> }> {
  const redis = await connectRedis(url, 'tidemark-eval');
  const prefix = `eval-${Date.now().toString(36)}:`;
  const store = new RedisRecStore(redis, { params, sessionTtlMs: 86_400_000, userTtlMs: 86_400_000, itemTtlMs: 86_400_000, prefix });
  return {
    store,
    close: async () => {
      let cursor = '0';
      do {
        const [next, keys] = await redis.scan(cursor, 'MATCH', `${prefix}*`, 'COUNT', 1000);
        if (keys.length) await redis.del(...keys);
        cursor = next;
      } while (cursor !== '0');
      await redis.quit();
    },
  };
}
