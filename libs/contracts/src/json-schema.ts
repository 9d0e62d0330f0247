/**
 * JSON Schemas (draft 2020-12, as OpenAPI 3.1 embeds them) compiled by ajv, with errors that name the field and
 * give a reason a person can act on. Used for the request bodies whose schema is also published in /openapi.json
 * (alert rules, silences, metric definitions): the schema object is the single source, compiled once at module load.
 *
 * Reasons come from the schema itself: a schema may carry an `x-error` annotation (an OpenAPI specification
 * extension, ignored by other validators):
 * - a string: the reason for any failure of that schema's keywords, and for the field missing (`required`);
 * - an object `{ <keyword>: reason, '*': fallback, required: reason, at: 'parent' }`: per keyword. `required` is
 *   read from the missing property's own schema; `additionalProperties` from the object's schema (the field named
 *   is the extra property); `at: 'parent'` reports an error of a `propertyNames` subschema at the object itself.
 * Templates: `{n}` the length (characters, items or keys) of the value, `{limit}` the keyword's limit, `{value}`
 * the value as JSON. Errors of combinators (`if`, `oneOf`, `anyOf`, `propertyNames`, `discriminator`) are dropped:
 * the subschema errors under them are more specific. At most one error per field is kept (the first).
 *
 * Lengths are UTF-16 code units (ajv `unicode: false`), as `String.length` counts them everywhere else.
 */
import Ajv, { ErrorObject, type ValidateFunction } from 'ajv';

export type JsonSchemaObject = Record<string, unknown>;

export interface SchemaFieldError {
  /** Dotted path (`matchers.0.name`), or with `bracketIndexes` `source.types[0]`; `''` for the value itself. */
  field: string;
  reason: string;
}

export interface SchemaCheckOptions {
  /** Array indexes as `[i]` (metric definitions) instead of `.i` (HTTP bodies). */
  bracketIndexes?: boolean;
}

/**
 * `unicode: false` is deprecated in ajv 8 but honoured (limitLength.ts): it makes maxLength count `String.length`,
 * as the checks before ajv did and as every other limit here does. Its one deprecation warning is not logged.
 */
const logger = {
  log: (...a: unknown[]) => console.log(...a),
  warn: (...a: unknown[]) => (String(a[0]).includes('option unicode') ? undefined : console.warn(...a)),
  error: (...a: unknown[]) => console.error(...a),
};

/** One ajv instance for these schemas; `x-error` is declared as an annotation keyword. */
export function createSchemaAjv(): Ajv {
  const ajv = new Ajv({ allErrors: true, verbose: true, discriminator: true, strict: true, allowUnionTypes: true, unicode: false, logger });
  ajv.addKeyword({ keyword: 'x-error', schemaType: ['string', 'object'] });
  return ajv;
}

const DROPPED = new Set(['if', 'oneOf', 'anyOf', 'allOf', 'propertyNames', 'discriminator']);

type Reasons = string | Record<string, string | undefined>;

function reasonFrom(x: unknown, keyword: string): string | undefined {
  if (typeof x === 'string') return x;
  if (x && typeof x === 'object') {
    const r = x as Record<string, string | undefined>;
    return r[keyword] ?? (keyword === 'required' ? undefined : r['*']);
  }
  return undefined;
}

function sizeOf(v: unknown): number | undefined {
  if (typeof v === 'string' || Array.isArray(v)) return v.length;
  if (v && typeof v === 'object') return Object.keys(v).length;
  return undefined;
}

function fill(template: string, e: ErrorObject): string {
  return template
    .replace(/\{n\}/g, String(sizeOf(e.data)))
    .replace(/\{limit\}/g, String((e.params as { limit?: unknown }).limit))
    .replace(/\{value\}/g, e.keyword === 'required' || e.data === undefined ? 'nothing' : shown(e.data));
}

/**
 * A value as an error message quotes it: JSON, at most 64 characters; a structure too deep to stringify (a
 * hostile input nested thousands of levels) is named by its type, never a stack overflow.
 */
function shown(v: unknown): string {
  if (v !== null && typeof v === 'object') return Array.isArray(v) ? 'an array' : 'an object';
  const text = JSON.stringify(v) ?? String(v);
  return text.length > 64 ? `${text.slice(0, 61)}...` : text;
}

