import { Inject, Injectable } from '@nestjs/common';
import { WatermarkDto, WindowResultDto, partitionOf } from '@tidemark/contracts';
import { CONFIG, TidemarkConfig } from '@tidemark/config';
import { REDIS, type RedisClient, decodeKeyPart, encodeKeyPart } from '@tidemark/state';
import {
  AlignedWindows,
  CompiledJoinMetric,
  CompiledMetric,
  CompiledWindowMetric,
  MetricDefinition,
  decodeSessions,
  joinResultValue,
  mergeJoinPartials,
  mergeWindowCells,
  panesOfWindow,
  windowsOfCell,
} from '@tidemark/streaming';
import { METRICS } from './aggregation.constants';
import { Firer } from './firer';
import { LoadedMetrics } from './metric-loader';
import { AGG_KEYS, RedisAggregationStore, resultMember } from './redis-aggregation.store';

export enum QueryErrorCode {
  UnknownMetric = 'unknown_metric',
  BadParameter = 'bad_parameter',
  NotRanked = 'not_ranked',
}

export class QueryError extends Error {
  constructor(
    readonly code: QueryErrorCode,
    message: string,
  ) {
    super(message);
  }
}

export interface RangeQuery {
  from?: number;
  to?: number;
  key?: string;
  limit?: number;
}

export interface RangeAnswer {
  results: WindowResultDto[];
  /** True when `limit` cut the answer. */
  truncated: boolean;
}

export interface TopAnswer {
  metric: string;
  windowStart: number;
  windowEnd: number;
  final: boolean;
  items: { key: string; value: number }[];
}

export const MAX_LIMIT = 10_000;
/** Index entries read per Redis call by a range query with a key. */
export const RANGE_PAGE = 1000;
/** Open windows a query merges from the partitions' panes at most (the newest ones). */
export const OPEN_WINDOWS_MAX = 64;
/** Window starts a key query looks up directly at most; a wider range pages through the index. */
export const KEY_CANDIDATES_MAX = 10_000;

/**
 * Answers the query API from committed state (docs/checkpoints.md "Reads"): published results (the firer's,
 * and the partitions' session results) and, for windows not fired yet, their partial values merged from every
 * partition's last checkpoint (final: false, version 0) — at most one checkpoint interval behind the stream.
 */
@Injectable()
export class QueryService {
  private readonly store: RedisAggregationStore;

  constructor(
    @Inject(REDIS) private readonly redis: RedisClient,
    @Inject(CONFIG) private readonly config: TidemarkConfig,
    @Inject(METRICS) private readonly metrics: LoadedMetrics,
    private readonly firer: Firer,
  ) {
    this.store = new RedisAggregationStore(redis, metrics.set);
  }

  definitions(): { metrics: readonly MetricDefinition[] } {
    return { metrics: this.metrics.definitions };
  }

  private metric(name: string): CompiledMetric {
    const m = this.metrics.set.get(name);
    if (!m) throw new QueryError(QueryErrorCode.UnknownMetric, `no metric "${name}"; GET /v1/metrics lists them`);
    return m;
  }

  /**
   * Every window of `name` whose start is in [from, to), oldest first (by start, end, then key), optionally of
   * one key; at most `limit` (then `truncated`). Published windows come from the result index (`LIMIT` pushed
   * into Redis; with a key, a tumbling or sliding metric's windows are looked up by their aligned starts),
   * windows still open from the partitions' checkpointed panes, sessions and joins.
   */
  async range(name: string, q: RangeQuery): Promise<RangeAnswer> {
    const metric = this.metric(name);
    const limit = q.limit ?? 1000;
    if (!Number.isInteger(limit) || limit < 1 || limit > MAX_LIMIT) throw new QueryError(QueryErrorCode.BadParameter, `limit must be a whole number from 1 to ${MAX_LIMIT}`);
    for (const [field, v] of [['from', q.from], ['to', q.to]] as const) {
      if (v !== undefined && !Number.isSafeInteger(v)) throw new QueryError(QueryErrorCode.BadParameter, `${field} must be epoch milliseconds (an integer)`);
    }
    if (q.key !== undefined && typeof q.key !== 'string') throw new QueryError(QueryErrorCode.BadParameter, 'key must be a string');
    if (q.from !== undefined && q.to !== undefined && q.from > q.to) throw new QueryError(QueryErrorCode.BadParameter, 'from is after to');
    const inRange = (r: WindowResultDto) => (q.from === undefined || r.windowStart >= q.from) && (q.to === undefined || r.windowStart < q.to) && (q.key === undefined || r.key === q.key);
    // What the firer fired through is read before its results: it records results before moving it, so a
    // window is in one of the two reads whatever it does meanwhile.
    const through = metric.kind === 'window' && metric.window.type === 'aligned' ? await this.store.firedThrough(metric.name) : null;
    const published = await this.published(metric, q, limit);
    const open = (await this.open(metric, q, through)).filter(inRange);
    const byId = new Map<string, WindowResultDto>();
    for (const r of published) byId.set(resultMember(r.key, r.windowStart, r.windowEnd), r);
    for (const r of open) if (!byId.has(resultMember(r.key, r.windowStart, r.windowEnd))) byId.set(resultMember(r.key, r.windowStart, r.windowEnd), r);
    const all = [...byId.values()].filter(inRange).sort(byWindow);
    return { results: all.slice(0, limit), truncated: all.length > limit };
  }

