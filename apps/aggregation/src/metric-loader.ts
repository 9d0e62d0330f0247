import * as fs from 'node:fs';
import { DEFAULT_METRICS, MetricDefinition, MetricSet, withDefaultMetrics } from '@tidemark/streaming';

/**
 * The metrics the aggregation service computes: the defaults plus the user's (METRICS_FILE, a JSON array of
 * definitions): tumbling, sliding and session windows (window-store.ts) and interval joins (join-store.ts).
 */
export interface LoadedMetrics {
  set: MetricSet;
  definitions: readonly MetricDefinition[];
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
  return { set: new MetricSet(all), definitions: all };
}
