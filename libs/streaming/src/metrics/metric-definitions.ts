/**
 * Declarative metric definitions (JSON): which events, optionally exploded into items, keyed by a field
 * path, valued by a field path, aggregated, windowed. The 13 default metrics are defined this way
 * (default-metrics.json) and a user adds one without code. `validateMetricDefinitions` checks each against one
 * JSON Schema (`metricDefinitionSchema`, ajv; also published in the aggregation service's /openapi.json) and then
 * the rules a schema cannot express, and throws one MetricDefinitionError listing every problem, each naming the
 * definition and the field.
 *
 * Example:
 * {
 *   "name": "revenue_by_campaign",
 *   "source": { "types": ["order_placed"] },
 *   "key": "attrs.campaign",
 *   "value": "amount",
 *   "aggregation": { "type": "sum" },
 *   "window": { "type": "tumbling", "size": "5m" }
 * }
 */
import { EVENT_TYPES, EventType } from '@tidemark/contracts';
import { compileSchemaCheck, createSchemaAjv, hasErrorAt, type SchemaFieldError } from '@tidemark/contracts';
import { Duration, durationSchema, parseDuration } from '../duration';
import { isItemPath, isValidFieldPath } from '../field-path';

export interface MetricSource {
  /** Event types counted (default: those the aggregation names, or every type). */
  types?: EventType[];
  /** Path of an array field: one record per element, read with `item.` paths (e.g. "items"). */
  explode?: string;
  /** Reads the late output instead of events: each late event once, at the watermark that found it late. */
  late?: boolean;
}

export type AggregationSpec =
  | { type: 'count' }
  | { type: 'sum' }
  | { type: 'avg' }
  | { type: 'min' }
  | { type: 'max' }
  | { type: 'distinct' }
  | { type: 'topK'; k: number }
  | { type: 'ratio'; numerator: EventType[]; denominator: EventType[] }
  | { type: 'funnel'; stages: { name: string; types: EventType[] }[] }
  | { type: 'abandonment'; started: EventType[]; completed: EventType[] }
  | { type: 'join'; left: EventType[]; right: EventType[]; fields?: string[] };

export type AggregationType = AggregationSpec['type'];

export type WindowSpec =
  | { type: 'tumbling'; size: Duration; offset?: Duration }
  | { type: 'sliding'; size: Duration; hop: Duration; offset?: Duration }
  | { type: 'session'; gap: Duration }
  /** Interval join: a left event matches a right one with left.ts + lower <= right.ts < left.ts + upper. */
  | { type: 'interval'; upper: Duration; lower?: Duration };

export interface MetricDefinition {
  /** Lower-case letters, digits and `_`, starting with a letter (it names subjects: results.<name>). */
  name: string;
  description?: string;
  source?: MetricSource;
  /** Field path of the key; records without it are skipped for this metric. Omitted: the key is "all". */
  key?: string;
  /**
   * The aggregated value: for sum/avg/min/max a numeric field path, or a list of paths multiplied together
   * (e.g. ["item.price", "item.quantity"]); for distinct/topK/funnel the member's field path.
   */
  value?: string | string[];
  aggregation: AggregationSpec;
  window: WindowSpec;
}

export interface DefinitionIssue {
  /** The definition's name, or `#<index>` when it has none. */
  metric: string;
  /** Dotted path of the offending field, e.g. `window.size`. */
  field: string;
  message: string;
}

export class MetricDefinitionError extends Error {
  constructor(readonly issues: DefinitionIssue[]) {
    super(`invalid metric definition${issues.length > 1 ? 's' : ''}:\n${issues.map((i) => `  metric "${i.metric}": ${i.field}: ${i.message}`).join('\n')}`);
    this.name = 'MetricDefinitionError';
  }
}

const NAME = /^[a-z][a-z0-9_]{0,63}$/;
const TOP_FIELDS = ['name', 'description', 'source', 'key', 'value', 'aggregation', 'window'];
const SOURCE_FIELDS = ['types', 'explode', 'late'];
const AGG_FIELDS: Record<AggregationType, string[]> = {
  count: [],
  sum: [],
  avg: [],
  min: [],
  max: [],
  distinct: [],
  topK: ['k'],
  ratio: ['numerator', 'denominator'],
  funnel: ['stages'],
  abandonment: ['started', 'completed'],
  join: ['left', 'right', 'fields'],
};
const WINDOW_FIELDS: Record<WindowSpec['type'], string[]> = {
  tumbling: ['size', 'offset'],
  sliding: ['size', 'hop', 'offset'],
  session: ['gap'],
  interval: ['upper', 'lower'],
};
const NUMERIC_VALUE: AggregationType[] = ['sum', 'avg', 'min', 'max'];
const MEMBER_VALUE: AggregationType[] = ['distinct', 'topK', 'funnel'];
const MAX_TOP_K = 1000;

