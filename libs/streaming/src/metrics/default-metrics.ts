/** The 13 default metrics (docs/architecture.md "Default metrics"), declared in default-metrics.json and validated by the same loader as user definitions. */
import definitions from './default-metrics.json';
import { MetricDefinition, validateMetricDefinitions } from './metric-definitions';

export const DEFAULT_METRICS: readonly MetricDefinition[] = Object.freeze(validateMetricDefinitions(definitions));

/** The default metrics followed by user definitions (names must stay unique; errors name the definition and field). */
export function withDefaultMetrics(user: unknown): MetricDefinition[] {
  return validateMetricDefinitions([...DEFAULT_METRICS, ...(validateMetricDefinitions(user))]);
}
