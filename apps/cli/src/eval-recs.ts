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
import { InMemoryRecStore, RecParams, RecStore, Recommender, SIGNAL_NAMES, checkpointOps, interactionsOf, planEvents, sessionsOf } from '@tidemark/recommend';
import { SAMPLES, displayPath, mapOnlineRetail, mapRees46 } from '@tidemark/simulator';
import { connectRedis } from '@tidemark/state';
import { RedisRecStore } from '../../recommendation/src/redis-rec.store';
import { ServiceUnderTest, evaluateBasket, evaluateNextItem, jsonOf, tableOf } from './eval-session';

const TASKS = ['next-purchase', 'next-item', 'basket'] as const;

export const EVAL_USAGE = `Usage: tidemark eval recs --task T --file <csv> [options]
  --task T             next-purchase (default): the user's top k before each purchase (REES46 log)
                       next-item: at each view or cart of a visit, the visit's next new product (REES46 log)
                       basket: one line of each order left out, recommended from the rest (UCI Online Retail)
  --file F             the log; the samples in the repository are
                       ${displayPath(SAMPLES.rees46)} (REES46)
                       ${displayPath(SAMPLES.onlineRetail)} (UCI, basket)
  --k N                list length (default 10)
  --warmup-minutes M   events in the first M minutes of the log are applied but not scored (default 30)
  --json               next-item, basket: {"task","k","rows":[{"name","seenExcluded","hr","mrr","coverage"}]}
  --ablation           next-item, basket: also the service with each RECS_SIGNALS signal off in turn
  --include-viewed     next-purchase: also recommend the user's own recent products (RECS_INCLUDE_VIEWED)
  --redis URL          run the service on the Redis store (an empty database you can spare) instead of in memory
  Other settings (signals, half-lives, weights, sizes) come from the RECS_* environment variables, as in the service.`;

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