const isObject = (v: unknown): v is Record<string, unknown> => v !== null && typeof v === 'object' && !Array.isArray(v);
const show = (v: unknown): string => (v === undefined ? 'nothing' : JSON.stringify(v));

// ---- the JSON Schema --------------------------------------------------------------------------------------

/** field-path.ts `isValidFieldPath` as a pattern: dot-separated identifiers, none of __proto__, prototype, constructor. */
const FIELD_PATH = '^(?!(?:.*\\.)?(?:__proto__|prototype|constructor)(?:\\.|$))[A-Za-z_$][A-Za-z0-9_$]*(?:\\.[A-Za-z_$][A-Za-z0-9_$]*)*$';
const fieldPath = (description?: string) => ({
  type: 'string',
  pattern: FIELD_PATH,
  ...(description ? { description } : {}),
  'x-error': 'must be a field path like "productId" or "attrs.campaign" (got {value})',
});
const eventTypes = (description: string) => ({
  type: 'array',
  description,
  minItems: 1,
  items: { enum: EVENT_TYPES, 'x-error': `unknown event type {value} (known: ${EVENT_TYPES.join(', ')})` },
  'x-error': 'must be a non-empty list of event types (got {value})',
});
const unknownField = (allowed: string[]) => ({ additionalProperties: `unknown field (allowed: ${allowed.join(', ') || 'none'})` });
const duration = (description: string) => ({ ...durationSchema, description, 'x-error': { '*': durationSchema['x-error'], required: 'must be a duration like "5m" or a number of milliseconds (got nothing)' } });

function branch(tag: string, fields: string[], properties: Record<string, unknown>, required: string[], description: string): Record<string, unknown> {
  return {
    type: 'object',
    description,
    required: ['type', ...required],
    properties: { type: { const: tag }, ...properties },
    additionalProperties: false,
    'x-error': unknownField(['type', ...fields]),
  };
}

const aggregationSchema = {
  type: 'object',
  description: 'How the records of a window are aggregated.',
  required: ['type'],
  properties: { type: { enum: Object.keys(AGG_FIELDS), 'x-error': `must be one of ${Object.keys(AGG_FIELDS).join(', ')} (got {value})` } },
  discriminator: { propertyName: 'type' },
  oneOf: [
    ...(['count', 'sum', 'avg', 'min', 'max', 'distinct'] as const).map((t) =>
      branch(t, [], {}, [], t === 'count' ? 'Records counted.' : t === 'distinct' ? 'Distinct members (HyperLogLog).' : `The ${t} of the numeric value.`),
    ),
    branch('topK', ['k'], { k: { type: 'integer', minimum: 1, maximum: MAX_TOP_K, 'x-error': `must be an integer from 1 to ${MAX_TOP_K} (got {value})` } }, ['k'], 'The k most frequent members.'),
    branch('ratio', ['numerator', 'denominator'], { numerator: eventTypes('Counted above.'), denominator: eventTypes('Counted below (with the numerator).') }, ['numerator', 'denominator'], 'numerator / denominator counts.'),
    branch(
      'funnel',
      ['stages'],
      {
        stages: {
          type: 'array',
          minItems: 2,
          items: {
            type: 'object',
            required: ['name', 'types'],
            properties: { name: { type: 'string', minLength: 1, 'x-error': 'must be a non-empty string (got {value})' }, types: eventTypes('Event types reaching this stage.') },
            additionalProperties: false,
            'x-error': { type: 'must be an object {name, types} (got {value})', ...unknownField(['name', 'types']) },
          },
          'x-error': 'must be a list of at least 2 stages {name, types} (got {value})',
        },
      },
      ['stages'],
      'Distinct members reaching each stage, in order (stage names unique).',
    ),
    branch('abandonment', ['started', 'completed'], { started: eventTypes('Starts a session.'), completed: eventTypes('Completes it.') }, ['started', 'completed'], 'Sessions started and not completed.'),
    branch(
      'join',
      ['left', 'right', 'fields'],
      { left: eventTypes('Left side.'), right: eventTypes('Right side (no type on both sides).'), fields: { type: 'array', items: fieldPath(), description: 'Fields of the left event kept in the result.', 'x-error': 'must be a list of field paths (got {value})' } },
      ['left', 'right'],
      'Interval join of left and right events with the same key (needs a key and an interval window).',
    ),
  ],
  'x-error': { type: 'must be an object with a "type" (got {value})', required: 'must be an object with a "type" (got nothing)' },
};

