import { Inject, Injectable } from '@nestjs/common';
import type Redis from 'ioredis';
import { WatermarkDto, WindowResultDto } from '@tidemark/contracts';
import { CONFIG, TidemarkConfig } from '@tidemark/config';
import { REDIS } from '@tidemark/state';
import { AlignedWindows, CompiledJoinMetric, CompiledMetric, MetricDefinition } from '@tidemark/streaming';
import { METRICS } from './aggregation.constants';
import { Firer } from './firer';
import { JOIN_KEYS, decodeJoin, joinValue } from './join-store';
import { LoadedMetrics } from './metric-loader';
import { KEYS, WindowRef, indexMember, parseIndexMember, readWindow } from './window-store';

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
/** Window starts a key query looks up directly at most; a wider range pages through the index. */
export const KEY_CANDIDATES_MAX = 10_000;

/** Answers the query API from the window state (open windows: partial values) and the stored results. */
@Injectable()
export class QueryService {
  constructor(
    @Inject(REDIS) private readonly redis: Redis,
    @Inject(CONFIG) private readonly config: TidemarkConfig,
    @Inject(METRICS) private readonly metrics: LoadedMetrics,
    private readonly firer: Firer,
  ) {}

  definitions(): { metrics: readonly MetricDefinition[] } {
    return { metrics: this.metrics.definitions };
  }

  private metric(name: string): CompiledMetric {
    const m = this.metrics.set.get(name);
    if (!m) throw new QueryError(QueryErrorCode.UnknownMetric, `no metric "${name}"; GET /v1/metrics lists them`);
    return m;
  }

  /**
   * Every window of `name` whose start is in [from, to), oldest first (windows with the same start in index
   * order: by key, then end), optionally of one key. `limit` is pushed into Redis (`ZRANGEBYSCORE … LIMIT`):
   * at most `limit + 1` index entries are read without a key. With a key, a tumbling or sliding metric's
   * windows are looked up by their aligned starts (no other key's entry is read); other metrics (sessions,
   * joins), or a range without `from`, page through the index (RANGE_PAGE entries at a time) until `limit + 1`
   * windows of the key are found or the range ends.
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
    const min = q.from ?? '-inf';
    const max = q.to === undefined ? '+inf' : `(${q.to}`;
    const idx = KEYS.index(name);
    let windows: WindowRef[] | undefined;
    if (q.key === undefined) {
      windows = (await this.redis.zrangebyscore(idx, min, max, 'LIMIT', 0, limit + 1)).map((m) => parseIndexMember(name, m));
    } else {
      // A tumbling or sliding metric: the key's windows are looked up where they would be; else page the index.
      if (metric.kind === 'window' && metric.window.type === 'aligned' && q.from !== undefined) {
        windows = await this.alignedOfKey(metric.window.assigner, name, q.key, q.from, q.to, limit);
      }
      if (windows === undefined) {
        const found: WindowRef[] = [];
        for (let offset = 0; found.length <= limit; offset += RANGE_PAGE) {
          const page = await this.redis.zrangebyscore(idx, min, max, 'LIMIT', offset, RANGE_PAGE);
          for (const m of page) {
            const w = parseIndexMember(name, m);
            if (w.key === q.key) found.push(w);
          }
          if (page.length < RANGE_PAGE) break;
        }
        windows = found;
      }
    }
    const cut = windows.slice(0, limit);
    const results = await Promise.all(cut.map((w) => this.window(metric, w)));
    return { results: results.filter((r): r is WindowResultDto => r !== null), truncated: windows.length > limit };
  }

  /**
   * The windows of one key of a tumbling or sliding metric with a start in [from, to): their starts are known
   * (aligned to the hop), so each is looked up in the index (one ZSCORE each, pipelined) instead of paging
   * through every key's entries. Undefined (page the index instead) when the range holds more than
   * KEY_CANDIDATES_MAX starts.
   */
  private async alignedOfKey(assigner: AlignedWindows, metric: string, key: string, from: number, to: number | undefined, limit: number): Promise<WindowRef[] | undefined> {
    const first = assigner.lastStart(from) < from ? assigner.lastStart(from) + assigner.hop : assigner.lastStart(from);
    const end = to ?? Number.MAX_SAFE_INTEGER;
    if (end <= first) return [];
    if ((end - first) / assigner.hop > KEY_CANDIDATES_MAX) return undefined;
    const candidates: WindowRef[] = [];
    for (let s = first; s < end; s += assigner.hop) candidates.push({ metric, key, start: s, end: s + assigner.size });
    const pipeline = this.redis.pipeline();
    for (const w of candidates) pipeline.zscore(KEYS.index(metric), indexMember(w));
    const found = (await pipeline.exec()) ?? [];
    const out: WindowRef[] = [];
    for (let i = 0; i < candidates.length && out.length <= limit; i++) {
      const [err, score] = found[i];
      if (err) throw err;
      if (score !== null) out.push(candidates[i]);
    }
    return out;
  }

  private async window(metric: CompiledMetric, w: WindowRef): Promise<WindowResultDto | null> {
    if (metric.kind === 'join') return this.join(metric, w);
    const state = await readWindow(this.redis, w, metric.aggregation.kind, metric.aggregation);
    if (state) {
      const final = state.meta.version > 0 && state.meta.updates === state.meta.firedAt;
      return { metric: w.metric, key: w.key, windowStart: w.start, windowEnd: w.end, value: state.value, final, version: state.meta.version };
    }
    const stored = await this.redis.hget(KEYS.results(w.metric), indexMember(w));
    return stored ? (JSON.parse(stored) as WindowResultDto) : null;
  }

  /** A join key: its current state while kept (final once resolved), else its last published result. */
  private async join(metric: CompiledJoinMetric, w: WindowRef): Promise<WindowResultDto | null> {
    const stored = decodeJoin(await this.redis.hgetall(JOIN_KEYS.state(w.metric, w.key)));
    if (stored?.left && stored.left.ts === w.start) {
      const [match] = await this.redis.zrangebyscore(JOIN_KEYS.rights(w.metric, w.key), w.start + metric.join.lowerMs, `(${w.end}`, 'LIMIT', 0, 1);
      const value = joinValue(stored.left, match === undefined ? null : Number(match));
      return { metric: w.metric, key: w.key, windowStart: w.start, windowEnd: w.end, value, final: stored.resolved, version: stored.emitted?.version ?? 0 };
    }
    const result = await this.redis.hget(KEYS.results(w.metric), indexMember(w));
    return result ? (JSON.parse(result) as WindowResultDto) : null;
  }

  /**
   * The ranking of the latest window: for a top-K metric its top `k` members; for a keyed metric with a
   * numeric value (e.g. product_views), its keys by value.
   */
  async top(name: string, k: number): Promise<TopAnswer | null> {
    const metric = this.metric(name);
    if (metric.kind === 'join') throw new QueryError(QueryErrorCode.NotRanked, `metric "${name}" is a join; it has no ranking`);
    if (!Number.isInteger(k) || k < 1 || k > 1000) throw new QueryError(QueryErrorCode.BadParameter, 'k must be a whole number from 1 to 1000');
    const latest = await this.redis.zrevrangebyscore(KEYS.index(name), '+inf', '-inf', 'WITHSCORES', 'LIMIT', 0, 1);
    if (latest.length === 0) return null;
    const start = Number(latest[1]);
    const members = await this.redis.zrangebyscore(KEYS.index(name), start, start);
    const windows = (await Promise.all(members.map((m) => this.window(metric, parseIndexMember(name, m))))).filter((r): r is WindowResultDto => r !== null);
    if (windows.length === 0) return null;
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
