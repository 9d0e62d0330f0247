import * as fs from 'node:fs';
import { DEFAULT_METRICS, MetricDefinition, MetricSet, withDefaultMetrics } from '@tidemark/streaming';

/**
 * The metrics the aggregation service computes: the defaults plus the user's (METRICS_FILE, a JSON array of
 * definitions). This version of the service runs tumbling and sliding windows; session windows
 * (cart_abandonment) and interval joins (unpaid_orders) are computed by libs/streaming but not yet kept in
 * Redis by the service, so they are listed as `unsupported`.
 */
export interface LoadedMetrics {
  set: MetricSet;
  supported: MetricDefinition[];
  unsupported: { name: string; reason: string }[];
}

export function isServiceSupported(def: MetricDefinition): boolean {
  return (def.window.type === 'tumbling' || def.window.type === 'sliding') && def.aggregation.type !== 'join';
}

export function loadMetrics(file: string | undefined): LoadedMetrics {
  let all: readonly MetricDefinition[] = DEFAULT_METRICS;
  if (file) {
    let text: string;
    try {
      text = fs.readFileSync(file, 'utf8');
    } catch (e) {
      throw new Error(`METRICS_FILE ${file}: ${(e as Error).message}`);
    }
    let json: unknown;
    try {
      json = JSON.parse(text);
    } catch (e) {
      throw new Error(`METRICS_FILE ${file} is not JSON: ${(e as Error).message}`);
    }
    all = withDefaultMetrics(json);
  }
  const supported = all.filter(isServiceSupported);
  const unsupported = all
    .filter((d) => !isServiceSupported(d))
    .map((d) => ({ name: d.name, reason: d.aggregation.type === 'join' ? 'interval joins are not kept by the service yet' : 'session windows are not kept by the service yet' }));
  return { set: new MetricSet(supported), supported, unsupported };
}
