/**
 * Alert rules are data: JSON objects validated against one JSON Schema (`alertRuleSchema`, ajv; the same object
 * is published in /openapi.json) plus a few checks a schema cannot make, with one precise error per failing
 * field, then compiled into the form the engine evaluates. Pure: no I/O, no clock.
 */
import { compileSchemaCheck, createSchemaAjv, hasErrorAt } from '@tidemark/contracts';
import { durationSchema, parseDuration } from '@tidemark/streaming';
import { rawWebhookProblem } from './receivers';

export type Severity = 'info' | 'warning' | 'critical';
export type Comparison = '>' | '>=' | '<' | '<=' | '==' | '!=';
export type RuleKind = 'threshold' | 'anomaly' | 'absence' | 'rate_of_change';

export const SEVERITIES: readonly Severity[] = ['info', 'warning', 'critical'];
export const COMPARISONS: readonly Comparison[] = ['>', '>=', '<', '<=', '==', '!='];
export const RULE_KINDS: readonly RuleKind[] = ['threshold', 'anomaly', 'absence', 'rate_of_change'];

/** An extra condition on the window value that must hold before the rule is evaluated (e.g. enough samples). */
export interface Guard {
  field: string;
  op: Comparison;
  value: number;
}

interface RuleCommon {
  /** `[a-z0-9_-]`, 1–64 chars: also the NATS subject token of `alerts.<rule>`. */
  id: string;
  description?: string;
  severity: Severity;
  /** The window metric the rule reads (`results.<metric>`). */
  metric: string;
  /** Only this key of the metric (default: every key, one alert per key). */
  key?: string;
  /** Dotted path to the number (or string) inside the window value, e.g. `ratio`; default: the value itself. */
  field?: string;
  guard?: Guard;
  /** Static labels added to every alert of the rule. */
  labels?: Record<string, string>;
  /** Summary template: `{{rule}}`, `{{metric}}`, `{{key}}`, `{{value}}` are replaced. */
  summary?: string;
  /** Receivers (ALERTING_RECEIVERS_FILE) notified for this rule, by name, besides ALERTING_DEFAULT_RECEIVERS. */
  receivers?: string[];
  /** Raw webhook URLs for this rule: only those matching ALERTING_WEBHOOK_ALLOWLIST (docs/security.md "Webhooks"). */
  webhooks?: string[];
  enabled?: boolean;
}

interface SeriesRuleCommon extends RuleCommon {
  /** Pending until the condition held this many consecutive windows (default 1: fire at once). */
  forWindows?: number;
  /** …and for this long in event time (first breaching window's end → current window's end; default 0). */
  for?: string | number;
  /** Resolve an active alert whose series sent no window for this long in event time (default: never). */
  staleAfter?: string | number | null;
}

export interface ThresholdRule extends SeriesRuleCommon {
  kind: 'threshold';
  op: Comparison;
  /** A number; a string only with `==` / `!=` (e.g. `status == "unmatched"`). */
  value: number | string;
}

export interface AnomalyRule extends SeriesRuleCommon {
  kind: 'anomaly';
  method: 'ewma' | 'zscore';
  direction: 'up' | 'down' | 'both';
  /** ewma: relative deviation from the EWMA baseline (0.5 = 50 %); zscore: |z| at least this. */
  threshold: number;
  /** ewma smoothing factor in (0, 1] (default 0.3). */
  alpha?: number;
  /** zscore: how many past windows form the reference (default 30). */
  history?: number;
  /** Windows of history needed before the rule can fire (default 5). */
  minHistory?: number;
}

export interface RateOfChangeRule extends SeriesRuleCommon {
  kind: 'rate_of_change';
  /** `absolute`: value − previous; `relative`: (value − previous) / |previous|. A missing window counts as 0. */
  change: 'absolute' | 'relative';
  op: Comparison;
  value: number;
  /** Only evaluate windows whose value is at least this (ignores tiny series). */
  minValue?: number;
}

export interface AbsenceRule extends RuleCommon {
  kind: 'absence';
  /** Fires when no window of the metric (and key) ended within this duration. */
  for: string | number;
}

