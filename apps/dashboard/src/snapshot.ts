/**
 * The dashboard's snapshot, assembled from what the other services answered. Framework-free and pure: every
 * input (the upstream answers, the previous snapshot's counters, the clock) is an argument.
 */
import type { WatermarkDto, WindowResultDto } from '@tidemark/contracts';

/** What one upstream call gave: its body, or why there is none. */
export type Fetched<T> = { ok: true; value: T } | { ok: false; error: string };

/** A panel's content, or why it cannot be shown (the page says "unavailable" with the reason). */
export type Panel<T> = ({ status: 'ok' } & T) | { status: 'unavailable'; error: string };

export const MINUTE = 60_000;

export interface SeriesPoint {
  windowStart: number;
  value: number;
  final: boolean;
}

export interface Series {
  points: SeriesPoint[];
  /** The latest window the watermark has passed (`final`), if any. */
  lastFinal: SeriesPoint | null;
  /** The latest window, final or not. */
  latest: SeriesPoint | null;
  /** Sum over the points (the range shown). */
  total: number;
}

export interface FunnelView {
  windowStart: number;
  windowEnd: number;
  final: boolean;
  stages: { name: string; sessions: number }[];
  rates: { from: string; to: string; rate: number | null }[];
  /** Sessions of the last stage / sessions of the first, null without first-stage sessions. */
  conversion: number | null;
}

export interface RatioView {
  windowStart: number;
  windowEnd: number;
  final: boolean;
  ratio: number | null;
  numerator: number;
  denominator: number;
}

export interface TopView {
  windowStart: number | null;
  windowEnd: number | null;
  final: boolean;
  items: { key: string; value: number }[];
}

export interface LateView {
  total: number;
  byType: { type: string; count: number }[];
}

export interface UnpaidView {
  /** Orders whose payment has not arrived within the join window (status `unmatched`). */
  count: number;
  amount: number;
}

export interface Alert {
  fingerprint: string;
  rule: string;
  severity: 'info' | 'warning' | 'critical';
  labels: Record<string, string>;
  state: 'pending' | 'firing' | 'resolved';
  value: number | null;
  summary: string;
  startsAt: number;
  updatedAt: number;
  endsAt: number | null;
}

export interface ServiceView {
  name: string;
  /** ready = /health/ready answered 200; not-ready = it answered otherwise; down = no answer. */
  health: 'ready' | 'not-ready' | 'down';
  /** Sum of `tidemark_consumer_lag` over its durables; null when it has none (or no /metrics). */
  lag: number | null;
  lagByDurable: Record<string, number>;
  /** `tidemark_watermark_ms`, when the service exposes one. */
  watermark: number | null;
  /** Sum of `tidemark_consumer_messages_total` (messages processed), or ingestion's accepted records. */
  processed: number | null;
  /** Messages processed per second since the previous snapshot. */
  rate: number | null;
}

export interface Snapshot {
  generatedAt: number;
  /** The range of windows shown: [from, now]. */
  range: { from: number; minutes: number };
  watermark: Panel<WatermarkDto>;
  gmv: Panel<Series>;
  orders: Panel<Series>;
  uniqueVisitors: Panel<Series>;
  funnel: Panel<{ window: FunnelView | null }>;
  topProducts: Panel<TopView>;
  paymentFailure: Panel<{ window: RatioView | null }>;
  lateEvents: Panel<LateView>;
  unpaidOrders: Panel<UnpaidView>;
  alerts: Panel<{ alerts: Alert[] }>;
  services: ServiceView[];
  ingest: { accepted: number | null; rejected: number | null; duplicates: number | null };
}

/** Where the range of windows shown starts: `minutes` whole minutes before the watermark (or the clock, without one). */
export function rangeStart(watermark: number | null, now: number, minutes: number): number {
  const ref = watermark ?? now;
  return Math.floor(ref / MINUTE) * MINUTE - minutes * MINUTE;
}

const num = (v: unknown): number | null => (typeof v === 'number' && Number.isFinite(v) ? v : null);

