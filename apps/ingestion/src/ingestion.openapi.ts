/** The ingestion HTTP API as OpenAPI operations (libs/runtime openapi.ts); the event schema is the one ajv validates with. */
import { eventJsonSchema } from '@tidemark/contracts';
import type { ApiInfo, ApiOperation, JsonSchema } from '@tidemark/runtime';

export const INGESTION_API: ApiInfo = { title: 'Tidemark ingestion', version: '1', description: 'Events in over HTTP (also TCP NDJSON and NATS tidemark.ingest: docs/ingestion.md).' };

const counters = {
  type: 'object',
  required: ['accepted', 'duplicates', 'rejected'],
  properties: {
    accepted: { type: 'integer', minimum: 0 },
    duplicates: { type: 'integer', minimum: 0 },
    rejected: {
      type: 'array',
      items: {
        type: 'object',
        required: ['index', 'error', 'errors'],
        properties: { index: { type: 'integer' }, line: { type: 'integer' }, id: { type: 'string' }, error: { type: 'string' }, errors: { type: 'array', items: { type: 'object', properties: { field: { type: 'string' }, reason: { type: 'string' } } } } },
      },
    },
  },
} satisfies JsonSchema;

export const INGESTION_SCHEMAS: Record<string, JsonSchema> = { Event: eventJsonSchema, IngestReply: counters };

export const INGESTION_OPERATIONS: ApiOperation[] = [
  {
    method: 'post',
    path: '/v1/events',
    scope: 'ingest',
    tags: ['events'],
    summary: 'Ingest events: one JSON object, a JSON array, or NDJSON',
    description:
      'Answers 202 once JetStream acknowledged every accepted event. Records are validated one by one: invalid ones are listed in `rejected`; a request with nothing valid is a 400 problem carrying the same counters. Unknown top-level fields move into `attrs` (docs/ingestion.md).',
    requestBody: {
      content: {
        'application/json': { oneOf: [{ $ref: '#/components/schemas/Event' }, { type: 'array', items: { $ref: '#/components/schemas/Event' } }] },
        'application/x-ndjson': { type: 'string', description: 'One event (JSON object) a line.' },
      },
    },
    parameters: [{ name: 'traceparent', in: 'header', description: 'W3C trace context, carried to the raw frame holding the events (docs/observability.md "Request ids and trace context").', schema: { type: 'string' } }],
    responses: { 202: { description: 'Stored', content: { 'application/json': { $ref: '#/components/schemas/IngestReply' } } } },
    errors: [415],
  },
];
