/**
 * The validators of rules and silences as they were before they moved onto ajv (git: libs/alerting/src/rule.ts
 * and silence.ts at the merge of 'api-reference'), kept only for validators.property.spec.ts, which checks that
 * the JSON Schema plus the semantic step accept exactly what these accepted. Not part of the build (tsconfig.build
 * excludes specs and this file).
 */
/* eslint-disable */
import { parseDuration } from '@tidemark/streaming';
import { compileGlob, compileSimpleRegex } from './glob';
import { rawWebhookProblem } from './receivers';
import { COMPARISONS, RULE_KINDS, SEVERITIES, type AlertRule, type Comparison, type FieldError, type RuleKind, type RuleValidation, type Severity } from './rule';
import { SILENCE_LIMITS, type Matcher, type SilenceCaps, type SilenceInput } from './silence';

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
const RULE_LIMITS = { maxTextLength: 1024, maxKeyLength: 256, maxLabels: 32, maxLabelNameLength: 128, maxLabelValueLength: 256, maxWebhooks: 8, maxUrlLength: 2048 } as const;

/**
 * Where a rule may send webhooks (docs/security.md "Webhooks"): receiver names the operator defined, and the
 * normalised URL prefixes a raw URL must start with. The default allows no receiver and no raw URL.
 */
interface WebhookPolicy {
  receivers: ReadonlySet<string>;
  allowlist: readonly string[];
}

const NO_WEBHOOKS: WebhookPolicy = { receivers: new Set(), allowlist: [] };

/**
 * Validates one rule; `idFromPath` (PUT /v1/alert-rules/:id) fills a missing id and must match a given one;
 * `webhooks` says which receivers and raw URLs the rule may name.
 */
export function legacyValidateRule(input: unknown, idFromPath?: string, webhooks: WebhookPolicy = NO_WEBHOOKS): RuleValidation {
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


const isObj = (v: unknown): v is Record<string, unknown> => typeof v === 'object' && v !== null && !Array.isArray(v);

/**
 * Validates `POST /v1/silences`: `matchers` (at least one), `endsAt` (epoch ms) or `duration` (ms or "2h"),
 * `startsAt` (default now), optional `createdBy` and `comment`.
 */
export function legacyValidateSilence(
  input: unknown,
  now: number,
  parseDuration: (v: unknown) => number,
  caps: SilenceCaps = { maxDurationMs: 90 * 86_400_000 },
): { ok: true; silence: SilenceInput } | { ok: false; errors: FieldError[] } {
  const errors: FieldError[] = [];
  const err = (field: string, reason: string) => errors.push({ field, reason });
  if (!isObj(input)) return { ok: false, errors: [{ field: '', reason: 'a silence must be a JSON object' }] };
  for (const k of Object.keys(input)) if (!['matchers', 'startsAt', 'endsAt', 'duration', 'createdBy', 'comment'].includes(k)) err(k, 'is not a field of a silence');
  const matchers: Matcher[] = [];
  const L = SILENCE_LIMITS;
  if (!Array.isArray(input.matchers) || input.matchers.length === 0) err('matchers', 'is required: at least one {name, value}');
  else if (input.matchers.length > L.maxMatchers) err('matchers', `has ${input.matchers.length} matchers, over the limit of ${L.maxMatchers}`);
  else
    input.matchers.forEach((m, i) => {
      if (!isObj(m)) return err(`matchers.${i}`, 'must be an object {name, value, isRegex?, isGlob?, isEqual?}');
      if (typeof m.name !== 'string' || m.name === '') err(`matchers.${i}.name`, 'is required');
      else if (m.name.length > L.maxNameLength) err(`matchers.${i}.name`, `is ${m.name.length} characters, over the limit of ${L.maxNameLength}`);
      if (typeof m.value !== 'string') err(`matchers.${i}.value`, 'must be a string');
      else if (m.value.length > L.maxPatternLength) err(`matchers.${i}.value`, `is ${m.value.length} characters, over the limit of ${L.maxPatternLength}`);
      for (const flag of ['isRegex', 'isGlob', 'isEqual'] as const) {
        if (m[flag] !== undefined && typeof m[flag] !== 'boolean') err(`matchers.${i}.${flag}`, 'must be true or false');
      }
      if (m.isRegex === true && m.isGlob === true) err(`matchers.${i}.isGlob`, 'give isRegex or isGlob, not both');
      else if (typeof m.value === 'string' && m.value.length <= L.maxPatternLength && (m.isRegex === true || m.isGlob === true)) {
        try {
          if (m.isRegex === true) compileSimpleRegex(m.value);
          else compileGlob(m.value);
        } catch (e) {
          err(`matchers.${i}.value`, `is not a supported ${m.isRegex === true ? 'regular expression' : 'glob'}: ${(e as Error).message}`);
        }
      }
      for (const k of Object.keys(m)) if (!['name', 'value', 'isRegex', 'isGlob', 'isEqual'].includes(k)) err(`matchers.${i}.${k}`, 'is not a matcher field');
      const matcher: Matcher = { name: m.name as string, value: m.value as string, isRegex: m.isRegex === true, isEqual: m.isEqual !== false };
      if (m.isGlob === true) matcher.isGlob = true;
      matchers.push(matcher);
    });
  const startsAt = input.startsAt === undefined ? now : input.startsAt;
  if (!Number.isSafeInteger(startsAt)) err('startsAt', 'must be epoch milliseconds');
  let endsAt: unknown = input.endsAt;
  let lengthField = 'endsAt';
  if (input.duration !== undefined) {
    lengthField = 'duration';
    if (input.endsAt !== undefined) err('duration', 'give endsAt or duration, not both');
    try {
      const d = parseDuration(input.duration);
      if (d <= 0) err('duration', 'must be positive');
      endsAt = (startsAt as number) + d;
    } catch (e) {
      err('duration', (e as Error).message);
    }
  } else if (input.endsAt === undefined) err('endsAt', 'is required (epoch ms), or give a duration such as "2h"');
  if (endsAt !== undefined && !Number.isSafeInteger(endsAt)) err('endsAt', 'must be epoch milliseconds');
  else if (Number.isSafeInteger(startsAt) && (endsAt as number) <= (startsAt as number)) err('endsAt', 'must be after startsAt');
  else if (Number.isSafeInteger(startsAt) && endsAt !== undefined && (endsAt as number) - Math.max(now, startsAt as number) > caps.maxDurationMs) {
    err(lengthField, `makes the silence longer than the limit of ${caps.maxDurationMs} ms (ALERTING_MAX_SILENCE_DURATION_MS)`);
  }
  if (input.createdBy !== undefined && typeof input.createdBy !== 'string') err('createdBy', 'must be a string');
  else if (typeof input.createdBy === 'string' && input.createdBy.length > L.maxNameLength) err('createdBy', `is over the limit of ${L.maxNameLength} characters`);
  if (input.comment !== undefined && typeof input.comment !== 'string') err('comment', 'must be a string');
  else if (typeof input.comment === 'string' && input.comment.length > L.maxCommentLength) err('comment', `is over the limit of ${L.maxCommentLength} characters`);
  if (errors.length > 0) return { ok: false, errors };
  const silence: SilenceInput = { matchers, startsAt: startsAt as number, endsAt: endsAt as number };
  if (input.createdBy !== undefined) silence.createdBy = input.createdBy as string;
  if (input.comment !== undefined) silence.comment = input.comment as string;
  return { ok: true, silence };
}

