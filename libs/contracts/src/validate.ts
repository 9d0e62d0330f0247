/**
 * Validation of incoming events: one record in, either a normalised `TidemarkEvent` or a list of
 * precise per-field errors out. Pure: the clock is an argument.
 *
 * Decisions (documented in the README):
 * - `ts` is an ISO-8601 string (a time without offset is UTC) or integer epoch milliseconds; it is normalised
 *   to epoch ms. Absurd times are rejected: before 2000-01-01, or more than `maxFutureMs` ahead of `now`.
 * - Unknown top-level fields are kept: they are moved into `attrs` (a field already in `attrs` wins).
 */
import Ajv, { ErrorObject, ValidateFunction } from 'ajv';
import { EVENT_TYPES, TidemarkEvent } from './events';
import { KNOWN_EVENT_FIELDS, eventJsonSchema } from './event-schema';

export interface FieldError {
  /** Dotted path of the field, e.g. `items.0.price`; `''` for the record itself. */
  field: string;
  reason: string;
}

export type ValidationResult = { ok: true; event: TidemarkEvent } | { ok: false; errors: FieldError[] };

export interface ValidateOptions {
  /** The clock, epoch ms. */
  now: number;
  /** How far ahead of `now` an event may be (default one day). */
  maxFutureMs?: number;
}

export const MIN_EVENT_TS = Date.UTC(2000, 0, 1);
const DAY = 86_400_000;

const ISO_8601 =
  /^(\d{4})-(\d{2})-(\d{2})(?:[T ](\d{2}):(\d{2})(?::(\d{2})(?:\.(\d{1,9}))?)?)?(Z|[+-]\d{2}(?::?\d{2})?)?$/i;

/** Parses an ISO-8601 date or date-time; a time without an offset is UTC. Returns NaN when invalid. */
export function parseIsoTime(s: string): number {
  const m = ISO_8601.exec(s.trim());
  if (!m) return NaN;
  const [, y, mo, d, h = '0', mi = '0', sec = '0', frac = '', zone] = m;
  const year = Number(y);
  const month = Number(mo);
  const day = Number(d);
  const hour = Number(h);
  const minute = Number(mi);
  const second = Number(sec);
  if (month < 1 || month > 12 || day < 1 || hour > 23 || minute > 59 || second > 59) return NaN;
  const daysInMonth = new Date(Date.UTC(year, month, 0)).getUTCDate();
  if (day > daysInMonth) return NaN;
  const ms = frac ? Math.floor(Number(`0.${frac}`) * 1000) : 0;
  let t = Date.UTC(year, month - 1, day, hour, minute, second, ms);
  if (zone && zone.toUpperCase() !== 'Z') {
    const sign = zone[0] === '-' ? -1 : 1;
    const digits = zone.slice(1).replace(':', '');
    const offH = Number(digits.slice(0, 2));
    const offM = digits.length > 2 ? Number(digits.slice(2, 4)) : 0;
    if (offH > 23 || offM > 59) return NaN;
    t -= sign * (offH * 60 + offM) * 60_000;
  }
  return t;
}

let compiled: ValidateFunction | undefined;
function schemaValidator(): ValidateFunction {
  if (!compiled) {
    const ajv = new Ajv({ allErrors: true, discriminator: true, strict: true, allowUnionTypes: true });
    compiled = ajv.compile(eventJsonSchema);
  }
  return compiled;
}

