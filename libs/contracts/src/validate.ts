/**
 * Validation of incoming events: one record in, either a normalised `TidemarkEvent` or a list of
 * precise per-field errors out. Pure: the clock is an argument.
 *
 * Decisions (documented in docs/ingestion.md):
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
  /** How far ahead of `now` an event may be (default DEFAULT_MAX_FUTURE_MS; docs/semantics.md "Event time"). */
  maxFutureMs?: number;
  /** What one event may hold (default DEFAULT_EVENT_LIMITS). */
  limits?: EventLimits;
}

/**
 * Caps that keep one event cheap downstream (docs/settings.md "Limits"). Beyond a cap the record is rejected, naming
 * the field; nothing is trimmed.
 */
export interface EventLimits {
  /** `items` of an `order_placed`. */
  maxOrderItems: number;
  /** `attrs` as stored (unknown top-level fields moved in), JSON bytes. */
  maxAttrsBytes: number;
  /** Keys in `attrs`, the keys of nested objects counted too. */
  maxAttrsKeys: number;
  /** Levels of `attrs`: 1 = flat values; also bounds the nesting of any other field (items' extra fields). */
  maxAttrsDepth: number;
}

export const DEFAULT_EVENT_LIMITS: EventLimits = { maxOrderItems: 100, maxAttrsBytes: 8192, maxAttrsKeys: 64, maxAttrsDepth: 4 };

export const MIN_EVENT_TS = Date.UTC(2000, 0, 1);
/**
 * Default bound on `ts` ahead of the ingestion clock: a few minutes (clock skew of senders), not a day, so a
 * few events from the future cannot push the watermark ahead and make every genuine event late
 * (docs/semantics.md "Event time and watermarks").
 */
export const DEFAULT_MAX_FUTURE_MS = 5 * 60_000;

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
  const maxFuture = opts.maxFutureMs ?? DEFAULT_MAX_FUTURE_MS;
  if (t > opts.now + maxFuture) return { field: 'ts', reason: `is more than ${maxFuture} ms ahead of the clock` };
  return t;
}

export function validateEvent(input: unknown, opts: ValidateOptions): ValidationResult {
  if (typeof input !== 'object' || input === null || Array.isArray(input)) {
    return fail([{ field: '', reason: 'an event must be a JSON object' }]);
  }
  const record = input as Record<string, unknown>;
  const limits = opts.limits ?? DEFAULT_EVENT_LIMITS;
  // First, without recursion: a deeply nested value would overflow the stack of every recursive walk below
  // (and of JSON.stringify when it is stored).
  const deep = tooDeep(record, Math.max(2, limits.maxAttrsDepth));
  if (deep !== undefined) return fail([{ field: deep, reason: `is nested deeper than ${limits.maxAttrsDepth} levels` }]);
  // Before the schema: a lone surrogate cannot be stored or passed to Redis's Lua (cjson) intact.
  const illFormed = illFormedStrings(record);
  if (illFormed.length > 0) return fail(illFormed.map((field) => ({ field, reason: NOT_WELL_FORMED })));
  const validate = schemaValidator();
  const errors: FieldError[] = [];
  if (!validate(record)) {
    for (const e of validate.errors ?? []) {
      // The discriminator branch reports the `type` const mismatch of other branches; keep only useful errors.
      if (e.keyword === 'maxItems' && fieldOf(e) === 'items') continue; // reported below with the configured cap
      errors.push({ field: fieldOf(e), reason: reasonOf(e) });
    }
  }
  if (Array.isArray(record.items) && record.items.length > limits.maxOrderItems) {
    errors.push({ field: 'items', reason: `has ${record.items.length} items, over the limit of ${limits.maxOrderItems}` });
  }
  const ts = normaliseTs(record.ts, opts);
  if (typeof ts !== 'number' && record.ts !== undefined && !errors.some((e) => e.field === 'ts')) errors.push(ts);
  if (errors.length > 0) return fail(dedupeErrors(errors));

  // Already in stored form (epoch-millisecond ts, no unknown top-level field): the input itself is the event,
  // so ingestion can store the bytes it was parsed from (planIngest). Otherwise a normalised copy.
  let event = record;
  if (ts !== record.ts || !Object.keys(record).every((key) => KNOWN_EVENT_FIELDS.has(key))) {
    event = {};
    let extras: Record<string, unknown> | undefined;
    for (const key of Object.keys(record)) {
      if (KNOWN_EVENT_FIELDS.has(key)) event[key] = record[key];
      else (extras ??= {})[key] = record[key];
    }
    event.ts = ts;
    if (extras) event.attrs = { ...extras, ...((record.attrs as Record<string, unknown> | undefined) ?? {}) };
  }
  if (event.attrs !== undefined) {
    const attrErrors = attrsErrors(event.attrs as Record<string, unknown>, limits);
    if (attrErrors.length > 0) return fail(attrErrors);
  }
  return { ok: true, event: event as unknown as TidemarkEvent };
}

/**
 * The dotted path of the first object or array nested more than `maxLevels` levels below `value` (an object
 * directly in `value` is level 1), or undefined. Any depth is safe to measure: the check recurses at most
 * `maxLevels` + 1 levels, and the path of a value found too deep is then found without recursion.
 */
