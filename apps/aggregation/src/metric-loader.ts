import * as fs from 'node:fs';
import { DEFAULT_METRICS, MetricDefinition, MetricSet, withDefaultMetrics } from '@tidemark/streaming';

/**
 * The metrics the aggregation service computes: the defaults plus the user's (METRICS_FILE, a JSON array of
 * definitions): tumbling, sliding and session windows and interval joins (libs/streaming partitioned/, docs/checkpoints.md).
 */
export interface LoadedMetrics {
  set: MetricSet;
  definitions: readonly MetricDefinition[];
}

/** The field events are partitioned by (libs/contracts partitionOf): one partition holds all of a key's events. */
const ROUTING_KEY = 'sessionId';

/**
 * A session window is merged in its partition's memory (libs/streaming partition-operator.ts),
 * which is safe because one partition's writer (the fence) is the only one to touch that key: the key must
 * be the routing key. Other windows and joins only add to their state, from any partition.
 */
export function checkServiceable(defs: readonly MetricDefinition[]): void {
  for (const d of defs) {
    if (d.window.type === 'session' && d.key !== ROUTING_KEY) {
      throw new Error(`metric "${d.name}": a session window must be keyed by "${ROUTING_KEY}" (events are partitioned by it), not ${d.key === undefined ? 'nothing' : `"${d.key}"`}`);
    }
  }
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
  checkServiceable(all);
  return { set: new MetricSet(all), definitions: all };
}
