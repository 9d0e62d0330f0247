/**
 * Alert rules are data: JSON objects validated here with one precise error per failing field, then compiled
 * into the form the engine evaluates. Pure: no I/O, no clock.
 */
import { parseDuration } from '@tidemark/streaming';
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

const ID = /^[a-z0-9_-]{1,64}$/;
const METRIC = /^[A-Za-z0-9_-]{1,128}$/;
const FIELD = /^[A-Za-z0-9_$]+(\.[A-Za-z0-9_$]+)*$/;
const LABEL_NAME = /^[A-Za-z_][A-Za-z0-9_]{0,63}$/;

const COMMON_FIELDS = ['id', 'kind', 'description', 'severity', 'metric', 'key', 'field', 'guard', 'labels', 'summary', 'receivers', 'webhooks', 'enabled'];
const SERIES_FIELDS = ['forWindows', 'for', 'staleAfter'];
const KIND_FIELDS: Record<RuleKind, string[]> = {
  threshold: [...SERIES_FIELDS, 'op', 'value'],
  anomaly: [...SERIES_FIELDS, 'method', 'direction', 'threshold', 'alpha', 'history', 'minHistory'],
  rate_of_change: [...SERIES_FIELDS, 'change', 'op', 'value', 'minValue'],
  absence: ['for'],
};

const isObject = (v: unknown): v is Record<string, unknown> => typeof v === 'object' && v !== null && !Array.isArray(v);
const isFiniteNumber = (v: unknown): v is number => typeof v === 'number' && Number.isFinite(v);

/** Caps on one rule (docs/settings.md "Limits"): what is stored, listed and copied into every alert stays small. */
export const RULE_LIMITS = { maxTextLength: 1024, maxKeyLength: 256, maxLabels: 32, maxLabelNameLength: 128, maxLabelValueLength: 256, maxWebhooks: 8, maxUrlLength: 2048 } as const;

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
 * `webhooks` says which receivers and raw URLs the rule may name.
 */