export type AlertRule = ThresholdRule | AnomalyRule | RateOfChangeRule | AbsenceRule;

export interface FieldError {
  field: string;
  reason: string;
}

export type RuleValidation = { ok: true; rule: AlertRule } | { ok: false; errors: FieldError[] };

/** The engine's view of a rule: durations in ms, defaults applied. */
export interface CompiledRule {
  rule: AlertRule;
  id: string;
  kind: RuleKind;
  forWindows: number;
  forMs: number;
  staleAfterMs: number | null;
  alpha: number;
  history: number;
  minHistory: number;
}

const isObject = (v: unknown): v is Record<string, unknown> => typeof v === 'object' && v !== null && !Array.isArray(v);

/** Caps on one rule (docs/settings.md "Limits"): what is stored, listed and copied into every alert stays small. */
export const RULE_LIMITS = { maxTextLength: 1024, maxKeyLength: 256, maxLabels: 32, maxLabelNameLength: 128, maxLabelValueLength: 256, maxWebhooks: 8, maxUrlLength: 2048 } as const;

const RL = RULE_LIMITS;
const FIELD_PATH = '^[A-Za-z0-9_$]+(\\.[A-Za-z0-9_$]+)*$';
const RESERVED_LABELS = ['metric', 'key', 'alertname'];
const ONE_OF_COMPARISONS = `one of ${COMPARISONS.join(' ')}`;
const text = { type: 'string', maxLength: RL.maxTextLength, 'x-error': { type: 'must be a string' } };
const series = {
  forWindows: { type: 'integer', minimum: 1, maximum: 1000, description: 'Consecutive breaching windows before firing (default 1).', 'x-error': 'must be a whole number from 1 to 1000' },
  for: { ...durationSchema, description: 'How long (event time) the condition must hold before firing (default 0).' },
  staleAfter: { ...durationSchema, type: ['string', 'integer', 'null'], description: 'Resolve an active alert whose series sent no window for this long (at least 1s; default never).' },
};
const op = { enum: COMPARISONS, 'x-error': `is required: ${ONE_OF_COMPARISONS}` };
/** The names every kind accepts; each kind's branch lists them (as `true`) so that anything else is refused. */
const COMMON_FIELDS = ['id', 'kind', 'description', 'severity', 'metric', 'key', 'field', 'guard', 'labels', 'summary', 'receivers', 'webhooks', 'enabled'];

function kindSchema(kind: RuleKind, required: string[], properties: Record<string, unknown>, description: string): Record<string, unknown> {
  return {
    type: 'object',
    description,
    required,
    properties: { ...Object.fromEntries(COMMON_FIELDS.map((f) => [f, true])), kind: { const: kind }, ...properties },
    additionalProperties: false,
    'x-error': { additionalProperties: `is not a field of a ${kind} rule` },
  };
}

/**
 * An alert rule as JSON Schema (draft 2020-12): the one definition of a rule's shape. `validateRule` compiles it
 * with ajv and /openapi.json of the alerting service publishes this very object (components/schemas/AlertRule).
 * The common fields are checked for every rule; `kind` picks one branch (ajv `discriminator`), so the errors are
 * those of the rule's own kind. What a schema cannot say is checked after it (`ruleSemanticErrors`).
 */