/** Window results of a numeric metric as a series by window start (values of several keys in one window are added). */
export function toSeries(windows: readonly WindowResultDto[]): Series {
  const byStart = new Map<number, SeriesPoint>();
  for (const w of windows) {
    const v = num(w.value);
    if (v === null) continue;
    const p = byStart.get(w.windowStart);
    if (p) {
      p.value += v;
      p.final = p.final && w.final;
    } else byStart.set(w.windowStart, { windowStart: w.windowStart, value: v, final: w.final });
  }
  const points = [...byStart.values()].sort((a, b) => a.windowStart - b.windowStart);
  let lastFinal: SeriesPoint | null = null;
  for (const p of points) if (p.final) lastFinal = p;
  return { points, lastFinal, latest: points.at(-1) ?? null, total: roundCents(points.reduce((s, p) => s + p.value, 0)) };
}

/** Money and counts add up in binary floating point; keep what is shown stable. */
function roundCents(v: number): number {
  return Math.round(v * 1e6) / 1e6;
}

/** Latest of the windows (by start): the final one preferred only when `preferFinal`. */
function latestWindow(windows: readonly WindowResultDto[], preferFinal: boolean): WindowResultDto | null {
  let latest: WindowResultDto | null = null;
  let latestFinal: WindowResultDto | null = null;
  for (const w of windows) {
    if (!latest || w.windowStart > latest.windowStart) latest = w;
    if (w.final && (!latestFinal || w.windowStart > latestFinal.windowStart)) latestFinal = w;
  }
  return preferFinal ? (latestFinal ?? latest) : latest;
}

/** The latest funnel window (the current one, final or not) with its stages, step rates and overall conversion. */
export function funnelView(windows: readonly WindowResultDto[]): FunnelView | null {
  const w = latestWindow(
    windows.filter((x) => isFunnelValue(x.value)),
    false,
  );
  if (!w) return null;
  const value = w.value as { stages: FunnelView['stages']; rates: FunnelView['rates'] };
  const first = value.stages[0]?.sessions ?? 0;
  const last = value.stages.at(-1)?.sessions ?? 0;
  return {
    windowStart: w.windowStart,
    windowEnd: w.windowEnd,
    final: w.final,
    stages: value.stages,
    rates: value.rates,
    conversion: first > 0 ? last / first : null,
  };
}

function isFunnelValue(v: unknown): boolean {
  return typeof v === 'object' && v !== null && Array.isArray((v as { stages?: unknown }).stages) && Array.isArray((v as { rates?: unknown }).rates);
}

/** The latest final window of a ratio metric (the latest partial one when none is final yet). */
export function ratioView(windows: readonly WindowResultDto[]): RatioView | null {
  const w = latestWindow(
    windows.filter((x) => typeof x.value === 'object' && x.value !== null && 'denominator' in x.value),
    true,
  );
  if (!w) return null;
  const v = w.value as { ratio: number | null; numerator: number; denominator: number };
  return { windowStart: w.windowStart, windowEnd: w.windowEnd, final: w.final, ratio: v.ratio, numerator: v.numerator, denominator: v.denominator };
}

/** The aggregation's `/top` answer (`{metric, items: []}` before any window). */
export function topView(answer: { windowStart?: number; windowEnd?: number; final?: boolean; items?: { key: string; value: number }[] }): TopView {
  return {
    windowStart: answer.windowStart ?? null,
    windowEnd: answer.windowEnd ?? null,
    final: answer.final ?? false,
    items: (answer.items ?? []).map((i) => ({ key: String(i.key), value: Number(i.value) })),
  };
}

/** Late events over the range, by type, largest first. */
export function lateView(windows: readonly WindowResultDto[]): LateView {
  const byType = new Map<string, number>();
  for (const w of windows) {
    const v = num(w.value);
    if (v !== null) byType.set(w.key, (byType.get(w.key) ?? 0) + v);
  }
  const list = [...byType].map(([type, count]) => ({ type, count })).sort((a, b) => b.count - a.count || (a.type < b.type ? -1 : 1));
  return { total: list.reduce((s, x) => s + x.count, 0), byType: list };
}

/**
 * Orders still unpaid after the join window: the latest fired version of each order's result says `unmatched`
 * (an open join — `final: false` — is not counted: its 15 minutes are not over).
 */
export function unpaidView(windows: readonly WindowResultDto[]): UnpaidView {
  const latest = new Map<string, WindowResultDto>();
  for (const w of windows) {
    if (!w.final) continue;
    const prev = latest.get(w.key);
    if (!prev || w.version > prev.version) latest.set(w.key, w);
  }
  let count = 0;
  let amount = 0;
  for (const w of latest.values()) {
    const v = w.value as { status?: string; fields?: { amount?: unknown } } | null;
    if (v?.status !== 'unmatched') continue;
    count++;
    amount += num(v.fields?.amount) ?? 0;
  }
  return { count, amount: roundCents(amount) };
}

