import { Inject, Injectable } from '@nestjs/common';
import type { WatermarkDto, WindowResultDto } from '@tidemark/contracts';
import { CONFIG, TidemarkConfig } from '@tidemark/config';
import { Alert, SERVICE_NAMES, ServiceStatus, Snapshot, UpstreamName, activeAlerts, funnel, lastMinute, lateEvents, paymentFailure, perMinute, sumGauge } from './snapshot';

const TIMEOUT_MS = 1500;
const MINUTE = 60_000;

/** An upstream that did not answer (or answered an error): its panel shows "unavailable". */
class Unavailable extends Error {}

/**
 * Asks the other services for what the page shows, every refresh, and assembles one Snapshot (snapshot.ts).
 * All requests of a snapshot run at once; one that fails or times out marks its upstream unavailable.
 */
@Injectable()
export class DashboardService {
  private readonly upstreams: TidemarkConfig['dashboard']['upstreams'];
  /** The dashboard's own `read` key for the other services (DASHBOARD_API_KEY), when keys are configured. */
  private readonly headers: Record<string, string>;

  constructor(@Inject(CONFIG) config: TidemarkConfig) {
    this.upstreams = config.dashboard.upstreams;
    this.headers = config.dashboardApiKey ? { authorization: `Bearer ${config.dashboardApiKey}` } : {};
  }

  private async get<T>(name: UpstreamName, path: string, as: 'json' | 'text' = 'json'): Promise<T> {
    let res: Response;
    try {
      res = await fetch(new URL(path, this.upstreams[name]), { headers: this.headers, signal: AbortSignal.timeout(TIMEOUT_MS) });
    } catch {
      throw new Unavailable(name);
    }
    if (!res.ok) {
      await res.arrayBuffer().catch(() => undefined);
      throw new Unavailable(name);
    }
    return (as === 'json' ? await res.json() : await res.text()) as T;
  }

  /** The recommendations of one user, straight from the recommendation service. */
  async recommendations(userId: string, k = 5): Promise<Snapshot['recommendations']> {
    const body = await this.get<{ items: { productId: string; score: number; reason: string }[] }>('recommendation', `/v1/recommendations/users/${encodeURIComponent(userId)}?k=${k}`);
    return { userId, items: body.items };
  }

  async snapshot(userId?: string): Promise<Snapshot> {
    const unavailable = new Set<UpstreamName>();
    const attempt = async <T>(name: UpstreamName, run: () => Promise<T>): Promise<T | null> => {
      try {
        return await run();
      } catch (e) {
        if (!(e instanceof Unavailable)) throw e;
        unavailable.add(name);
        return null;
      }
    };
    const services = Promise.all(
      SERVICE_NAMES.map(async (name): Promise<ServiceStatus> => {
        const ready = (await attempt(name, () => this.get<unknown>(name, '/health/ready'))) !== null;
        const text = ready ? await attempt(name, () => this.get<string>(name, '/metrics', 'text')) : null;
        return { name, ready, lag: text === null ? null : sumGauge(text, 'tidemark_consumer_lag') };
      }),
    );
    const wm = await attempt('aggregation', () => this.get<WatermarkDto>('aggregation', '/v1/watermark'));
    // Event time, not the wall clock: a replay of last year's log shows last year's windows.
    const head = wm?.watermark ?? Date.now();
    const range = (metric: string, fromMs: number) =>
      attempt('aggregation', () => this.get<WindowResultDto[]>('aggregation', `/v1/metrics/${metric}?from=${Math.floor(fromMs)}&limit=10000`)).then((r) => r ?? []);
    const since = head - 30 * MINUTE;
    const [gmv, orders, visitors, funnelRs, failures, late, top, alerts, recs] = await Promise.all([
      range('gmv', since),
      range('orders', since),
      range('unique_visitors', since),
      range('funnel', since),
      range('payment_failure_rate', since),
      range('late_events', head - 60 * MINUTE),
      attempt('aggregation', () => this.get<{ windowStart?: number; windowEnd?: number; final?: boolean; items: { key: string; value: number }[] }>('aggregation', '/v1/metrics/top_products/top?k=10')),
      attempt('alerting', () => this.get<{ alerts: Alert[] }>('alerting', '/v1/alerts')),
      userId ? attempt('recommendation', () => this.recommendations(userId)) : Promise.resolve(null),
    ]);
    return {
      at: Date.now(),
      services: await services,
      watermark: wm?.watermark ?? null,
      perMinute: perMinute(gmv, orders),
      lastMinute: lastMinute(gmv, orders, visitors),
      funnel: funnel(funnelRs),
      topProducts: top && top.windowStart !== undefined ? { windowStart: top.windowStart, windowEnd: top.windowEnd!, final: top.final ?? false, items: top.items } : null,
      paymentFailure: paymentFailure(failures),
      lateEvents: lateEvents(late),
      alerts: alerts ? activeAlerts(alerts.alerts) : null,
      recommendations: recs,
      unavailable: [...unavailable],
    };
  }
}