const windowSchema = {
  type: 'object',
  description: 'The windows, in event time.',
  required: ['type'],
  properties: { type: { enum: Object.keys(WINDOW_FIELDS), 'x-error': `must be one of ${Object.keys(WINDOW_FIELDS).join(', ')} (got {value})` } },
  discriminator: { propertyName: 'type' },
  oneOf: [
    branch('tumbling', WINDOW_FIELDS.tumbling, { size: duration('Window length (> 0).'), offset: duration('Shift of the window starts, in [0, size).') }, ['size'], 'Back-to-back windows.'),
    branch('sliding', WINDOW_FIELDS.sliding, { size: duration('Window length (> 0).'), hop: duration('Distance between window starts (> 0, at most size).'), offset: duration('Shift, in [0, hop).') }, ['size', 'hop'], 'Overlapping windows.'),
    branch('session', WINDOW_FIELDS.session, { gap: duration('Inactivity that ends a session (> 0).') }, ['gap'], 'Sessions of one key (keyed by sessionId: a service rule, apps/aggregation metric-loader.ts).'),
    branch('interval', WINDOW_FIELDS.interval, { upper: duration('right.ts < left.ts + upper (> 0).'), lower: duration('left.ts + lower <= right.ts (default 0, below upper).') }, ['upper'], 'An interval join window.'),
  ],
  'x-error': { type: 'must be an object with a "type" (got {value})', required: 'must be an object with a "type" (got nothing)' },
};

/**
 * A metric definition as JSON Schema (draft 2020-12): the one definition of the shape. `validateMetricDefinitions`
 * compiles it with ajv and the aggregation service's /openapi.json publishes this very object
 * (components/schemas/MetricDefinition). What a schema cannot say is checked after it (`semanticIssues`).
 */
export const metricDefinitionSchema: Record<string, unknown> = {
  type: 'object',
  description:
    'A metric definition (docs/metrics.md). Checked after this schema: the value fits the aggregation (a numeric path or a list of them for sum/avg/min/max, one path for distinct/topK/funnel, none otherwise); item. paths need source.explode; source.types include the aggregation’s types; funnel stage names are unique; a join has a key, disjoint sides, an interval window, no explode and no late source; durations parse, sizes are positive, hop ≤ size, offset in [0, hop), lower < upper; late is counted in tumbling or sliding windows; names are unique.',
  required: ['name', 'aggregation', 'window'],
  properties: {
    name: { type: 'string', pattern: NAME.source, description: 'Names the subject results.<name>.', 'x-error': `must match ${NAME} (lower-case letters, digits, _; got {value})` },
    description: { type: 'string', 'x-error': 'must be a string (got {value})' },
    source: {
      type: 'object',
      properties: {
        types: eventTypes('Event types counted (default: those the aggregation names, or every type).'),
        explode: { ...fieldPath('Path of an array: one record per element, read with item. paths.'), not: { pattern: '^item(?:\\.|$)' }, 'x-error': 'must be the field path of an array, e.g. "items" (got {value})' },
        late: { type: 'boolean', description: 'Read the late output instead of events.', 'x-error': 'must be true or false (got {value})' },
      },
      additionalProperties: false,
      'x-error': { type: 'must be an object (got {value})', ...unknownField(SOURCE_FIELDS) },
    },
    key: fieldPath('Field path of the key (default: the key is "all").'),
    value: { type: ['string', 'array'], description: 'A field path; for sum/avg/min/max also a list of paths multiplied together.', 'x-error': 'must be a field path like "productId" or "attrs.campaign" (got {value})' },
    aggregation: aggregationSchema,
    window: windowSchema,
  },
  additionalProperties: false,
  'x-error': unknownField(TOP_FIELDS),
};

const definitionSchemaErrors = compileSchemaCheck(createSchemaAjv(), metricDefinitionSchema, { bracketIndexes: true });