const SEVERITY_RANK: Record<Alert['severity'], number> = { critical: 0, warning: 1, info: 2 };

/** Alerts not resolved, firing before pending, then by severity, then the oldest first; one per fingerprint. */
export function activeAlerts(alerts: readonly Alert[]): Alert[] {
  const byFp = new Map<string, Alert>();
  for (const a of alerts) {
    if (a.state === 'resolved') continue;
    const prev = byFp.get(a.fingerprint);
    if (!prev || a.updatedAt >= prev.updatedAt) byFp.set(a.fingerprint, a);
  }
  return [...byFp.values()].sort(
    (a, b) =>
      (a.state === b.state ? 0 : a.state === 'firing' ? -1 : 1) ||
      (SEVERITY_RANK[a.severity] ?? 3) - (SEVERITY_RANK[b.severity] ?? 3) ||
      a.startsAt - b.startsAt ||
      (a.fingerprint < b.fingerprint ? -1 : 1),
  );
}

export interface PromSample {
  labels: Record<string, string>;
  value: number;
}

/** The samples of one metric in Prometheus text exposition format (comments and other metrics skipped). */
export function promSamples(text: string, metric: string): PromSample[] {
  const out: PromSample[] = [];
  for (const raw of text.split('\n')) {
    const line = raw.trim();
    if (!line.startsWith(metric) || line.startsWith('#')) continue;
    const rest = line.slice(metric.length);
    let labels: Record<string, string> = {};
    let valuePart: string;
    if (rest.startsWith('{')) {
      const close = findLabelsEnd(rest);
      if (close < 0) continue;
      labels = parseLabels(rest.slice(1, close));
      valuePart = rest.slice(close + 1);
    } else if (rest.startsWith(' ') || rest.startsWith('\t')) {
      valuePart = rest;
    } else continue; // another metric with this one's name as a prefix
    const value = parsePromNumber(valuePart.trim().split(/\s+/)[0]);
    if (value !== null) out.push({ labels, value });
  }
  return out;
}

function findLabelsEnd(s: string): number {
  let inQuotes = false;
  for (let i = 1; i < s.length; i++) {
    const c = s[i];
    if (inQuotes) {
      if (c === '\\') i++;
      else if (c === '"') inQuotes = false;
    } else if (c === '"') inQuotes = true;
    else if (c === '}') return i;
  }
  return -1;
}

function parseLabels(s: string): Record<string, string> {
  const labels: Record<string, string> = {};
  const re = /\s*([a-zA-Z_][a-zA-Z0-9_]*)\s*=\s*"((?:[^"\\]|\\.)*)"\s*,?/g;
  let m: RegExpExecArray | null;
  while ((m = re.exec(s))) labels[m[1]] = m[2].replace(/\\n/g, '\n').replace(/\\"/g, '"').replace(/\\\\/g, '\\');
  return labels;
}

function parsePromNumber(s: string | undefined): number | null {
  if (s === undefined) return null;
  if (s === '+Inf') return Infinity;
  if (s === '-Inf') return -Infinity;
  const n = Number(s);
  return s === '' || Number.isNaN(n) ? null : n;
}

const sum = (samples: PromSample[]): number | null => (samples.length === 0 ? null : samples.reduce((s, x) => s + x.value, 0));

