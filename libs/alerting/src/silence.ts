/**
 * Silences: label matchers over a time range (wall clock); a silenced alert changes state but is not notified.
 * Patterns match in linear time (glob.ts), compiled once per silence (`compileSilence`), never per alert.
 */
import { compileSchemaCheck, createSchemaAjv, hasErrorAt } from '@tidemark/contracts';
import { durationSchema } from '@tidemark/streaming';
import type { Alert } from './alert';
import { CompiledPattern, PatternError, compileGlob, compileSimpleRegex, matchPattern } from './glob';
import type { FieldError } from './rule';

/** Caps on one silence (docs/settings.md "Limits"); the number of silences and their length are settings. */
export const SILENCE_LIMITS = { maxMatchers: 16, maxNameLength: 128, maxPatternLength: 256, maxCommentLength: 1024, maxLabelValueLength: 1024 } as const;

export interface SilenceCaps {
  /** Longest silence, ms (ALERTING_MAX_SILENCE_DURATION_MS). */
  maxDurationMs: number;
}

export interface Matcher {
  /** A label name; `alertname` is the rule id, `severity` the rule's severity. */
  name: string;
  value: string;
  /** `value` is a simple regular expression matched against the whole label value: literals, `.`, `.*`, `.+`, `\` escapes, top-level `|` (default false). */
  isRegex?: boolean;
  /** `value` is a glob matched against the whole label value: `*`, `?`, `\` escapes, top-level `|` (default false). */
  isGlob?: boolean;
  /** false: the label must NOT match (default true). */
  isEqual?: boolean;
}

export interface Silence {
  id: string;
  matchers: Matcher[];
  startsAt: number;
  endsAt: number;
  createdBy?: string;
  comment?: string;
  createdAt: number;
}

export type SilenceInput = Omit<Silence, 'id' | 'createdAt'>;

const isObject = (v: unknown): v is Record<string, unknown> => typeof v === 'object' && v !== null && !Array.isArray(v);

const L = SILENCE_LIMITS;
const epochMs = (description: string) => ({ type: 'integer', minimum: -Number.MAX_SAFE_INTEGER, maximum: Number.MAX_SAFE_INTEGER, description, 'x-error': 'must be epoch milliseconds' });
const flag = (description: string) => ({ type: 'boolean', description, 'x-error': 'must be true or false' });

/**
 * `POST /v1/silences` as JSON Schema (draft 2020-12): the one definition of the body. `validateSilence` compiles it
 * with ajv and /openapi.json of the alerting service publishes this very object (components/schemas/Silence).
 */
export const silenceSchema: Record<string, unknown> = {
  type: 'object',
  description:
    'A silence (docs/alerting.md "Silences"). A 400 problem names each bad field in errors[]. Checked after this schema: endsAt or duration (not both) is given, the duration parses and is positive, endsAt is after startsAt, the silence is no longer than ALERTING_MAX_SILENCE_DURATION_MS, and each isRegex/isGlob pattern is supported (linear-time matching).',
  required: ['matchers'],
  properties: {
    matchers: {
      type: 'array',
      minItems: 1,
      maxItems: L.maxMatchers,
      items: {
        type: 'object',
        description: 'Matches a label of the alert (`alertname` is the rule id, `severity` its severity).',
        required: ['name', 'value'],
        properties: {
          name: { type: 'string', minLength: 1, maxLength: L.maxNameLength, 'x-error': { type: 'is required', minLength: 'is required', required: 'is required' } },
          value: { type: 'string', maxLength: L.maxPatternLength, 'x-error': { type: 'must be a string', required: 'must be a string' } },
          isRegex: flag('value is a simple regular expression over the whole label value: literals, ., .*, .+, \\ escapes, top-level | (default false)'),
          isGlob: flag('value is a glob over the whole label value: *, ?, \\ escapes, top-level | (default false)'),
          isEqual: flag('false: the label must not match (default true)'),
        },
        additionalProperties: false,
        if: { required: ['isRegex'], properties: { isRegex: { const: true } } },
        then: { properties: { isGlob: { not: { const: true }, 'x-error': 'give isRegex or isGlob, not both' } } },
        'x-error': { type: 'must be an object {name, value, isRegex?, isGlob?, isEqual?}', additionalProperties: 'is not a matcher field' },
      },
      'x-error': { '*': 'is required: at least one {name, value}', required: 'is required: at least one {name, value}', maxItems: 'has {n} matchers, over the limit of {limit}' },
    },
    startsAt: epochMs('Epoch ms (default now).'),
    endsAt: epochMs('Epoch ms; or give duration.'),
    duration: { ...durationSchema, description: 'How long from startsAt (instead of endsAt).' },
    createdBy: { type: 'string', maxLength: L.maxNameLength, 'x-error': { type: 'must be a string', maxLength: 'is over the limit of {limit} characters' } },
    comment: { type: 'string', maxLength: L.maxCommentLength, 'x-error': { type: 'must be a string', maxLength: 'is over the limit of {limit} characters' } },
  },
  additionalProperties: false,
  'x-error': { additionalProperties: 'is not a field of a silence' },
};

