import { openApiDocument } from '@tidemark/runtime';
import { DEFAULT_METRICS, metricDefinitionSchema } from '@tidemark/streaming';
import { AGGREGATION_API, AGGREGATION_OPERATIONS, AGGREGATION_SCHEMAS } from './aggregation.openapi';

/** The documented metric definition schema is the validator's own (no second copy that could drift). */
describe('aggregation OpenAPI schemas', () => {
  const doc = openApiDocument(AGGREGATION_API, AGGREGATION_OPERATIONS, AGGREGATION_SCHEMAS) as { components: { schemas: Record<string, { properties?: Record<string, unknown> }> } };

  it('MetricDefinition is the very object validateMetricDefinitions compiles, and GET /v1/metrics lists them', () => {
    expect(doc.components.schemas.MetricDefinition).toBe(metricDefinitionSchema);
    expect(JSON.parse(JSON.stringify(doc)).components.schemas.MetricDefinition).toEqual(JSON.parse(JSON.stringify(metricDefinitionSchema)));
    expect(doc.components.schemas.MetricDefinitions.properties!.metrics).toEqual({ type: 'array', items: { $ref: '#/components/schemas/MetricDefinition' } });
    expect(DEFAULT_METRICS.length).toBe(13);
  });
});
