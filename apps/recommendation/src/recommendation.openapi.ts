/** The recommendation HTTP API as OpenAPI operations (libs/runtime openapi.ts). */
import type { ApiInfo, ApiOperation, JsonSchema } from '@tidemark/runtime';

export const RECOMMENDATION_API: ApiInfo = { title: 'Tidemark recommendations', version: '1', description: 'Recommendations for a user or a session, similar products, trending (docs/recommendations.md); the same over NATS tidemark.recs.*.' };

export const RECOMMENDATION_SCHEMAS: Record<string, JsonSchema> = {
  Recommendations: {
    type: 'object',
    required: ['items'],
    properties: { items: { type: 'array', items: { type: 'object', required: ['productId', 'score', 'reason'], properties: { productId: { type: 'string' }, score: { type: 'number' }, reason: { type: 'string' } } } } },
    additionalProperties: true,
  },
};

const k: ApiOperation['parameters'] = [{ name: 'k', in: 'query', schema: { type: 'integer', minimum: 1, maximum: 100 }, description: 'How many' }];
const ok = { 200: { description: 'Recommendations', content: { 'application/json': { $ref: '#/components/schemas/Recommendations' } } } };

export const RECOMMENDATION_OPERATIONS: ApiOperation[] = [
  { method: 'get', path: '/v1/recommendations/users/:userId', scope: 'read', tags: ['recommendations'], summary: 'For a user', parameters: k, responses: ok },
  {
    method: 'get',
    path: '/v1/recommendations/sessions/:sessionId',
    scope: 'read',
    tags: ['recommendations'],
    summary: 'For a session',
    parameters: [...k!, { name: 'excludeSeen', in: 'query', schema: { type: 'string', enum: ['true', 'false'] } }],
    responses: ok,
  },
  { method: 'get', path: '/v1/recommendations/products/:productId/similar', scope: 'read', tags: ['recommendations'], summary: 'Products bought or viewed with this one', parameters: k, responses: ok },
  { method: 'get', path: '/v1/trending', scope: 'read', tags: ['recommendations'], summary: 'Trending products, optionally of one category', parameters: [...k!, { name: 'categoryId', in: 'query', schema: { type: 'string' } }], responses: ok },
];