const silenceSchemaErrors = compileSchemaCheck(createSchemaAjv(), silenceSchema);

/**
 * Validates `POST /v1/silences`: `matchers` (at least one), `endsAt` (epoch ms) or `duration` (ms or "2h"),
 * `startsAt` (default now), optional `createdBy` and `comment`. Two steps: the JSON Schema (`silenceSchema`, ajv),
 * then the checks it cannot make, on the fields it found valid: the time range (now, endsAt or duration, the
 * longest silence, a setting) and that each regex or glob compiles to a linear-time pattern (glob.ts).
 */
export function validateSilence(
  input: unknown,
  now: number,
  parseDuration: (v: unknown) => number,
  caps: SilenceCaps = { maxDurationMs: 90 * 86_400_000 },
): { ok: true; silence: SilenceInput } | { ok: false; errors: FieldError[] } {
  if (!isObject(input)) return { ok: false, errors: [{ field: '', reason: 'a silence must be a JSON object' }] };
  const schemaErrors = silenceSchemaErrors(input);
  const errors: FieldError[] = [...schemaErrors];
  const err = (field: string, reason: string) => errors.push({ field, reason });
  const valid = (field: string) => !hasErrorAt(schemaErrors, field);
  // Each matcher the schema accepted (in a list it accepted): its pattern must compile to a linear-time one.
  if (Array.isArray(input.matchers) && !schemaErrors.some((e) => e.field === 'matchers'))
    input.matchers.forEach((m: Record<string, unknown>, i) => {
      if (!valid(`matchers.${i}`) || (m.isRegex !== true && m.isGlob !== true)) return;
      try {
        if (m.isRegex === true) compileSimpleRegex(m.value as string);
        else compileGlob(m.value as string);
      } catch (e) {
        err(`matchers.${i}.value`, `is not a supported ${m.isRegex === true ? 'regular expression' : 'glob'}: ${(e as Error).message}`);
      }
    });
  // The time range: only from fields the schema accepted.
  const startsAt = input.startsAt === undefined ? now : (input.startsAt as number);
  const startOk = valid('startsAt');
  let endsAt = input.endsAt as number | undefined;
  let endOk = valid('endsAt');
  let lengthField = 'endsAt';
  if (input.duration !== undefined) {
    lengthField = 'duration';
    if (input.endsAt !== undefined) err('duration', 'give endsAt or duration, not both');
    endOk = false;
    if (valid('duration'))
      try {
        const d = parseDuration(input.duration);
        if (d <= 0) err('duration', 'must be positive');
        else if (startOk) {
          endsAt = startsAt + d;
          endOk = Number.isSafeInteger(endsAt);
          if (!endOk) err('endsAt', 'must be epoch milliseconds');
        }
      } catch (e) {
        err('duration', (e as Error).message);
      }
  } else if (input.endsAt === undefined) err('endsAt', 'is required (epoch ms), or give a duration such as "2h"');
  if (startOk && endOk && endsAt !== undefined) {
    if (endsAt <= startsAt) err('endsAt', 'must be after startsAt');
    else if (endsAt - Math.max(now, startsAt) > caps.maxDurationMs) err(lengthField, `makes the silence longer than the limit of ${caps.maxDurationMs} ms (ALERTING_MAX_SILENCE_DURATION_MS)`);
  }
  if (errors.length > 0) return { ok: false, errors };
  const matchers = (input.matchers as Record<string, unknown>[]).map((m) => {
    const matcher: Matcher = { name: m.name as string, value: m.value as string, isRegex: m.isRegex === true, isEqual: m.isEqual !== false };
    if (m.isGlob === true) matcher.isGlob = true;
    return matcher;
  });
  const silence: SilenceInput = { matchers, startsAt, endsAt: endsAt as number };
  if (input.createdBy !== undefined) silence.createdBy = input.createdBy as string;
  if (input.comment !== undefined) silence.comment = input.comment as string;
  return { ok: true, silence };
}