/** The event types an aggregation refers to (its source types must include them). Tolerates unvalidated input. */
export function aggregationTypes(a: AggregationSpec): EventType[] {
  const list = (v: unknown): EventType[] => (Array.isArray(v) ? (v as EventType[]) : []);
  switch (a.type) {
    case 'ratio':
      return [...new Set([...list(a.numerator), ...list(a.denominator)])];
    case 'funnel':
      return [...new Set(list(a.stages).flatMap((s) => (s !== null && typeof s === 'object' ? list((s as { types?: unknown }).types) : [])))];
    case 'abandonment':
      return [...new Set([...list(a.started), ...list(a.completed)])];
    case 'join':
      return [...new Set([...list(a.left), ...list(a.right)])];
    default:
      return [];
  }
}

function checkOne(raw: unknown, index: number): { def?: MetricDefinition; issues: DefinitionIssue[] } {
  const label = isObject(raw) && typeof raw.name === 'string' && raw.name ? raw.name : `#${index}`;
  if (!isObject(raw)) return { issues: [{ metric: label, field: '(definition)', message: `must be an object (got ${show(raw)})` }] };
  const schemaErrors = definitionSchemaErrors(raw);
  const issues: DefinitionIssue[] = schemaErrors.map((e) => ({ metric: label, field: e.field, message: e.reason }));
  for (const [field, message] of semanticIssues(raw, schemaErrors)) issues.push({ metric: label, field, message });
  return issues.length === 0 ? { def: raw as unknown as MetricDefinition, issues: [] } : { issues };
}

/**
 * The checks after the schema, each on fields the schema found valid (docs/metrics.md "Metric definitions"):
 * what depends on another field (the value on the aggregation, item. paths on explode, source types on the
 * aggregation's, a join's key, sides and window, late sources) and what needs parsing (durations and their order).
 */
function semanticIssues(raw: Record<string, unknown>, schemaErrors: SchemaFieldError[]): [string, string][] {
  const out: [string, string][] = [];
  const fail = (field: string, message: string) => out.push([field, message]);
  const valid = (field: string) => !hasErrorAt(schemaErrors, field);
  const source = isObject(raw.source) ? raw.source : undefined;
  const explode = source?.explode !== undefined && valid('source.explode');
  const late = source?.late === true;
  if (late && explode) fail('source.explode', 'cannot explode the late output');
  const path = (v: unknown, field: string, withItems: boolean) => {
    if (!isValidFieldPath(v)) fail(field, `must be a field path like "productId" or "attrs.campaign" (got ${show(v)})`);
    else if (isItemPath(v) && !withItems) fail(field, `"${v}" reads an exploded item, but source.explode is not set`);
  };
  if (raw.key !== undefined && valid('key')) path(raw.key, 'key', explode);

  const agg = isObject(raw.aggregation) ? raw.aggregation : undefined;
  const aggType = agg && valid('aggregation.type') && typeof agg.type === 'string' ? (agg.type as AggregationType) : undefined;
  if (agg && aggType === 'join') {
    if (Array.isArray(agg.left) && Array.isArray(agg.right)) {
      const both = agg.left.filter((t) => (agg.right as unknown[]).includes(t));
      if (both.length > 0) fail('aggregation.right', `an event type cannot be on both sides of a join (${both.join(', ')})`);
    }
    if (Array.isArray(agg.fields) && !schemaErrors.some((e) => e.field === 'aggregation.fields'))
      agg.fields.forEach((f, i) => valid(`aggregation.fields[${i}]`) && path(f, `aggregation.fields[${i}]`, false));
    if (raw.key === undefined) fail('key', 'a join needs a key (e.g. "orderId")');
    if (explode) fail('source.explode', 'a join cannot explode items');
    if (late) fail('aggregation.type', 'a join cannot read the late output');
  }
  if (agg && aggType === 'funnel' && Array.isArray(agg.stages) && agg.stages.length >= 2) {
    const names = new Set<string>();
    agg.stages.forEach((s, i) => {
      const name = isObject(s) ? s.name : undefined;
      if (typeof name !== 'string' || name.length === 0) return;
      if (names.has(name)) fail(`aggregation.stages[${i}].name`, `duplicate stage name "${name}"`);
      else names.add(name);
    });
  }

  // value
  if (aggType && NUMERIC_VALUE.includes(aggType)) {
    if (raw.value === undefined) fail('value', `${aggType} needs a numeric field path (or a list of paths to multiply)`);
    else if (Array.isArray(raw.value)) {
      if (raw.value.length === 0) fail('value', 'must name at least one field path');
      raw.value.forEach((p, i) => path(p, `value[${i}]`, explode));
    } else if (valid('value')) path(raw.value, 'value', explode);
  } else if (aggType && MEMBER_VALUE.includes(aggType)) {
    if (raw.value === undefined) fail('value', `${aggType} needs the field path of the member it counts (e.g. "userId")`);
    else if (valid('value')) path(raw.value, 'value', explode);
  } else if (aggType && raw.value !== undefined && valid('value')) fail('value', `${aggType} takes no value (got ${show(raw.value)})`);

  // source types vs aggregation types
  if (agg && aggType && Array.isArray(source?.types)) {
    const sourceTypes = source.types as unknown[];
    const needed = aggregationTypes(agg as AggregationSpec).filter((t) => (EVENT_TYPES as readonly string[]).includes(t));
    const missing = needed.filter((t) => !sourceTypes.includes(t));
    if (missing.length > 0) fail('source.types', `must include the types the aggregation uses (missing ${missing.join(', ')})`);
  }

  // window
  const w = isObject(raw.window) ? raw.window : undefined;
  const wt = w && valid('window.type') && typeof w.type === 'string' ? (w.type as WindowSpec['type']) : undefined;
  if (w && wt) {
    const dur = (name: string, positive: boolean): number | undefined => {
      const field = `window.${name}`;
      if (w[name] === undefined || !valid(field)) return undefined;
      try {
        const ms = parseDuration(w[name]);
        if (positive && ms <= 0) {
          fail(field, `must be positive (got ${show(w[name])})`);
          return undefined;
        }
        return ms;
      } catch (e) {
        fail(field, (e as Error).message);
        return undefined;
      }
    };
    if (wt === 'tumbling' || wt === 'sliding') {
      const size = dur('size', true);
      const hop = wt === 'sliding' ? dur('hop', true) : size;
      const offset = dur('offset', false);
      if (size !== undefined && hop !== undefined && hop > size) fail('window.hop', `must not exceed the size (${hop} ms > ${size} ms): events would fall in no window`);
      if (hop !== undefined && offset !== undefined && (offset < 0 || offset >= hop)) fail('window.offset', `must be in [0, ${wt === 'sliding' ? 'hop' : 'size'}) (got ${offset} ms)`);
    } else if (wt === 'session') {
      dur('gap', true);
      if (late) fail('window.type', 'the late output is counted in tumbling or sliding windows only');
    } else {
      const upper = dur('upper', true);
      const lower = w.lower === undefined ? 0 : dur('lower', false);
      if (upper !== undefined && lower !== undefined && lower >= upper) fail('window.lower', `must be below window.upper (${lower} ms >= ${upper} ms)`);
    }
    if (aggType === 'join' && wt !== 'interval') fail('window.type', `a join needs an "interval" window (got "${wt}")`);
    if (aggType && aggType !== 'join' && wt === 'interval') fail('window.type', `an "interval" window is for joins only (aggregation is "${aggType}")`);
  }
  return out;
}