export function tooDeep(value: unknown, maxLevels: number): string | undefined {
  if (typeof value !== 'object' || value === null || !nestedDeeper(value, 0, maxLevels)) return undefined;
  const stack: { v: unknown; path: string[] }[] = [{ v: value, path: [] }];
  while (stack.length > 0) {
    const { v, path } = stack.pop()!;
    if (typeof v !== 'object' || v === null) continue;
    if (path.length > maxLevels) return path.join('.');
    for (const [k, child] of Object.entries(v)) if (typeof child === 'object' && child !== null) stack.push({ v: child, path: [...path, k] });
  }
  return undefined;
}

/** Whether an object or array sits more than `max` levels below `v`, which is at `level` (allocates nothing on arrays). */
function nestedDeeper(v: object, level: number, max: number): boolean {
  if (Array.isArray(v)) {
    for (let i = 0; i < v.length; i++) {
      const c: unknown = v[i];
      if (typeof c === 'object' && c !== null && (level + 1 > max || nestedDeeper(c, level + 1, max))) return true;
    }
    return false;
  }
  for (const k of Object.keys(v)) {
    const c = (v as Record<string, unknown>)[k];
    if (typeof c === 'object' && c !== null && (level + 1 > max || nestedDeeper(c, level + 1, max))) return true;
  }
  return false;
}

function attrsErrors(attrs: Record<string, unknown>, limits: EventLimits): FieldError[] {
  const deep = tooDeep(attrs, limits.maxAttrsDepth - 1);
  if (deep !== undefined) return [{ field: `attrs.${deep}`, reason: `is nested deeper than ${limits.maxAttrsDepth} levels` }];
  let keys = 0;
  const stack: unknown[] = [attrs];
  while (stack.length > 0) {
    const v = stack.pop();
    if (typeof v !== 'object' || v === null) continue;
    if (!Array.isArray(v)) keys += Object.keys(v).length;
    for (const child of Object.values(v)) if (typeof child === 'object' && child !== null) stack.push(child);
  }
  const errors: FieldError[] = [];
  if (keys > limits.maxAttrsKeys) errors.push({ field: 'attrs', reason: `has ${keys} keys, over the limit of ${limits.maxAttrsKeys}` });
  const bytes = Buffer.byteLength(JSON.stringify(attrs));
  if (bytes > limits.maxAttrsBytes) errors.push({ field: 'attrs', reason: `is ${bytes} bytes as JSON, over the limit of ${limits.maxAttrsBytes}` });
  return errors;
}

export const NOT_WELL_FORMED = 'is not well-formed Unicode (it holds a lone UTF-16 surrogate)';

/**
 * The dotted paths (`userId`, `items.0.productId`, `attrs.note`) of the strings in `value`, object keys
 * included (the path then ends with that key), that are not well-formed Unicode: a lone UTF-16 surrogate,
 * e.g. JSON `"\ud800"`. Such a string has no UTF-8 form, so it would not survive storage or Redis's Lua.
 * Paths are built only when there is one to report; neither walk recurses, so any depth is safe.
 */
export function illFormedStrings(value: unknown): string[] {
  if (!holdsIllFormed(value)) return [];
  const out: string[] = [];
  const stack: { v: unknown; path: string }[] = [{ v: value, path: '' }];
  const at = (path: string, k: string | number) => (path ? `${path}.${k}` : String(k));
  while (stack.length > 0) {
    const { v, path } = stack.pop()!;
    if (typeof v === 'string') {
      if (!v.isWellFormed()) out.push(path);
    } else if (Array.isArray(v)) {
      for (let i = v.length - 1; i >= 0; i--) stack.push({ v: v[i], path: at(path, i) });
    } else if (typeof v === 'object' && v !== null) {
      const entries = Object.entries(v);
      for (let i = entries.length - 1; i >= 0; i--) {
        const [k, child] = entries[i];
        // an ill-formed key is reported itself; its value is not looked into
        stack.push(k.isWellFormed() ? { v: child, path: at(path, k) } : { v: k, path: at(path, k) });
      }
    }
  }
  return out;
}

/** Whether `value` holds a string or key that is not well-formed: one pass, no paths. */
function holdsIllFormed(value: unknown): boolean {
  if (typeof value === 'string') return !value.isWellFormed();
  if (typeof value !== 'object' || value === null) return false;
  const stack: object[] = [value];
  while (stack.length > 0) {
    const v = stack.pop()!;
    if (Array.isArray(v)) {
      for (let i = 0; i < v.length; i++) {
        const c: unknown = v[i];
        if (typeof c === 'string') {
          if (!c.isWellFormed()) return true;
        } else if (typeof c === 'object' && c !== null) stack.push(c);
      }
    } else {
      for (const k of Object.keys(v)) {
        if (!k.isWellFormed()) return true;
        const c = (v as Record<string, unknown>)[k];
        if (typeof c === 'string') {
          if (!c.isWellFormed()) return true;
        } else if (typeof c === 'object' && c !== null) stack.push(c);
      }
    }
  }
  return false;
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