export const alertRuleSchema: Record<string, unknown> = {
  type: 'object',
  description:
    'An alert rule (docs/alerting.md). A 400 problem names each bad field in errors[]. Checked after this schema: durations parse (`for` ≥ 0, `staleAfter` and absence `for` ≥ 1s), a string `value` needs op == or !=, an ewma `down` threshold is below 1, a z-score needs minHistory ≥ 2 and ≤ history, receivers are defined in ALERTING_RECEIVERS_FILE and raw webhook URLs match ALERTING_WEBHOOK_ALLOWLIST.',
  required: ['id', 'kind', 'metric'],
  properties: {
    id: { type: 'string', pattern: '^[a-z0-9_-]{1,64}$', description: 'Also the NATS subject token of alerts.<rule>.', 'x-error': { '*': 'must be 1-64 characters of a-z, 0-9, _ and -', required: 'is required' } },
    kind: { enum: RULE_KINDS, 'x-error': { '*': `must be one of ${RULE_KINDS.join(', ')}`, required: `is required: one of ${RULE_KINDS.join(', ')}` } },
    description: text,
    severity: { enum: SEVERITIES, default: 'warning', 'x-error': `must be one of ${SEVERITIES.join(', ')}` },
    metric: { type: 'string', pattern: '^[A-Za-z0-9_-]{1,128}$', description: 'The window metric read (results.<metric>).', 'x-error': { '*': 'must be a metric name (letters, digits, _ and -)', required: 'is required' } },
    key: { type: 'string', minLength: 1, maxLength: RL.maxKeyLength, description: 'Only this key of the metric (default every key).', 'x-error': { type: 'must be a non-empty string', minLength: 'must be a non-empty string' } },
    field: { type: 'string', pattern: FIELD_PATH, description: 'Dotted path to the number inside the window value.', 'x-error': 'must be a dotted path such as "ratio" or "stats.value"' },
    guard: {
      type: 'object',
      description: 'A condition on the window value that must hold before the rule is evaluated.',
      required: ['field', 'op', 'value'],
      properties: {
        field: { type: 'string', pattern: FIELD_PATH, 'x-error': 'must be a dotted path' },
        op: { enum: COMPARISONS, 'x-error': `must be ${ONE_OF_COMPARISONS}` },
        value: { type: 'number', 'x-error': 'must be a number' },
      },
      additionalProperties: false,
      'x-error': { type: 'must be an object {field, op, value}', additionalProperties: 'is not a guard field' },
    },
    labels: {
      type: 'object',
      description: 'Static labels added to every alert of the rule.',
      maxProperties: RL.maxLabels,
      propertyNames: {
        type: 'string',
        if: { maxLength: RL.maxLabelNameLength },
        then: { pattern: '^[A-Za-z_][A-Za-z0-9_]{0,63}$', not: { enum: RESERVED_LABELS }, 'x-error': { pattern: 'label names are letters, digits and _ (not starting with a digit)', not: 'is reserved' } },
        else: { maxLength: RL.maxLabelNameLength, 'x-error': { maxLength: 'a label name is {n} characters, over the limit of {limit}', at: 'parent' } },
      },
      additionalProperties: { type: 'string', maxLength: RL.maxLabelValueLength, 'x-error': { type: 'must be a string' } },
      'x-error': { type: 'must be an object of string values', maxProperties: 'has {n} labels, over the limit of {limit}' },
    },
    summary: { ...text, description: 'Template: {{rule}}, {{metric}}, {{key}}, {{value}} are replaced.' },
    receivers: {
      type: 'array',
      description: 'Receivers of ALERTING_RECEIVERS_FILE notified for this rule, by name.',
      items: { type: 'string', 'x-error': 'is not a receiver defined in ALERTING_RECEIVERS_FILE' },
      'x-error': 'must be an array of receiver names',
    },
    webhooks: {
      type: 'array',
      description: 'Raw http(s) webhook URLs; each must match ALERTING_WEBHOOK_ALLOWLIST (docs/security.md "Webhooks").',
      maxItems: RL.maxWebhooks,
      not: { type: 'array', contains: { type: 'string', minLength: RL.maxUrlLength + 1 } },
      items: { type: 'string', 'x-error': 'must be an http:// or https:// URL' },
      'x-error': { type: 'must be an array of http(s) URLs', maxItems: 'has {n} URLs, over the limit of {limit}', not: `a URL is over the limit of ${RL.maxUrlLength} characters` },
    },
    enabled: { type: 'boolean', 'x-error': 'must be true or false' },
  },
  discriminator: { propertyName: 'kind' },
  oneOf: [
    kindSchema('threshold', ['op', 'value'], { ...series, op, value: { type: ['number', 'string'], description: 'A number; a string only with == or !=.', 'x-error': { '*': 'must be a number (or a string with == / !=)', required: 'is required' } } }, 'Fires while `value` compares true.'),
    kindSchema(
      'anomaly',
      ['method', 'threshold'],
      {
        ...series,
        method: { enum: ['ewma', 'zscore'], 'x-error': 'is required: "ewma" or "zscore"' },
        direction: { enum: ['up', 'down', 'both'], default: 'both', 'x-error': 'must be "up", "down" or "both"' },
        threshold: { type: 'number', exclusiveMinimum: 0, description: 'ewma: relative deviation (0.5 = 50 %); zscore: |z|.', 'x-error': { '*': 'must be a number > 0', required: 'is required' } },
        alpha: { type: 'number', exclusiveMinimum: 0, maximum: 1, default: 0.3, 'x-error': 'must be a number in (0, 1]' },
        history: { type: 'integer', minimum: 2, maximum: 1000, default: 30, 'x-error': 'must be a whole number from 2 to 1000' },
        minHistory: { type: 'integer', minimum: 1, maximum: 1000, default: 5, 'x-error': 'must be a whole number from 1 to 1000' },
      },
      'Fires when the value deviates from its own history.',
    ),
    kindSchema(
      'rate_of_change',
      ['change', 'op', 'value'],
      {
        ...series,
        change: { enum: ['absolute', 'relative'], 'x-error': 'is required: "absolute" or "relative"' },
        op,
        value: { type: 'number', 'x-error': { '*': 'must be a number', required: 'is required' } },
        minValue: { type: 'number', 'x-error': 'must be a number' },
      },
      'Fires when the change from the previous window compares true.',
    ),
    kindSchema('absence', ['for'], { for: { ...durationSchema, description: 'Fires when no window ended within this long (at least 1s).', 'x-error': { '*': durationSchema['x-error'], required: 'is required: how long without a window, e.g. "2m"' } } }, 'Fires when the metric sends no window.'),
  ],
};