/** One service's row: health, consumer lag, watermark and processing rate (against the previous snapshot's row). */
export function serviceView(
  name: string,
  health: Fetched<number>,
  metrics: Fetched<string>,
  previous: { processed: number | null; at: number } | undefined,
  now: number,
): ServiceView {
  const h: ServiceView['health'] = !health.ok ? 'down' : health.value === 200 ? 'ready' : 'not-ready';
  const text = metrics.ok ? metrics.value : '';
  const lagSamples = promSamples(text, 'tidemark_consumer_lag');
  const lagByDurable: Record<string, number> = {};
  for (const s of lagSamples) lagByDurable[s.labels.durable ?? ''] = (lagByDurable[s.labels.durable ?? ''] ?? 0) + s.value;
  const wm = promSamples(text, 'tidemark_watermark_ms').map((s) => s.value);
  // messages its consumers processed; for ingestion (no consumer) the records it accepted
  const processed =
    sum(promSamples(text, 'tidemark_consumer_messages_total')) ?? sum(promSamples(text, 'tidemark_ingest_events_total').filter((s) => s.labels.outcome === 'accepted'));
  let rate: number | null = null;
  if (previous && previous.processed !== null && processed !== null && now > previous.at && processed >= previous.processed) {
    rate = ((processed - previous.processed) * 1000) / (now - previous.at);
  }
  return {
    name,
    health: h,
    lag: sum(lagSamples),
    lagByDurable,
    watermark: wm.length > 0 && wm.some((v) => v > 0) ? Math.max(...wm) : null,
    processed,
    rate,
  };
}

/** Ingestion's record counters (`tidemark_ingest_events_total{outcome}`), summed over transports. */
export function ingestCounts(metrics: Fetched<string>): Snapshot['ingest'] {
  const samples = metrics.ok ? promSamples(metrics.value, 'tidemark_ingest_events_total') : [];
  const of = (outcome: string) => (metrics.ok ? samples.filter((s) => s.labels.outcome === outcome).reduce((t, s) => t + s.value, 0) : null);
  return { accepted: of('accepted'), rejected: of('rejected'), duplicates: of('duplicate') };
}

/** Everything one snapshot is made of, as fetched. */
export interface SnapshotInputs {
  now: number;
  minutes: number;
  watermark: Fetched<WatermarkDto>;
  gmv: Fetched<WindowResultDto[]>;
  orders: Fetched<WindowResultDto[]>;
  uniqueVisitors: Fetched<WindowResultDto[]>;
  funnel: Fetched<WindowResultDto[]>;
  topProducts: Fetched<Parameters<typeof topView>[0]>;
  paymentFailure: Fetched<WindowResultDto[]>;
  lateEvents: Fetched<WindowResultDto[]>;
  unpaidOrders: Fetched<WindowResultDto[]>;
  alerts: Fetched<Alert[]>;
  services: { name: string; health: Fetched<number>; metrics: Fetched<string> }[];
  /** The previous snapshot, for rates. */
  previous?: Snapshot;
}

function panel<I, O extends object>(f: Fetched<I>, make: (v: I) => O): Panel<O> {
  if (!f.ok) return { status: 'unavailable', error: f.error };
  try {
    return { status: 'ok', ...make(f.value) };
  } catch (e) {
    return { status: 'unavailable', error: `unexpected answer: ${(e as Error).message}` };
  }
}

const asArray = <T>(v: T[]): T[] => {
  if (!Array.isArray(v)) throw new Error('not an array');
  return v;
};

export function assembleSnapshot(i: SnapshotInputs): Snapshot {
  const wm = i.watermark.ok ? i.watermark.value.watermark : null;
  const prevServices = new Map((i.previous?.services ?? []).map((s) => [s.name, { processed: s.processed, at: i.previous!.generatedAt }]));
  return {
    generatedAt: i.now,
    range: { from: rangeStart(wm, i.now, i.minutes), minutes: i.minutes },
    watermark: panel(i.watermark, (v) => ({ watermark: v.watermark, partitions: v.partitions ?? {} })),
    gmv: panel(i.gmv, (v) => toSeries(asArray(v))),
    orders: panel(i.orders, (v) => toSeries(asArray(v))),
    uniqueVisitors: panel(i.uniqueVisitors, (v) => toSeries(asArray(v))),
    funnel: panel(i.funnel, (v) => ({ window: funnelView(asArray(v)) })),
    topProducts: panel(i.topProducts, topView),
    paymentFailure: panel(i.paymentFailure, (v) => ({ window: ratioView(asArray(v)) })),
    lateEvents: panel(i.lateEvents, (v) => lateView(asArray(v))),
    unpaidOrders: panel(i.unpaidOrders, (v) => unpaidView(asArray(v))),
    alerts: panel(i.alerts, (v) => ({ alerts: activeAlerts(asArray(v)) })),
    services: i.services.map((s) => serviceView(s.name, s.health, s.metrics, prevServices.get(s.name), i.now)),
    ingest: ingestCounts(i.services.find((s) => s.name === 'ingestion')?.metrics ?? { ok: false, error: 'not asked' }),
  };
}