  /** Published results in range: the firer's index, or (sessions) every partition's. */
  private async published(metric: CompiledMetric, q: RangeQuery, limit: number): Promise<WindowResultDto[]> {
    const min = q.from ?? '-inf';
    const max = q.to === undefined ? '+inf' : `(${q.to}`;
    const session = metric.kind === 'window' && metric.window.type === 'session';
    const P = this.config.partitions;
    const targets: { hash: string; index: string }[] = session
      ? (q.key !== undefined ? [partitionOf(q.key, P)] : Array.from({ length: P }, (_, p) => p)).map((p) => ({ hash: AGG_KEYS.sessionResults(p, metric.name), index: AGG_KEYS.sessionIndex(p, metric.name) }))
      : [{ hash: AGG_KEYS.results(metric.name), index: AGG_KEYS.index(metric.name) }];
    if (q.key !== undefined && metric.kind === 'window' && metric.window.type === 'aligned' && q.from !== undefined) {
      const members = alignedMembers(metric.window.assigner, q.key, q.from, q.to);
      if (members !== undefined) return parse(members.length ? await this.redis.hmget(targets[0].hash, ...members) : []);
    }
    const out: WindowResultDto[] = [];
    for (const t of targets) {
      const members: string[] = [];
      for (let offset = 0; members.length <= limit; offset += RANGE_PAGE) {
        const page = await this.redis.zrangebyscore(t.index, min, max, 'LIMIT', offset, RANGE_PAGE);
        for (const m of page) if (q.key === undefined || (JSON.parse(m) as [string])[0] === q.key) members.push(m);
        if (page.length < RANGE_PAGE || (q.key === undefined && members.length > limit)) break;
      }
      if (members.length) out.push(...parse(await this.redis.hmget(t.hash, ...members.slice(0, limit + 1))));
    }
    return out;
  }

  /** Windows not published yet, with their partial values from the partitions' last checkpoints. */
  private async open(metric: CompiledMetric, q: RangeQuery, through?: number | null): Promise<WindowResultDto[]> {
    const P = this.config.partitions;
    if (metric.kind === 'join') return this.openJoins(metric, q);
    if (metric.window.type === 'session') {
      const parts = q.key !== undefined ? [partitionOf(q.key, P)] : Array.from({ length: P }, (_, p) => p);
      const out: WindowResultDto[] = [];
      for (const p of parts) {
        const entries = q.key !== undefined ? [[encodeKeyPart(q.key), await this.redis.hget(AGG_KEYS.sessions(p, metric.name), encodeKeyPart(q.key))]] : Object.entries(await this.redis.hgetall(AGG_KEYS.sessions(p, metric.name)));
        for (const [f, v] of entries) {
          if (!f || !v) continue;
          for (const s of decodeSessions(metric.aggregation.kind, v)) {
            if (s.v > 0) continue;
            out.push({ metric: metric.name, key: decodeKeyPart(f), windowStart: s.start, windowEnd: s.end, value: metric.aggregation.result(s.acc), final: false, version: 0 });
          }
        }
      }
      return out;
    }
    return this.openAligned(metric, metric.window.assigner, q, through === undefined ? await this.store.firedThrough(metric.name) : through);
  }

  private async openAligned(metric: CompiledWindowMetric, a: AlignedWindows, q: RangeQuery, firedThrough: number | null): Promise<WindowResultDto[]> {
    const P = this.config.partitions;
    const through = firedThrough ?? -Infinity;
    const lo = Math.max(Number.isFinite(through) ? through - a.size : -Infinity, q.from === undefined ? -Infinity : q.from);
    const hi = q.to === undefined ? Infinity : q.to + a.size;
    const paneLists = await Promise.all(Array.from({ length: P }, (_, p) => this.store.panes(p, metric.name, lo, hi)));
    const panes = [...new Set(paneLists.flat())].sort((x, y) => x - y);
    const starts = new Set<number>();
    for (const pane of panes) for (const w of windowsOfCell(a, pane, null)) if (w.end > through) starts.add(w.start);
    const windows = [...starts].sort((x, y) => x - y).slice(-OPEN_WINDOWS_MAX);
    if (windows.length === 0) return [];
    const need = [...new Set(windows.flatMap((s) => panesOfWindow(a, s)))].filter((p) => panes.includes(p));
    const cells = (await Promise.all(Array.from({ length: P }, (_, p) => (q.key === undefined ? this.store.readPanes(p, metric.name, need) : this.store.readKeyCells(p, metric.name, q.key, need))))).flat();
    const out: WindowResultDto[] = [];
    const agg = metric.aggregation;
    for (const start of windows) {
      for (const [key, acc] of mergeWindowCells(agg, a.size, start, cells)) out.push({ metric: metric.name, key, windowStart: start, windowEnd: start + a.size, value: agg.result(acc), final: false, version: 0 });
    }
    return out;
  }

