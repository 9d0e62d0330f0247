/**
 * What the dashboard shows, assembled from the other services' public answers (the aggregation query API,
 * /metrics and /health of every service, the alerting and recommendation APIs). Pure: the caller fetches,
 * this turns the answers into one snapshot; every number on the page comes from here.
 */
import type { WindowResultDto } from '@tidemark/contracts';

export const SERVICE_NAMES = ['ingestion', 'dedup', 'aggregation', 'recommendation', 'alerting'] as const;
export type UpstreamName = (typeof SERVICE_NAMES)[number];

export interface ServiceStatus {
  name: UpstreamName;
  /** /health/ready answered 200. */
  ready: boolean;
  /** Messages waiting for its consumers (sum of tidemark_consumer_lag), null when it has none or did not answer. */
  lag: number | null;
}

export interface MinutePoint {
  windowStart: number;
  windowEnd: number;
  gmv: number | null;
  orders: number | null;
  final: boolean;
}

export interface Snapshot {
  /** When it was assembled (wall clock, ms). */
  at: number;
  services: ServiceStatus[];
  watermark: number | null;
  /** GMV and orders per minute, oldest first (the last `SERIES_MINUTES`, the open minute included). */
  perMinute: MinutePoint[];
  /** The latest minute the watermark has passed (final), or null. */
  lastMinute: { windowStart: number; windowEnd: number; gmv: number; orders: number; uniqueVisitors: number | null } | null;
  funnel: { windowStart: number; windowEnd: number; final: boolean; stages: { name: string; sessions: number }[]; rates: { from: string; to: string; rate: number | null }[] } | null;
  topProducts: { windowStart: number; windowEnd: number; final: boolean; items: { key: string; value: number }[] } | null;
  paymentFailure: {
    series: { windowEnd: number; ratio: number | null }[];
    latest: { windowStart: number; windowEnd: number; ratio: number | null; failed: number; payments: number } | null;
  };
  /** Late events counted over the last hour of event time, by type. */
  lateEvents: { total: number; byType: Record<string, number> };
  /** Active alerts (pending and firing), null when the alerting service did not answer. */
  alerts: Alert[] | null;
  /** For the chosen user, null when none was chosen or the recommendation service did not answer. */
  recommendations: { userId: string; items: { productId: string; score: number; reason: string }[] } | null;
  /** Upstreams that did not answer this time (their panels show "unavailable"). */
  unavailable: UpstreamName[];
}

export interface Alert {
  fingerprint: string;
  rule: string;
  severity: string;
  labels: Record<string, string>;
  state: 'pending' | 'firing' | 'resolved';
  value: number | null;
  summary: string;
  startsAt: number;
  updatedAt: number;
  endsAt: number | null;
}

export const SERIES_MINUTES = 30;
const MINUTE = 60_000;

/** Sum of a gauge's samples in Prometheus text (e.g. tidemark_consumer_lag over its durables); null if absent. */
export function sumGauge(metricsText: string, name: string): number | null {
  let found = false;
  let total = 0;
  for (const line of metricsText.split('\n')) {
    if (!line.startsWith(name) || (line[name.length] !== '{' && line[name.length] !== ' ')) continue;
    const value = Number(line.slice(line.lastIndexOf(' ') + 1));
    if (!Number.isFinite(value)) continue;
    found = true;
    total += value;
  }
  return found ? total : null;
}

function numberValue(r: WindowResultDto | undefined): number | null {
  return r && typeof r.value === 'number' ? r.value : null;
}

