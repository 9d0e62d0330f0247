/**
 * The alerting HTTP API as OpenAPI operations (libs/runtime openapi.ts). The rule and silence schemas are the very
 * objects their validators compile with ajv (libs/alerting rule.ts `alertRuleSchema`, silence.ts `silenceSchema`):
 * what is documented is what is checked (docs/platform.md "API reference").
 */
import { SEVERITIES, alertRuleSchema, silenceSchema } from '@tidemark/alerting';
import type { ApiInfo, ApiOperation, JsonSchema } from '@tidemark/runtime';

export const ALERTING_API: ApiInfo = { title: 'Tidemark alerting', version: '1', description: 'Alerts, their live stream, rules and silences (docs/alerting.md); rules also over NATS tidemark.alerts.rules.' };

export const ALERTING_SCHEMAS: Record<string, JsonSchema> = {
  AlertRule: alertRuleSchema,
  Silence: silenceSchema,
  Alert: {
    type: 'object',
    required: ['fingerprint', 'rule', 'severity', 'labels', 'state', 'startsAt'],
    properties: { fingerprint: { type: 'string' }, rule: { type: 'string' }, severity: { enum: SEVERITIES }, labels: { type: 'object', additionalProperties: { type: 'string' } }, state: { type: 'string' }, value: { type: ['number', 'null'] }, summary: { type: 'string' }, startsAt: { type: 'integer' }, updatedAt: { type: 'integer' }, endsAt: { type: ['integer', 'null'] } },
  },
};

const json = (schema: JsonSchema) => ({ 'application/json': schema });
const rule = { $ref: '#/components/schemas/AlertRule' };
const id = [{ name: 'id', in: 'path' as const, schema: { type: 'string' } }];

export const ALERTING_OPERATIONS: ApiOperation[] = [
  {
    method: 'get',
    path: '/v1/alerts',
    scope: 'read',
    tags: ['alerts'],
    summary: 'The alerts, optionally of one state',
    parameters: [{ name: 'state', in: 'query', schema: { enum: ['pending', 'firing', 'resolved'] } }],
    responses: { 200: { description: 'Alerts', content: json({ type: 'object', properties: { alerts: { type: 'array', items: { $ref: '#/components/schemas/Alert' } } } }) } },
  },
  {
    method: 'get',
    path: '/v1/alerts/stream',
    scope: 'read',
    tags: ['alerts'],
    summary: 'Server-sent events: `event: alert` on every state change; ends when the service stops',
    responses: { 200: { description: 'An event stream', content: { 'text/event-stream': { type: 'string' } } } },
    errors: [429],
  },
  { method: 'get', path: '/v1/silences', scope: 'admin', tags: ['silences'], summary: 'The silences', responses: { 200: { description: 'Silences', content: json({ type: 'object', properties: { silences: { type: 'array', items: { type: 'object' } } } }) } } },
  { method: 'post', path: '/v1/silences', scope: 'admin', tags: ['silences'], summary: 'Create a silence', requestBody: { content: json({ $ref: '#/components/schemas/Silence' }) }, responses: { 201: { description: 'Created', content: json({ type: 'object' }) } }, errors: [409] },
  { method: 'delete', path: '/v1/silences/:id', scope: 'admin', tags: ['silences'], summary: 'Delete a silence', parameters: id, responses: { 204: { description: 'Deleted' } } },
  { method: 'get', path: '/v1/alert-rules', scope: 'admin', tags: ['rules'], summary: 'The rules', responses: { 200: { description: 'Rules', content: json({ type: 'object', properties: { rules: { type: 'array', items: rule } } }) } } },
  { method: 'post', path: '/v1/alert-rules', scope: 'admin', tags: ['rules'], summary: 'Create a rule', requestBody: { content: json(rule) }, responses: { 201: { description: 'Created', content: json(rule) } }, errors: [409] },
  { method: 'get', path: '/v1/alert-rules/:id', scope: 'admin', tags: ['rules'], summary: 'One rule', parameters: id, responses: { 200: { description: 'The rule', content: json(rule) } } },
  { method: 'put', path: '/v1/alert-rules/:id', scope: 'admin', tags: ['rules'], summary: 'Create or replace a rule', parameters: id, requestBody: { content: json(rule) }, responses: { 200: { description: 'Replaced', content: json(rule) }, 201: { description: 'Created', content: json(rule) } }, errors: [409] },
  { method: 'delete', path: '/v1/alert-rules/:id', scope: 'admin', tags: ['rules'], summary: 'Delete a rule', parameters: id, responses: { 204: { description: 'Deleted' } } },
];
