/**
 * Silences: label matchers over a time range (wall clock); a silenced alert changes state but is not notified.
 * Patterns match in linear time (glob.ts), compiled once per silence (`compileSilence`), never per alert.
 */
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

/**
 * Validates `POST /v1/silences`: `matchers` (at least one), `endsAt` (epoch ms) or `duration` (ms or "2h"),
 * `startsAt` (default now), optional `createdBy` and `comment`.
 */
export function validateSilence(
  input: unknown,
  now: number,
  parseDuration: (v: unknown) => number,
  caps: SilenceCaps = { maxDurationMs: 90 * 86_400_000 },
): { ok: true; silence: SilenceInput } | { ok: false; errors: FieldError[] } {
  const errors: FieldError[] = [];
  const err = (field: string, reason: string) => errors.push({ field, reason });
  if (!isObject(input)) return { ok: false, errors: [{ field: '', reason: 'a silence must be a JSON object' }] };
  for (const k of Object.keys(input)) if (!['matchers', 'startsAt', 'endsAt', 'duration', 'createdBy', 'comment'].includes(k)) err(k, 'is not a field of a silence');
  const matchers: Matcher[] = [];
  const L = SILENCE_LIMITS;
  if (!Array.isArray(input.matchers) || input.matchers.length === 0) err('matchers', 'is required: at least one {name, value}');
  else if (input.matchers.length > L.maxMatchers) err('matchers', `has ${input.matchers.length} matchers, over the limit of ${L.maxMatchers}`);
  else
    input.matchers.forEach((m, i) => {
      if (!isObject(m)) return err(`matchers.${i}`, 'must be an object {name, value, isRegex?, isGlob?, isEqual?}');
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