/** GMV and orders per minute, by window start, the last `minutes` windows up to the latest one seen. */
export function perMinute(gmv: readonly WindowResultDto[], orders: readonly WindowResultDto[], minutes = SERIES_MINUTES): MinutePoint[] {
  const byStart = new Map<number, MinutePoint>();
  const point = (r: WindowResultDto) => {
    let p = byStart.get(r.windowStart);
    if (!p) byStart.set(r.windowStart, (p = { windowStart: r.windowStart, windowEnd: r.windowEnd, gmv: null, orders: null, final: true }));
    p.final &&= r.final;
    return p;
  };
  for (const r of gmv) point(r).gmv = numberValue(r);
  for (const r of orders) point(r).orders = numberValue(r);
  const starts = [...byStart.keys()].sort((a, b) => a - b);
  if (starts.length === 0) return [];
  // Minutes without orders have no window: show them as zero, so the chart's time axis has no holes.
  const last = starts[starts.length - 1];
  const out: MinutePoint[] = [];
  for (let s = Math.max(starts[0], last - (minutes - 1) * MINUTE); s <= last; s += MINUTE) {
    out.push(byStart.get(s) ?? { windowStart: s, windowEnd: s + MINUTE, gmv: 0, orders: 0, final: true });
  }
  return out;
}

/** The latest window of a metric whose result is final (the watermark passed its end). */
export function latestFinal(results: readonly WindowResultDto[], key?: string): WindowResultDto | undefined {
  let best: WindowResultDto | undefined;
  for (const r of results) {
    if (!r.final || (key !== undefined && r.key !== key)) continue;
    if (!best || r.windowStart > best.windowStart) best = r;
  }
  return best;
}

/** The last final minute: its GMV and orders (0 when no order), and its unique visitors. */
export function lastMinute(gmv: readonly WindowResultDto[], orders: readonly WindowResultDto[], visitors: readonly WindowResultDto[]): Snapshot['lastMinute'] {
  const v = latestFinal(visitors);
  if (!v) return null;
  const at = (rs: readonly WindowResultDto[]) => numberValue(rs.find((r) => r.windowStart === v.windowStart)) ?? 0;
  return { windowStart: v.windowStart, windowEnd: v.windowEnd, gmv: at(gmv), orders: at(orders), uniqueVisitors: numberValue(v) };
}

interface FunnelValue {
  stages: { name: string; sessions: number }[];
  rates: { from: string; to: string; rate: number | null }[];
}

/** The latest funnel window: the last final one, else the open one. */
export function funnel(results: readonly WindowResultDto[]): Snapshot['funnel'] {
  const r = latestFinal(results) ?? [...results].sort((a, b) => b.windowStart - a.windowStart)[0];
  if (!r) return null;
  const v = r.value as FunnelValue;
  return { windowStart: r.windowStart, windowEnd: r.windowEnd, final: r.final, stages: v.stages, rates: v.rates };
}

interface RatioValue {
  ratio: number | null;
  numerator: number;
  denominator: number;
}

export function paymentFailure(results: readonly WindowResultDto[]): Snapshot['paymentFailure'] {
  const sorted = [...results].sort((a, b) => a.windowEnd - b.windowEnd);
  const series = sorted.map((r) => ({ windowEnd: r.windowEnd, ratio: (r.value as RatioValue).ratio }));
  const l = latestFinal(results);
  const v = l?.value as RatioValue | undefined;
  return { series, latest: l && v ? { windowStart: l.windowStart, windowEnd: l.windowEnd, ratio: v.ratio, failed: v.numerator, payments: v.denominator } : null };
}

export function lateEvents(results: readonly WindowResultDto[]): Snapshot['lateEvents'] {
  const byType: Record<string, number> = {};
  let total = 0;
  for (const r of results) {
    const n = numberValue(r) ?? 0;
    byType[r.key] = (byType[r.key] ?? 0) + n;
    total += n;
  }
  return { total, byType };
}

/** Pending and firing alerts, firing first, then the most recent. */
export function activeAlerts(alerts: readonly Alert[]): Alert[] {
  const rank = (a: Alert) => (a.state === 'firing' ? 0 : 1);
  return alerts.filter((a) => a.state !== 'resolved').sort((a, b) => rank(a) - rank(b) || b.updatedAt - a.updatedAt);
}