/** A UCI Online Retail CSV as add_to_cart events (mapOnlineRetail), in event-time order (stable). */
async function readRetail(file: string): Promise<{ events: TidemarkEvent[]; bad: number }> {
  const events: TidemarkEvent[] = [];
  const ids = new Set<string>();
  let bad = 0;
  const parser = fs.createReadStream(file).pipe(parse({ from_line: 2, relax_column_count: true, relax_quotes: true, skip_empty_lines: true }));
  for await (const rec of parser as AsyncIterable<string[]>) {
    const m = mapOnlineRetail(rec);
    if (m.ok) {
      if (!ids.has(m.event.id)) {
        ids.add(m.event.id);
        events.push(m.event);
      }
    } else if (!m.skipped) bad++;
  }
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
  let seq = await store.restore(0); // taken on before the first event (0: a fresh store)
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
    const applied = await checkpointOps(store, { partition: 0, expectedSeq: seq, newSeq: seq + 1 }, plan.ops);
    if (applied.status !== 'ok') throw new Error(`the store refused event ${seq + 1}: ${JSON.stringify(applied)}`);
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

class UsageError extends Error {}

/** --task next-item | basket: the session answer against the baselines, optionally with the ablation. */
async function sessionTask(
  task: 'next-item' | 'basket',
  file: string,
  p: RecParams,
  k: number,
  warmup: number,
  json: boolean,
  ablation: boolean,
  redis: string | undefined,
  redisStore?: (url: string, params: RecParams) => Promise<{ store: RecStore; close(): Promise<void> }>,
): Promise<number> {
  const { events, bad } = task === 'basket' ? await readRetail(file) : await readLog(file);
  let store: RecStore = new InMemoryRecStore(p);
  let close = async () => undefined as void;
  if (redis) {
    if (!redisStore) throw new Error('--redis is not available here');
    ({ store, close } = await redisStore(redis, p));
  }
  const t0 = Date.now();
  try {
    const services: ServiceUnderTest[] = [{ name: 'service', store, params: p }];
    if (ablation) {
      // each switched-on signal off in turn, each variant on its own in-memory store, in the same replay
      for (const s of SIGNAL_NAMES) {
        if (!p.signals[s]) continue;
        const q: RecParams = { ...p, signals: { ...p.signals, [s]: false } };
        services.push({ name: `service without ${s}`, store: new InMemoryRecStore(q), params: q });
      }
    }
    const run = task === 'basket' ? evaluateBasket : evaluateNextItem;
    const r = await run(events, services, k, warmup * 60_000);
    if (json) {
      const variants = ablation ? r.rows.filter((x) => x.name.startsWith('service without ')) : undefined;
      console.log(JSON.stringify(jsonOf(r, variants)));
      return 0;
    }
    const on = SIGNAL_NAMES.filter((s) => p.signals[s]).join(', ') || 'none';
    console.log(
      `eval recs --task ${task}: ${r.events} events (${bad} bad rows skipped), ${r.products} products, ${warmup}-minute warm-up; ${redis ? 'Redis' : 'in-memory'} store (the service's code), ${((Date.now() - t0) / 1000).toFixed(1)} s`,
    );
    console.log(`  service signals (RECS_SIGNALS): ${on}; anchors ${p.sessionAnchors}, sequence steps ${p.seqSteps}, kNN ${p.knnNeighbours} of ${p.knnVisits} visits per product`);
    console.log(tableOf(r));
  } finally {
    await close();
  }
  return 0;
}

export async function evalRecs(args: string[], params: RecParams, redisStore?: (url: string, params: RecParams) => Promise<{ store: RecStore; close(): Promise<void> }>): Promise<number> {
  let values;
  let positionals: string[];
  let task: string;
  let k: number;
  let warmup: number;
  try {
    ({ values, positionals } = parseArgs({
      args,
      allowPositionals: true,
      options: {
        task: { type: 'string', default: 'next-purchase' },
        file: { type: 'string' },
        k: { type: 'string', default: '10' },
        'warmup-minutes': { type: 'string', default: '30' },
        'include-viewed': { type: 'boolean', default: false },
        json: { type: 'boolean', default: false },
        ablation: { type: 'boolean', default: false },
        redis: { type: 'string' },
        help: { type: 'boolean', default: false },
      },
    }));
    if (values.help) {
      console.log(EVAL_USAGE);
      return 0;
    }
    if (positionals[0] !== 'recs' || positionals.length > 1) throw new UsageError(positionals.length ? `unknown argument "${positionals.slice(positionals[0] === 'recs' ? 1 : 0).join(' ')}"` : 'name what to evaluate: recs');
    if (!values.file) throw new UsageError('--file is required');
    task = values.task!;
    if (!TASKS.includes(task as (typeof TASKS)[number])) throw new UsageError(`--task must be one of ${TASKS.join(', ')}, not "${task}"`);
    k = Number(values.k);
    warmup = Number(values['warmup-minutes']);
    if (!Number.isInteger(k) || k < 1 || k > 100) throw new UsageError('--k must be a whole number 1..100');
    if (!Number.isFinite(warmup) || warmup < 0) throw new UsageError('--warmup-minutes must be a number >= 0');
  } catch (e) {
    if (!(e instanceof UsageError) && !(e instanceof TypeError)) throw e; // parseArgs: TypeError (ERR_PARSE_ARGS_*)
    console.error(`tidemark eval: ${(e as Error).message}`);
    console.log(EVAL_USAGE);
    return 2;
  }
  if (!fs.existsSync(values.file)) throw new Error(`no such file: ${values.file}`);
  const p: RecParams = { ...params, includeViewed: params.includeViewed || values['include-viewed']! };
  if (task !== 'next-purchase') return sessionTask(task as 'next-item' | 'basket', values.file, p, k, warmup, values.json!, values.ablation!, values.redis, redisStore);
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
    if (values.json) {
      const row = (name: string, x: EvalScore) => ({ name, seenExcluded: false, hr: x.hr, mrr: x.mrr, coverage: null });
      console.log(JSON.stringify({ task, k, rows: [row('service', r.service), row('popularity', r.baseline)] }));
      return 0;
    }
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