const ruleSchemaErrors = compileSchemaCheck(createSchemaAjv(), alertRuleSchema);

/**
 * Where a rule may send webhooks (docs/security.md "Webhooks"): receiver names the operator defined, and the
 * normalised URL prefixes a raw URL must start with. The default allows no receiver and no raw URL.
 */
export interface WebhookPolicy {
  receivers: ReadonlySet<string>;
  allowlist: readonly string[];
}

const NO_WEBHOOKS: WebhookPolicy = { receivers: new Set(), allowlist: [] };

/**
 * Validates one rule; `idFromPath` (PUT /v1/alert-rules/:id) fills a missing id and must match a given one;
 * `webhooks` says which receivers and raw URLs the rule may name. Two steps: the JSON Schema (`alertRuleSchema`,
 * ajv), then `ruleSemanticErrors` on the fields the schema passed.
 */
export function validateRule(input: unknown, idFromPath?: string, webhooks: WebhookPolicy = NO_WEBHOOKS): RuleValidation {
  if (!isObject(input)) return { ok: false, errors: [{ field: '', reason: 'a rule must be a JSON object' }] };
  const r: Record<string, unknown> = { ...input };
  const errors: FieldError[] = [];
  if (idFromPath !== undefined) {
    if (r.id === undefined) r.id = idFromPath;
    else if (r.id !== idFromPath) errors.push({ field: 'id', reason: `must match the id in the path ("${idFromPath}")` });
  }
  const schemaErrors = ruleSchemaErrors(r);
  errors.push(...schemaErrors, ...ruleSemanticErrors(r, schemaErrors, webhooks));
  if (errors.length > 0) return { ok: false, errors };
  if (r.severity === undefined) r.severity = 'warning';
  if (r.kind === 'anomaly' && r.direction === undefined) r.direction = 'both';
  return { ok: true, rule: r as unknown as AlertRule };
}

/**
 * The checks after the schema, each only on fields the schema found valid: durations parse and are long enough,
 * a string threshold value needs `==`/`!=`, an ewma `down` threshold is below 1, z-score history bounds, receivers
 * exist and raw webhook URLs are allowed (both runtime configuration).
 */
