import { Counter, Gauge, Histogram, Registry, collectDefaultMetrics } from 'prom-client';

/**
 * One Prometheus registry per process, labelled with the service name. Services declare their own
 * counters and histograms through it (`tidemark_…`, base units: seconds, bytes); `/metrics` renders it.
 * Node's default process metrics keep their standard names (`process_cpu_seconds_total`, `nodejs_…`), so
 * stock Node.js dashboards find them. `promtool check metrics` passes on every service (test/observability).
 */
export class MetricsRegistry {
  readonly registry = new Registry();

  constructor(readonly service: string) {
    this.registry.setDefaultLabels({ service });
    // The event-loop lag is sampled every 100 ms, not prom-client's default 10: a 10-ms timer wakes an idle
    // process 100 times a second, which was most of its idle CPU (6–8 → 2–4 ms a second; docs/benchmarks.md).
    collectDefaultMetrics({ register: this.registry, eventLoopMonitoringPrecision: 100 });
    // prom-client also names three gauges `…_total`, which Prometheus reserves for counters; their numbers
    // are the sums of `nodejs_active_handles`, `…_requests` and `…_resources` (by type), which stay.
    for (const name of ['handles', 'requests', 'resources']) this.registry.removeSingleMetric(`nodejs_active_${name}_total`);
  }

  counter<L extends string>(name: string, help: string, labelNames: readonly L[] = []): Counter<L> {
    return this.getOrCreate(name, () => new Counter({ name, help, labelNames, registers: [this.registry] })) as Counter<L>;
  }

  /** `collect` runs at every scrape (it may be async): read a value then, rather than when something happened. */
  gauge<L extends string>(name: string, help: string, labelNames: readonly L[] = [], collect?: (gauge: Gauge<L>) => void | Promise<void>): Gauge<L> {
    return this.getOrCreate(
      name,
      () =>
        new Gauge<L>({
          name,
          help,
          labelNames,
          registers: [this.registry],
          ...(collect ? { collect: async function (this: Gauge<L>) { await collect(this); } } : {}),
        }),
    ) as Gauge<L>;
  }

  histogram<L extends string>(name: string, help: string, labelNames: readonly L[] = [], buckets = LATENCY_BUCKETS_SECONDS): Histogram<L> {
    return this.getOrCreate(name, () => new Histogram({ name, help, labelNames, buckets, registers: [this.registry] })) as Histogram<L>;
  }

  render(): Promise<string> {
    return this.registry.metrics();
  }

  get contentType(): string {
    return this.registry.contentType;
  }

  private getOrCreate<T>(name: string, create: () => T): T {
    return (this.registry.getSingleMetric(name) as T | undefined) ?? create();
  }
}

export const LATENCY_BUCKETS_SECONDS = [0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10];
