import { BeforeApplicationShutdown, Inject, Injectable } from '@nestjs/common';
import { CONFIG, TidemarkConfig } from '@tidemark/config';
import type { WatermarkDto, WindowResultDto } from '@tidemark/contracts';
import { Alert, Fetched, Snapshot, SnapshotInputs, assembleSnapshot, rangeStart } from './snapshot';
import { fetchJson, fetchStatus, fetchText } from './upstream';

/** Minutes of windows the charts show. */
export const RANGE_MINUTES = 30;
const SERVICES = ['ingestion', 'dedup', 'aggregation', 'recommendation', 'alerting'] as const;

type Listener = (snapshot: Snapshot) => void;

/**
 * Assembles snapshots from the other services' public APIs and pushes one to every SSE listener each
 * `DASHBOARD_REFRESH_MS` while anyone listens (one round at a time, shared by all listeners).
 */
@Injectable()
export class DashboardService implements BeforeApplicationShutdown {
  private readonly listeners = new Set<Listener>();
  private timer: NodeJS.Timeout | undefined;
  private running: Promise<Snapshot> | undefined;
  private last: Snapshot | undefined;
  private readonly closers = new Set<() => void>();

  constructor(@Inject(CONFIG) private readonly config: TidemarkConfig) {}

  /** A fresh snapshot (joins a round already under way). */
  snapshot(): Promise<Snapshot> {
    if (!this.running) {
      this.running = this.assemble().finally(() => (this.running = undefined));
    }
    return this.running;
  }

  /** Calls `listener` with a snapshot now and every refresh; returns the unsubscribe function. */
  subscribe(listener: Listener, close: () => void): () => void {
    this.listeners.add(listener);
    this.closers.add(close);
    if (this.last) listener(this.last);
    if (!this.timer) {
      void this.tick();
      this.timer = setInterval(() => void this.tick(), this.config.dashboardRefreshMs);
    }
    return () => {
      this.listeners.delete(listener);
      this.closers.delete(close);
      if (this.listeners.size === 0 && this.timer) {
        clearInterval(this.timer);
        this.timer = undefined;
      }
    };
  }

  /** Recommendations for one user, passed through from the recommendation service. */
  recommendations(userId: string, k: number): Promise<Fetched<unknown>> {
    const u = this.config.upstreams.recommendation;
    return fetchJson(`${u}/v1/recommendations/users/${encodeURIComponent(userId)}?k=${k}`, this.config.dashboardUpstreamTimeoutMs);
  }

  /** Ends every open stream before the HTTP server closes (it waits for open connections). */
  beforeApplicationShutdown(): void {
    if (this.timer) clearInterval(this.timer);
    this.timer = undefined;
    for (const close of [...this.closers]) close();
  }

  private async tick(): Promise<void> {
    if (this.running) return; // the previous round is still waiting for an upstream
    const snapshot = await this.snapshot();
    for (const l of [...this.listeners]) l(snapshot);
  }

  private async assemble(): Promise<Snapshot> {
    const t = this.config.dashboardUpstreamTimeoutMs;
    const { aggregation, alerting } = this.config.upstreams;
    const now = Date.now();
    const watermark = await fetchJson<WatermarkDto>(`${aggregation}/v1/watermark`, t);
    const from = rangeStart(watermark.ok ? watermark.value.watermark : null, now, RANGE_MINUTES);
    const range = (metric: string, minutes = 0) => fetchJson<WindowResultDto[]>(`${aggregation}/v1/metrics/${metric}?from=${from - minutes * 60_000}&limit=10000`, t);
    const alerts = async (): Promise<Fetched<Alert[]>> => {
      const [firing, pending] = await Promise.all(
        ['firing', 'pending'].map((state) => fetchJson<{ alerts: Alert[] }>(`${alerting}/v1/alerts?state=${state}`, t)),
      );
      if (!firing.ok) return firing;
      if (!pending.ok) return pending;
      return { ok: true, value: [...(firing.value.alerts ?? []), ...(pending.value.alerts ?? [])] };
    };
    const [gmv, orders, uniqueVisitors, funnel, topProducts, paymentFailure, lateEvents, unpaidOrders, alertList, services] = await Promise.all([
      range('gmv'),
      range('orders'),
      range('unique_visitors'),
      range('funnel'),
      fetchJson<{ items?: { key: string; value: number }[] }>(`${aggregation}/v1/metrics/top_products/top?k=10`, t),
      range('payment_failure_rate'),
      range('late_events'),
      range('unpaid_orders', 15),
      alerts(),
      Promise.all(
        SERVICES.map(async (name) => {
          const base = this.config.upstreams[name];
          const [health, metrics] = await Promise.all([fetchStatus(`${base}/health/ready`, t), fetchText(`${base}/metrics`, t)]);
          return { name, health, metrics };
        }),
      ),
    ]);
    const inputs: SnapshotInputs = {
      now,
      minutes: RANGE_MINUTES,
      watermark,
      gmv,
      orders,
      uniqueVisitors,
      funnel,
      topProducts,
      paymentFailure,
      lateEvents,
      unpaidOrders,
      alerts: alertList,
      services,
      previous: this.last,
    };
    this.last = assembleSnapshot(inputs);
    return this.last;
  }
}
