/**
 * The aggregation query API as OpenAPI operations (libs/runtime openapi.ts). MetricDefinition is the very schema
 * object the definitions are validated with (libs/streaming metric-definitions.ts `metricDefinitionSchema`).
 */
import type { ApiInfo, ApiOperation, JsonSchema } from '@tidemark/runtime';
import { metricDefinitionSchema } from '@tidemark/streaming';
import { MAX_LIMIT } from './query.service';

export const AGGREGATION_API: ApiInfo = { title: 'Tidemark aggregation query API', version: '1', description: 'Windowed metrics, their rankings and the watermark (docs/metrics.md); the same over NATS tidemark.metrics.query.' };

const time = (what: string): JsonSchema => ({ type: 'string', pattern: '^-?\\d{1,16}$', description: `${what}, epoch milliseconds` });

export const AGGREGATION_SCHEMAS: Record<string, JsonSchema> = {
  WindowResult: {
    type: 'object',
    required: ['metric', 'key', 'windowStart', 'windowEnd', 'value', 'final', 'version'],
    properties: { metric: { type: 'string' }, key: { type: 'string' }, windowStart: { type: 'integer' }, windowEnd: { type: 'integer' }, value: {}, final: { type: 'boolean' }, version: { type: 'integer' } },
  },
  MetricDefinition: metricDefinitionSchema,
  MetricDefinitions: { type: 'object', required: ['metrics'], properties: { metrics: { type: 'array', items: { $ref: '#/components/schemas/MetricDefinition' } } } },
};

export const AGGREGATION_OPERATIONS: ApiOperation[] = [
  { method: 'get', path: '/v1/metrics', scope: 'read', tags: ['metrics'], summary: 'The metric definitions', responses: { 200: { description: 'Definitions', content: { 'application/json': { $ref: '#/components/schemas/MetricDefinitions' } } } } },
  {
    method: 'get',
    path: '/v1/metrics/:name',
    scope: 'read',
    tags: ['metrics'],
    summary: 'The windows of a metric whose start is in [from, to), in order (windowStart, windowEnd, key)',
    description:
      'At most `limit` windows a page. When there are more, the answer has `x-tidemark-truncated: true`, `x-tidemark-next-cursor` and a `Link: <…>; rel="next"` header: ask again with `cursor` (same other parameters) for the next page.',
    parameters: [
      { name: 'name', in: 'path', schema: { type: 'string' } },
      { name: 'from', in: 'query', schema: time('First window start') },
      { name: 'to', in: 'query', schema: time('Windows starting before this') },
      { name: 'key', in: 'query', schema: { type: 'string' }, description: 'Only this key' },
      { name: 'limit', in: 'query', schema: { type: 'integer', minimum: 1, maximum: MAX_LIMIT, default: 1000 } },
      { name: 'cursor', in: 'query', schema: { type: 'string' }, description: 'The nextCursor of the previous page (opaque)' },
    ],
    responses: {
      200: {
        description: 'Windows, oldest first',
        headers: {
          'x-tidemark-truncated': { description: '"true" when there are more windows', schema: { type: 'string' } },
          'x-tidemark-next-cursor': { description: 'The cursor of the next page', schema: { type: 'string' } },
          link: { description: 'rel="next": the next page', schema: { type: 'string' } },
        },
        content: { 'application/json': { type: 'array', items: { $ref: '#/components/schemas/WindowResult' } } },
      },
    },
  },
  {
    method: 'get',
    path: '/v1/metrics/:name/top',
    scope: 'read',
    tags: ['metrics'],
    summary: 'The ranking of the latest window',
    parameters: [
      { name: 'name', in: 'path', schema: { type: 'string' } },
      { name: 'k', in: 'query', schema: { type: 'integer', minimum: 1, maximum: 1000, default: 10 } },
    ],
    responses: {
      200: {
        description: 'Top k',
        content: { 'application/json': { type: 'object', required: ['metric', 'items'], properties: { metric: { type: 'string' }, windowStart: { type: 'integer' }, windowEnd: { type: 'integer' }, final: { type: 'boolean' }, items: { type: 'array', items: { type: 'object', properties: { key: { type: 'string' }, value: { type: 'number' } } } } } } },
      },
    },
  },
  {
    method: 'get',
    path: '/v1/watermark',
    scope: 'read',
    tags: ['metrics'],
    summary: 'The operator watermark and each partition’s',
    responses: { 200: { description: 'Watermarks', content: { 'application/json': { type: 'object', properties: { watermark: { type: ['integer', 'null'] }, partitions: { type: 'object', additionalProperties: { type: 'integer' } } } } } } },
  },
];