function fieldOf(e: ErrorObject): string {
  if (e.keyword === 'discriminator') return 'type';
  const path = e.instancePath.replace(/^\//, '').replace(/\//g, '.');
  if (e.keyword === 'required') {
    const missing = (e.params as { missingProperty: string }).missingProperty;
    return path ? `${path}.${missing}` : missing;
  }
  return path;
}

function reasonOf(e: ErrorObject): string {
  switch (e.keyword) {
    case 'required':
      return 'is required';
    case 'discriminator':
      return `must be one of ${EVENT_TYPES.join(', ')}`;
    case 'const':
      return `must be ${JSON.stringify((e.params as { allowedValue: unknown }).allowedValue)}`;
    case 'type':
      return `must be of type ${(e.params as { type: string | string[] }).type.toString().replace(',', ' or ')}`;
    default:
      return e.message ?? e.keyword;
  }
}

function fail(errors: FieldError[]): ValidationResult {
  return { ok: false, errors };
}

export function normaliseTs(raw: unknown, opts: ValidateOptions): number | FieldError {
  let t: number;
  if (typeof raw === 'number') {
    if (!Number.isInteger(raw)) return { field: 'ts', reason: 'epoch milliseconds must be an integer' };
    t = raw;
  } else if (typeof raw === 'string') {
    t = parseIsoTime(raw);
    if (Number.isNaN(t)) return { field: 'ts', reason: `"${raw.slice(0, 64)}" is not an ISO-8601 time` };
  } else {
    return { field: 'ts', reason: 'must be an ISO-8601 string or epoch milliseconds' };
  }
  if (t < MIN_EVENT_TS) return { field: 'ts', reason: 'is before 2000-01-01' };
  const maxFuture = opts.maxFutureMs ?? DAY;
  if (t > opts.now + maxFuture) return { field: 'ts', reason: `is more than ${maxFuture} ms ahead of the clock` };
  return t;
}

export function validateEvent(input: unknown, opts: ValidateOptions): ValidationResult {
  if (typeof input !== 'object' || input === null || Array.isArray(input)) {
    return fail([{ field: '', reason: 'an event must be a JSON object' }]);
  }
  const record = input as Record<string, unknown>;
  // Before the schema: a lone surrogate cannot be stored or passed to Redis's Lua (cjson) intact.
  const illFormed = illFormedStrings(record);
  if (illFormed.length > 0) return fail(illFormed.map((field) => ({ field, reason: NOT_WELL_FORMED })));
  const validate = schemaValidator();
  const errors: FieldError[] = [];
  if (!validate(record)) {
    for (const e of validate.errors ?? []) {
      // The discriminator branch reports the `type` const mismatch of other branches; keep only useful errors.
      errors.push({ field: fieldOf(e), reason: reasonOf(e) });
    }
  }
  const ts = normaliseTs(record.ts, opts);
  if (typeof ts !== 'number' && record.ts !== undefined && !errors.some((e) => e.field === 'ts')) errors.push(ts);
  if (errors.length > 0) return fail(dedupeErrors(errors));

  const event: Record<string, unknown> = {};
  let extras: Record<string, unknown> | undefined;
  for (const key of Object.keys(record)) {
    if (KNOWN_EVENT_FIELDS.has(key)) event[key] = record[key];
    else (extras ??= {})[key] = record[key];
  }
  event.ts = ts;
  if (extras) event.attrs = { ...extras, ...((record.attrs as Record<string, unknown> | undefined) ?? {}) };
  return { ok: true, event: event as unknown as TidemarkEvent };
}

export const NOT_WELL_FORMED = 'is not well-formed Unicode (it holds a lone UTF-16 surrogate)';

/**
 * The dotted paths (`userId`, `items.0.productId`, `attrs.note`) of the strings in `value`, object keys
 * included (the path then ends with that key), that are not well-formed Unicode: a lone UTF-16 surrogate,
 * e.g. JSON `"\ud800"`. Such a string has no UTF-8 form, so it would not survive storage or Redis's Lua.
 */
export function illFormedStrings(value: unknown, path = '', out: string[] = []): string[] {
  if (typeof value === 'string') {
    if (!isWellFormed(value)) out.push(path);
  } else if (Array.isArray(value)) {
    value.forEach((v, i) => illFormedStrings(v, path ? `${path}.${i}` : String(i), out));
  } else if (typeof value === 'object' && value !== null) {
    for (const [k, v] of Object.entries(value)) {
      const p = path ? `${path}.${k}` : k;
      if (!isWellFormed(k)) out.push(p);
      else illFormedStrings(v, p, out);
    }
  }
  return out;
}

function isWellFormed(s: string): boolean {
  return (s as unknown as { isWellFormed(): boolean }).isWellFormed();
}

function dedupeErrors(errors: FieldError[]): FieldError[] {
  const seen = new Set<string>();
  return errors.filter((e) => {
    const k = `${e.field}\u0000${e.reason}`;
    if (seen.has(k)) return false;
    seen.add(k);
    return true;
  });
}

/** One line for humans: `productId is required; price must be >= 0`. */
export function describeErrors(errors: FieldError[]): string {
  return errors.map((e) => (e.field ? `${e.field} ${e.reason}` : e.reason)).join('; ');
}