/** The labels silences match: the alert's labels plus `alertname` (rule id) and `severity`. */
export function matchLabels(alert: Pick<Alert, 'labels' | 'rule' | 'severity'>): Record<string, string> {
  return { ...alert.labels, alertname: alert.rule, severity: alert.severity };
}

/** A matcher with its pattern compiled (once). */
export interface CompiledMatcher {
  matcher: Matcher;
  pattern: CompiledPattern | null;
}

/** A silence with its matchers compiled once (the engine then never compiles per alert transition). */
export interface CompiledSilence extends Silence {
  compiled: CompiledMatcher[];
}

/**
 * Compiles a silence's matchers. A stored matcher whose pattern is no longer supported (a regex from before
 * linear-time matching) compiles to a pattern that matches nothing: the silence then mutes nothing, it never
 * costs more than linear time.
 */
export function compileSilence(s: Silence): CompiledSilence {
  const compiled = s.matchers.map((m): CompiledMatcher => {
    if (!m.isRegex && !m.isGlob) return { matcher: m, pattern: null };
    try {
      return { matcher: m, pattern: m.isRegex ? compileSimpleRegex(m.value) : compileGlob(m.value) };
    } catch (e) {
      if (!(e instanceof PatternError)) throw e;
      return { matcher: m, pattern: { alternatives: [] } };
    }
  });
  return { ...s, compiled };
}

function compiledMatches(c: CompiledMatcher, labels: Record<string, string>): boolean {
  const v = labels[c.matcher.name] ?? '';
  let hit: boolean;
  if (c.pattern === null) hit = v === c.matcher.value;
  else hit = v.length <= SILENCE_LIMITS.maxLabelValueLength && matchPattern(c.pattern, v);
  return c.matcher.isEqual === false ? !hit : hit;
}

/** One matcher against labels (compiles it: for tests and one-off checks; silences use `compileSilence`). */
export function matcherMatches(m: Matcher, labels: Record<string, string>): boolean {
  return compiledMatches(compileSilence({ id: '', matchers: [m], startsAt: 0, endsAt: 0, createdAt: 0 }).compiled[0], labels);
}

export function isActiveSilence(s: Silence, now: number): boolean {
  return s.startsAt <= now && now < s.endsAt;
}

/** The silences muting this alert at wall-clock `now`. */
export function silencedBy<S extends CompiledSilence>(alert: Pick<Alert, 'labels' | 'rule' | 'severity'>, silences: readonly S[], now: number): S[] {
  const labels = matchLabels(alert);
  return silences.filter((s) => isActiveSilence(s, now) && s.compiled.every((c) => compiledMatches(c, labels)));
}

/** The ids of silences that have ended by `now` (to prune). */
export function expiredSilences(silences: Iterable<Silence>, now: number): string[] {
  const out: string[] = [];
  for (const s of silences) if (s.endsAt <= now) out.push(s.id);
  return out;
}