export function validateRule(input: unknown, idFromPath?: string, webhooks: WebhookPolicy = NO_WEBHOOKS): RuleValidation {
  const errors: FieldError[] = [];
  const err = (field: string, reason: string) => errors.push({ field, reason });
  if (!isObject(input)) return { ok: false, errors: [{ field: '', reason: 'a rule must be a JSON object' }] };
  const r: Record<string, unknown> = { ...input };
  if (idFromPath !== undefined) {
    if (r.id === undefined) r.id = idFromPath;
    else if (r.id !== idFromPath) err('id', `must match the id in the path ("${idFromPath}")`);
  }

  if (typeof r.id !== 'string' || !ID.test(r.id)) err('id', r.id === undefined ? 'is required' : 'must be 1-64 characters of a-z, 0-9, _ and -');
  const kind = r.kind as RuleKind;
  if (r.kind === undefined) err('kind', `is required: one of ${RULE_KINDS.join(', ')}`);
  else if (!RULE_KINDS.includes(kind)) err('kind', `must be one of ${RULE_KINDS.join(', ')}`);
  if (r.severity === undefined) r.severity = 'warning';
  else if (!SEVERITIES.includes(r.severity as Severity)) err('severity', `must be one of ${SEVERITIES.join(', ')}`);
  if (typeof r.metric !== 'string' || !METRIC.test(r.metric)) err('metric', r.metric === undefined ? 'is required' : 'must be a metric name (letters, digits, _ and -)');
  const RL = RULE_LIMITS;
  const tooLong = (field: string, v: unknown, max: number) => typeof v === 'string' && v.length > max && err(field, `is ${v.length} characters, over the limit of ${max}`);
  if (r.key !== undefined && (typeof r.key !== 'string' || r.key === '')) err('key', 'must be a non-empty string');
  tooLong('key', r.key, RL.maxKeyLength);
  tooLong('description', r.description, RL.maxTextLength);
  tooLong('summary', r.summary, RL.maxTextLength);
  if (r.field !== undefined && (typeof r.field !== 'string' || !FIELD.test(r.field))) err('field', 'must be a dotted path such as "ratio" or "stats.value"');
  if (r.description !== undefined && typeof r.description !== 'string') err('description', 'must be a string');
  if (r.summary !== undefined && typeof r.summary !== 'string') err('summary', 'must be a string');
  if (r.enabled !== undefined && typeof r.enabled !== 'boolean') err('enabled', 'must be true or false');
  if (r.guard !== undefined) {
    if (!isObject(r.guard)) err('guard', 'must be an object {field, op, value}');
    else {
      const g = r.guard;
      if (typeof g.field !== 'string' || !FIELD.test(g.field)) err('guard.field', 'must be a dotted path');
      if (!COMPARISONS.includes(g.op as Comparison)) err('guard.op', `must be one of ${COMPARISONS.join(' ')}`);
      if (!isFiniteNumber(g.value)) err('guard.value', 'must be a number');
      for (const k of Object.keys(g)) if (!['field', 'op', 'value'].includes(k)) err(`guard.${k}`, 'is not a guard field');
    }
  }
  if (r.labels !== undefined) {
    if (!isObject(r.labels)) err('labels', 'must be an object of string values');
    else if (Object.keys(r.labels).length > RL.maxLabels) err('labels', `has ${Object.keys(r.labels).length} labels, over the limit of ${RL.maxLabels}`);
    else
      for (const [k, v] of Object.entries(r.labels)) {
        if (k.length > RL.maxLabelNameLength) err('labels', `a label name is ${k.length} characters, over the limit of ${RL.maxLabelNameLength}`);
        else if (typeof v === 'string' && v.length > RL.maxLabelValueLength) err(`labels.${k}`, `is ${v.length} characters, over the limit of ${RL.maxLabelValueLength}`);
        else if (!LABEL_NAME.test(k)) err(`labels.${k}`, 'label names are letters, digits and _ (not starting with a digit)');
        else if (['metric', 'key', 'alertname'].includes(k)) err(`labels.${k}`, 'is reserved');
        else if (typeof v !== 'string') err(`labels.${k}`, 'must be a string');
      }
  }
  if (r.receivers !== undefined) {
    if (!Array.isArray(r.receivers)) err('receivers', 'must be an array of receiver names');
    else
      r.receivers.forEach((n, i) =>
        typeof n === 'string' && webhooks.receivers.has(n) ? undefined : err(`receivers.${i}`, 'is not a receiver defined in ALERTING_RECEIVERS_FILE'),
      );
  }
  if (r.webhooks !== undefined) {
    if (!Array.isArray(r.webhooks)) err('webhooks', 'must be an array of http(s) URLs');
    else if (r.webhooks.length > RL.maxWebhooks) err('webhooks', `has ${r.webhooks.length} URLs, over the limit of ${RL.maxWebhooks}`);
    else if (r.webhooks.some((u) => typeof u === 'string' && u.length > RL.maxUrlLength)) err('webhooks', `a URL is over the limit of ${RL.maxUrlLength} characters`);
    else
      r.webhooks.forEach((u, i) => {
        const problem = rawWebhookProblem(u, webhooks.allowlist);
        if (problem) err(`webhooks.${i}`, problem);
      });
  }

  if (RULE_KINDS.includes(kind)) {
    const allowed = new Set([...COMMON_FIELDS, ...KIND_FIELDS[kind]]);
    for (const k of Object.keys(r)) if (!allowed.has(k)) err(k, `is not a field of a ${kind} rule`);
    if (kind !== 'absence') {
      if (r.forWindows !== undefined && !(Number.isInteger(r.forWindows) && (r.forWindows as number) >= 1 && (r.forWindows as number) <= 1000))
        err('forWindows', 'must be a whole number from 1 to 1000');
      if (r.for !== undefined) duration(r.for, 'for', err, 0);
      if (r.staleAfter !== undefined && r.staleAfter !== null) duration(r.staleAfter, 'staleAfter', err, 1000);
    }
    switch (kind) {
      case 'threshold':
        if (!COMPARISONS.includes(r.op as Comparison)) err('op', `is required: one of ${COMPARISONS.join(' ')}`);
        if (typeof r.value === 'string') {
          if (r.op !== '==' && r.op !== '!=') err('value', 'a string value needs op "==" or "!="');
        } else if (!isFiniteNumber(r.value)) err('value', r.value === undefined ? 'is required' : 'must be a number (or a string with == / !=)');
        break;
      case 'anomaly':
        if (r.method !== 'ewma' && r.method !== 'zscore') err('method', 'is required: "ewma" or "zscore"');
        if (r.direction === undefined) r.direction = 'both';
        else if (!['up', 'down', 'both'].includes(r.direction as string)) err('direction', 'must be "up", "down" or "both"');
        if (!isFiniteNumber(r.threshold) || r.threshold <= 0) err('threshold', r.threshold === undefined ? 'is required' : 'must be a number > 0');
        else if (r.method === 'ewma' && r.direction === 'down' && r.threshold >= 1) err('threshold', 'a relative drop must be below 1 (0.5 = 50 % below the baseline)');
        if (r.alpha !== undefined && !(isFiniteNumber(r.alpha) && r.alpha > 0 && r.alpha <= 1)) err('alpha', 'must be a number in (0, 1]');
        if (r.history !== undefined && !(Number.isInteger(r.history) && (r.history as number) >= 2 && (r.history as number) <= 1000))
          err('history', 'must be a whole number from 2 to 1000');
        if (r.minHistory !== undefined && !(Number.isInteger(r.minHistory) && (r.minHistory as number) >= 1 && (r.minHistory as number) <= 1000))
          err('minHistory', 'must be a whole number from 1 to 1000');
        else if (r.method === 'zscore' && r.minHistory !== undefined && (r.minHistory as number) < 2) err('minHistory', 'a z-score needs at least 2 windows of history');
        if (r.method === 'zscore' && Number.isInteger(r.minHistory) && Number.isInteger(r.history) && (r.minHistory as number) > (r.history as number))
          err('minHistory', 'cannot exceed history');
        break;
      case 'rate_of_change':
        if (r.change !== 'absolute' && r.change !== 'relative') err('change', 'is required: "absolute" or "relative"');
        if (!COMPARISONS.includes(r.op as Comparison)) err('op', `is required: one of ${COMPARISONS.join(' ')}`);
        if (!isFiniteNumber(r.value)) err('value', r.value === undefined ? 'is required' : 'must be a number');
        if (r.minValue !== undefined && !isFiniteNumber(r.minValue)) err('minValue', 'must be a number');
        break;
      case 'absence':
        if (r.for === undefined) err('for', 'is required: how long without a window, e.g. "2m"');
        else duration(r.for, 'for', err, 1000);
        break;
    }
  }
  if (errors.length > 0) return { ok: false, errors };
  return { ok: true, rule: r as unknown as AlertRule };
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