function defaultReason(e: ErrorObject): string {
  const p = e.params as Record<string, unknown>;
  switch (e.keyword) {
    case 'required':
      return 'is required';
    case 'maxLength':
      return `is ${sizeOf(e.data)} characters, over the limit of ${String(p.limit)}`;
    case 'maxItems':
      return `has ${sizeOf(e.data)} items, over the limit of ${String(p.limit)}`;
    case 'maxProperties':
      return `has ${sizeOf(e.data)} keys, over the limit of ${String(p.limit)}`;
    case 'enum':
      return `must be one of ${(p.allowedValues as unknown[]).map((v) => String(v)).join(', ')}`;
    case 'const':
      return `must be ${JSON.stringify(p.allowedValue)}`;
    case 'additionalProperties':
      return 'is not a known field';
    default:
      return e.message ?? e.keyword;
  }
}

function joinPath(parts: string[], bracket: boolean): string {
  let out = '';
  for (const part of parts) {
    if (bracket && /^\d+$/.test(part)) out += `[${part}]`;
    else out += out ? `.${part}` : part;
  }
  return out;
}

function pathParts(instancePath: string): string[] {
  if (!instancePath) return [];
  return instancePath
    .slice(1)
    .split('/')
    .map((s) => s.replace(/~1/g, '/').replace(/~0/g, '~'));
}

/** One ajv error as a field error, or undefined when it only summarises others. */
export function fieldErrorOf(e: ErrorObject, opts: SchemaCheckOptions = {}): SchemaFieldError | undefined {
  if (DROPPED.has(e.keyword)) return undefined;
  const parts = pathParts(e.instancePath);
  const parent = (e.parentSchema ?? {}) as Record<string, unknown>;
  const own = parent['x-error'] as Reasons | undefined;
  let reason: string | undefined;
  if (e.keyword === 'required') {
    const missing = (e.params as { missingProperty: string }).missingProperty;
    parts.push(missing);
    const props = (parent.properties ?? {}) as Record<string, Record<string, unknown> | boolean>;
    const prop = props[missing];
    reason = typeof prop === 'object' ? reasonFrom(prop['x-error'], 'required') : undefined;
  } else if (e.keyword === 'additionalProperties') {
    parts.push((e.params as { additionalProperty: string }).additionalProperty);
    reason = reasonFrom(own, 'additionalProperties');
  } else {
    reason = reasonFrom(own, e.keyword);
    const name = (e as ErrorObject & { propertyName?: string }).propertyName;
    if (name !== undefined && !(own && typeof own === 'object' && own.at === 'parent')) parts.push(name);
  }
  return { field: joinPath(parts, opts.bracketIndexes === true), reason: reason === undefined ? defaultReason(e) : fill(reason, e) };
}

/**
 * Compiles `schema` once, at the first check (the modules that define schemas are loaded by every service, most
 * of which never check them: compiling at load took a tenth of a service's start-up); the returned function
 * lists the field errors of a value (empty when valid), at most one per field.
 */
export function compileSchemaCheck(ajv: Ajv, schema: JsonSchemaObject, opts: SchemaCheckOptions = {}): (value: unknown) => SchemaFieldError[] {
  let compiled: ValidateFunction | undefined;
  return (value) => {
    const validate = (compiled ??= ajv.compile(schema));
    if (validate(value)) return [];
    const out: SchemaFieldError[] = [];
    const seen = new Set<string>();
    for (const e of (validate.errors ?? []) as ErrorObject[]) {
      const fe = fieldErrorOf(e, opts);
      if (!fe || seen.has(fe.field)) continue;
      seen.add(fe.field);
      out.push(fe);
    }
    return out;
  };
}

/** Whether `field` or anything inside it (`field.x`, `field[0]`) has an error: the semantic checks after the schema skip such fields. */
export function hasErrorAt(errors: readonly SchemaFieldError[], field: string): boolean {
  if (field === '') return errors.length > 0;
  return errors.some((e) => e.field === field || e.field.startsWith(`${field}.`) || e.field.startsWith(`${field}[`));
}