function ruleSemanticErrors(r: Record<string, unknown>, schemaErrors: FieldError[], webhooks: WebhookPolicy): FieldError[] {
  const errors: FieldError[] = [];
  const err = (field: string, reason: string) => errors.push({ field, reason });
  const ok = (field: string) => r[field] !== undefined && !hasErrorAt(schemaErrors, field);
  /** A list the schema accepted as a list: its items the schema accepted. */
  const items = (field: string) => (r[field] === undefined || schemaErrors.some((e) => e.field === field) ? [] : (r[field] as unknown[]).map((v, i) => ({ v, i })).filter(({ i }) => !hasErrorAt(schemaErrors, `${field}.${i}`)));
  for (const { v, i } of items('receivers')) if (!webhooks.receivers.has(v as string)) err(`receivers.${i}`, 'is not a receiver defined in ALERTING_RECEIVERS_FILE');
  for (const { v, i } of items('webhooks')) {
    const problem = rawWebhookProblem(v, webhooks.allowlist);
    if (problem) err(`webhooks.${i}`, problem);
  }
  const kind = r.kind as RuleKind;
  if (!RULE_KINDS.includes(kind)) return errors;
  if (kind !== 'absence') {
    if (ok('for')) duration(r.for, 'for', err, 0);
    if (ok('staleAfter') && r.staleAfter !== null) duration(r.staleAfter, 'staleAfter', err, 1000);
  }
  switch (kind) {
    case 'threshold':
      if (ok('value') && typeof r.value === 'string' && r.op !== '==' && r.op !== '!=') err('value', 'a string value needs op "==" or "!="');
      break;
    case 'anomaly':
      if (ok('threshold') && r.method === 'ewma' && r.direction === 'down' && (r.threshold as number) >= 1) err('threshold', 'a relative drop must be below 1 (0.5 = 50 % below the baseline)');
      if (ok('minHistory') && r.method === 'zscore' && (r.minHistory as number) < 2) err('minHistory', 'a z-score needs at least 2 windows of history');
      if (r.method === 'zscore' && Number.isInteger(r.minHistory) && Number.isInteger(r.history) && (r.minHistory as number) > (r.history as number)) err('minHistory', 'cannot exceed history');
      break;
    case 'absence':
      if (ok('for')) duration(r.for, 'for', err, 1000);
      break;
    default:
      break;
  }
  return errors;
}

function duration(v: unknown, field: string, err: (f: string, r: string) => void, min: number): void {
  try {
    const ms = parseDuration(v);
    if (ms < min) err(field, `must be at least ${min} ms`);
  } catch (e) {
    err(field, (e as Error).message);
  }
}

/** One line for humans: `op is required: ...; value must be a number`. */
export function describeErrors(errors: FieldError[]): string {
  return errors.map((e) => (e.field ? `${e.field} ${e.reason}` : e.reason)).join('; ');
}

/** Defaults applied, durations in ms. The rule must be valid. */
export function compileRule(rule: AlertRule): CompiledRule {
  const series = rule.kind === 'absence' ? undefined : rule;
  const anomaly = rule.kind === 'anomaly' ? rule : undefined;
  return {
    rule,
    id: rule.id,
    kind: rule.kind,
    forWindows: series?.forWindows ?? 1,
    forMs: rule.for === undefined ? 0 : parseDuration(rule.for),
    staleAfterMs: series?.staleAfter === undefined || series.staleAfter === null ? null : parseDuration(series.staleAfter),
    alpha: anomaly?.alpha ?? 0.3,
    history: anomaly?.history ?? 30,
    minHistory: anomaly?.minHistory ?? 5,
  };
}

export function compare(a: number | string, op: Comparison, b: number | string): boolean {
  switch (op) {
    case '>':
      return a > b;
    case '>=':
      return a >= b;
    case '<':
      return a < b;
    case '<=':
      return a <= b;
    case '==':
      return a === b;
    case '!=':
      return a !== b;
  }
}

/** Reads a dotted path inside a window value (`undefined` when absent). */
export function readField(value: unknown, path: string | undefined): unknown {
  if (path === undefined) return value;
  let cur: unknown = value;
  for (const part of path.split('.')) {
    if (!isObject(cur) && !Array.isArray(cur)) return undefined;
    cur = (cur as Record<string, unknown>)[part];
  }
  return cur;
}
