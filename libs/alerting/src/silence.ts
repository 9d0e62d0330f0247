/** Silences: label matchers over a time range (wall clock); a silenced alert changes state but is not notified. */
import type { Alert } from './alert';
import type { FieldError } from './rule';

export interface Matcher {
  /** A label name; `alertname` is the rule id, `severity` the rule's severity. */
  name: string;
  value: string;
  /** `value` is a regular expression matched against the whole label value (default false). */
  isRegex?: boolean;
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
export function validateSilence(input: unknown, now: number, parseDuration: (v: unknown) => number): { ok: true; silence: SilenceInput } | { ok: false; errors: FieldError[] } {
  const errors: FieldError[] = [];
  const err = (field: string, reason: string) => errors.push({ field, reason });
  if (!isObject(input)) return { ok: false, errors: [{ field: '', reason: 'a silence must be a JSON object' }] };
  for (const k of Object.keys(input)) if (!['matchers', 'startsAt', 'endsAt', 'duration', 'createdBy', 'comment'].includes(k)) err(k, 'is not a field of a silence');
  const matchers: Matcher[] = [];
  if (!Array.isArray(input.matchers) || input.matchers.length === 0) err('matchers', 'is required: at least one {name, value}');
  else
    input.matchers.forEach((m, i) => {
      if (!isObject(m)) return err(`matchers.${i}`, 'must be an object {name, value, isRegex?, isEqual?}');
      if (typeof m.name !== 'string' || m.name === '') err(`matchers.${i}.name`, 'is required');
      if (typeof m.value !== 'string') err(`matchers.${i}.value`, 'must be a string');
      if (m.isRegex !== undefined && typeof m.isRegex !== 'boolean') err(`matchers.${i}.isRegex`, 'must be true or false');
      if (m.isEqual !== undefined && typeof m.isEqual !== 'boolean') err(`matchers.${i}.isEqual`, 'must be true or false');
      if (m.isRegex === true && typeof m.value === 'string') {
        try {
          new RegExp(`^(?:${m.value})$`);
        } catch (e) {
          err(`matchers.${i}.value`, `is not a valid regular expression: ${(e as Error).message}`);
        }
      }
      for (const k of Object.keys(m)) if (!['name', 'value', 'isRegex', 'isEqual'].includes(k)) err(`matchers.${i}.${k}`, 'is not a matcher field');
      matchers.push({ name: m.name as string, value: m.value as string, isRegex: m.isRegex === true, isEqual: m.isEqual !== false });
    });
  const startsAt = input.startsAt === undefined ? now : input.startsAt;
  if (!Number.isSafeInteger(startsAt)) err('startsAt', 'must be epoch milliseconds');
  let endsAt: unknown = input.endsAt;
  if (input.duration !== undefined) {
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
  if (input.createdBy !== undefined && typeof input.createdBy !== 'string') err('createdBy', 'must be a string');
  if (input.comment !== undefined && typeof input.comment !== 'string') err('comment', 'must be a string');
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

export function matcherMatches(m: Matcher, labels: Record<string, string>): boolean {
  const v = labels[m.name] ?? '';
  const hit = m.isRegex ? new RegExp(`^(?:${m.value})$`).test(v) : v === m.value;
  return m.isEqual === false ? !hit : hit;
}

export function isActiveSilence(s: Silence, now: number): boolean {
  return s.startsAt <= now && now < s.endsAt;
}

/** The silences muting this alert at wall-clock `now`. */
export function silencedBy(alert: Pick<Alert, 'labels' | 'rule' | 'severity'>, silences: readonly Silence[], now: number): Silence[] {
  const labels = matchLabels(alert);
  return silences.filter((s) => isActiveSilence(s, now) && s.matchers.every((m) => matcherMatches(m, labels)));
}