  /** Orders still kept and not resolved (or resolved as matched in time): their current state, not final. */
  private async openJoins(metric: CompiledJoinMetric, q: RangeQuery): Promise<WindowResultDto[]> {
    const P = this.config.partitions;
    const partials = new Map<string, string[]>();
    for (let p = 0; p < P; p++) {
      const entries: [string, string | null][] = q.key !== undefined ? [[encodeKeyPart(q.key), await this.redis.hget(AGG_KEYS.joins(p, metric.name), encodeKeyPart(q.key))]] : Object.entries(await this.redis.hgetall(AGG_KEYS.joins(p, metric.name)));
      for (const [f, v] of entries) {
        if (!v) continue;
        const key = decodeKeyPart(f);
        partials.set(key, [...(partials.get(key) ?? []), v]);
      }
    }
    const out: WindowResultDto[] = [];
    for (const [key, texts] of partials) {
      const st = mergeJoinPartials(texts);
      if (!st.left) continue;
      out.push({ metric: metric.name, key, windowStart: st.left.ts, windowEnd: st.left.ts + metric.join.upperMs, value: joinResultValue(st, metric.join), final: false, version: 0 });
    }
    return out;
  }

  /**
   * The ranking of the latest window: for a top-K metric its top `k` members; for a keyed metric with a
   * numeric value (e.g. product_views), its keys by value.
   */
  async top(name: string, k: number): Promise<TopAnswer | null> {
    const metric = this.metric(name);
    if (metric.kind === 'join') throw new QueryError(QueryErrorCode.NotRanked, `metric "${name}" is a join; it has no ranking`);
    if (!Number.isInteger(k) || k < 1 || k > 1000) throw new QueryError(QueryErrorCode.BadParameter, 'k must be a whole number from 1 to 1000');
    let windows = await this.open(metric, {});
    if (windows.length === 0) {
      const latest = await this.redis.zrevrangebyscore(AGG_KEYS.index(name), '+inf', '-inf', 'WITHSCORES', 'LIMIT', 0, 1);
      if (latest.length === 0) return null;
      windows = (await this.range(name, { from: Number(latest[1]), to: Number(latest[1]) + 1, limit: MAX_LIMIT })).results;
    }
    if (windows.length === 0) return null;
    const newest = Math.max(...windows.map((w) => w.windowStart));
    windows = windows.filter((w) => w.windowStart === newest);
    const first = windows[0];
    let items: { key: string; value: number }[];
    if (metric.kind === 'window' && metric.aggregation.kind === 'topK') {
      items = (first.value as { member: string; count: number }[]).map((e) => ({ key: e.member, value: e.count }));
    } else if (windows.every((w) => typeof w.value === 'number')) {
      items = windows.map((w) => ({ key: w.key, value: w.value as number })).sort((a, b) => b.value - a.value || (a.key < b.key ? -1 : 1));
    } else {
      throw new QueryError(QueryErrorCode.NotRanked, `metric "${name}" has no ranking (its values are not numbers)`);
    }
    return { metric: name, windowStart: first.windowStart, windowEnd: first.windowEnd, final: windows.every((w) => w.final), items: items.slice(0, k) };
  }

  async watermark(): Promise<WatermarkDto> {
    const state = await this.firer.watermarkState();
    const partitions: Record<string, number> = {};
    for (const [p, s] of Object.entries(state.partitions)) if (s.maxTs !== null) partitions[p] = s.maxTs - this.config.maxOutOfOrdernessMs;
    return { watermark: state.watermark, partitions };
  }
}

const byWindow = (a: WindowResultDto, b: WindowResultDto) => a.windowStart - b.windowStart || a.windowEnd - b.windowEnd || (a.key < b.key ? -1 : a.key > b.key ? 1 : 0);

function parse(values: (string | null)[]): WindowResultDto[] {
  return values.filter((v): v is string => v !== null).map((v) => JSON.parse(v) as WindowResultDto);
}

/**
 * The result members of one key of a tumbling or sliding metric with a start in [from, to): their starts are
 * known (aligned to the hop), so they are looked up directly. Undefined when the range holds more than
 * KEY_CANDIDATES_MAX starts (the index is paged instead).
 */
function alignedMembers(a: AlignedWindows, key: string, from: number, to: number | undefined): string[] | undefined {
  const first = a.lastStart(from) < from ? a.lastStart(from) + a.hop : a.lastStart(from);
  const end = to ?? Number.MAX_SAFE_INTEGER;
  if (end <= first) return [];
  if ((end - first) / a.hop > KEY_CANDIDATES_MAX) return undefined;
  const out: string[] = [];
  for (let s = first; s < end; s += a.hop) out.push(resultMember(key, s, s + a.size));
  return out;
}
