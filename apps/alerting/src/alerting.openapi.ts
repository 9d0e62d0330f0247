/**
 * The alerting HTTP API as OpenAPI operations (libs/runtime openapi.ts). The rule and silence schemas are built
 * from the validators' own constants (kinds, severities, comparisons, limits); the validators themselves
 * (libs/alerting rule.ts, silence.ts) still check by hand — see docs/platform.md "API reference".
 */
import { COMPARISONS, RULE_KINDS, RULE_LIMITS, SEVERITIES, SILENCE_LIMITS } from '@tidemark/alerting';
import type { ApiInfo, ApiOperation, JsonSchema } from '@tidemark/runtime';

export const ALERTING_API: ApiInfo = { title: 'Tidemark alerting', version: '1', description: 'Alerts, their live stream, rules and silences (docs/alerting.md); rules also over NATS tidemark.alerts.rules.' };

const duration = { type: ['string', 'integer'], description: 'milliseconds, or a duration such as "90s", "2m", "1h"' };
const text = { type: 'string', maxLength: RULE_LIMITS.maxTextLength };
const common = {
  id: { type: 'string', pattern: '^[a-z0-9_-]{1,64}$' },
  description: text,
  severity: { enum: SEVERITIES, default: 'warning' },
  metric: { type: 'string', pattern: '^[A-Za-z0-9_-]{1,128}$' },
  key: { type: 'string', minLength: 1, maxLength: RULE_LIMITS.maxKeyLength },
  field: { type: 'string', pattern: '^[A-Za-z0-9_$]+(\\.[A-Za-z0-9_$]+)*$' },
  guard: { type: 'object', required: ['field', 'op', 'value'], additionalProperties: false, properties: { field: { type: 'string' }, op: { enum: COMPARISONS }, value: { type: 'number' } } },
  labels: { type: 'object', maxProperties: RULE_LIMITS.maxLabels, additionalProperties: { type: 'string', maxLength: RULE_LIMITS.maxLabelValueLength } },
  summary: text,
  receivers: { type: 'array', items: { type: 'string' } },
  webhooks: { type: 'array', maxItems: RULE_LIMITS.maxWebhooks, items: { type: 'string', maxLength: RULE_LIMITS.maxUrlLength } },
  enabled: { type: 'boolean' },
};
const series = { forWindows: { type: 'integer', minimum: 1, maximum: 1000 }, for: duration, staleAfter: { ...duration, type: ['string', 'integer', 'null'] } };
const kind = (k: string, required: string[], props: Record<string, unknown>): JsonSchema => ({
  type: 'object',
  required: ['kind', 'metric', ...required],
  additionalProperties: false,
  properties: { ...common, kind: { const: k }, ...props },
});

export const ALERTING_SCHEMAS: Record<string, JsonSchema> = {
  AlertRule: {
    description: `An alert rule (docs/alerting.md); kind one of ${RULE_KINDS.join(', ')}. A 400 problem names each bad field in errors[].`,
    oneOf: [
      kind('threshold', ['op', 'value'], { ...series, op: { enum: COMPARISONS }, value: { type: ['number', 'string'] } }),
      kind('anomaly', ['method', 'threshold'], { ...series, method: { enum: ['ewma', 'zscore'] }, direction: { enum: ['up', 'down', 'both'] }, threshold: { type: 'number', exclusiveMinimum: 0 }, alpha: { type: 'number', exclusiveMinimum: 0, maximum: 1 }, history: { type: 'integer', minimum: 2, maximum: 1000 }, minHistory: { type: 'integer', minimum: 1, maximum: 1000 } }),
      kind('rate_of_change', ['change', 'op', 'value'], { ...series, change: { enum: ['absolute', 'relative'] }, op: { enum: COMPARISONS }, value: { type: 'number' }, minValue: { type: 'number' } }),
      kind('absence', ['for'], { for: duration }),
    ],
  },
  Silence: {
    type: 'object',
    required: ['matchers'],
    additionalProperties: false,
    properties: {
      matchers: {
        type: 'array',
        minItems: 1,
        maxItems: SILENCE_LIMITS.maxMatchers,
        items: { type: 'object', required: ['name', 'value'], properties: { name: { type: 'string', maxLength: SILENCE_LIMITS.maxNameLength }, value: { type: 'string', maxLength: SILENCE_LIMITS.maxPatternLength }, isRegex: { type: 'boolean' }, isGlob: { type: 'boolean' }, isEqual: { type: 'boolean' } } },
      },
      startsAt: { type: 'integer', description: 'epoch ms (default now)' },
      endsAt: { type: 'integer', description: 'epoch ms; or give duration' },
      duration,
      createdBy: { type: 'string' },
      comment: { type: 'string', maxLength: SILENCE_LIMITS.maxCommentLength },
    },
  },
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