/** Validates one definition; throws a MetricDefinitionError naming every problem. */
export function validateMetricDefinition(raw: unknown): MetricDefinition {
  return validateMetricDefinitions([raw])[0];
}

/** Validates a list of definitions (or `{ "metrics": [...] }`), names unique; throws one error listing every problem. */
export function validateMetricDefinitions(raw: unknown): MetricDefinition[] {
  const list = isObject(raw) && Array.isArray(raw.metrics) ? raw.metrics : raw;
  if (!Array.isArray(list)) throw new MetricDefinitionError([{ metric: '(file)', field: '(root)', message: `must be a list of metric definitions or { "metrics": [...] } (got ${show(raw)})` }]);
  const issues: DefinitionIssue[] = [];
  const defs: MetricDefinition[] = [];
  const seen = new Set<string>();
  list.forEach((item, i) => {
    const r = checkOne(item, i);
    issues.push(...r.issues);
    if (r.def) {
      if (seen.has(r.def.name)) issues.push({ metric: r.def.name, field: 'name', message: 'is defined twice' });
      seen.add(r.def.name);
      defs.push(r.def);
    }
  });
  if (issues.length > 0) throw new MetricDefinitionError(issues);
  return defs;
}

/** Parses and validates JSON text. */
export function parseMetricDefinitions(json: string): MetricDefinition[] {
  let raw: unknown;
  try {
    raw = JSON.parse(json);
  } catch (e) {
    throw new MetricDefinitionError([{ metric: '(file)', field: '(json)', message: `not valid JSON: ${(e as Error).message}` }]);
  }
  return validateMetricDefinitions(raw);
}
