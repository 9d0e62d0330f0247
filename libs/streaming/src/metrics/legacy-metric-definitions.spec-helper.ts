/**
 * The metric-definition checker as it was before it moved onto ajv (git: libs/streaming/src/metrics/
 * metric-definitions.ts at the merge of 'api-reference'), kept only for metric-definitions.property.spec.ts.
 * Not part of the build (tsconfig.build excludes *.spec-helper.ts).
 */
/* eslint-disable */
import { EVENT_TYPES, EventType } from '@tidemark/contracts';
import { parseDuration } from '../duration';
import { isItemPath, isValidFieldPath } from '../field-path';
import type { AggregationSpec, AggregationType, DefinitionIssue, MetricDefinition, WindowSpec } from './metric-definitions';

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

/** The event types an aggregation refers to (its source types must include them). Tolerates unvalidated input. */
function aggregationTypes(a: AggregationSpec): EventType[] {
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

class Checker {
  readonly issues: DefinitionIssue[] = [];
  constructor(private readonly metric: string) {}

  fail(field: string, message: string): void {
    this.issues.push({ metric: this.metric, field, message });
  }

  unknownFields(obj: Record<string, unknown>, allowed: string[], prefix: string): void {
    for (const k of Object.keys(obj)) if (!allowed.includes(k)) this.fail(prefix ? `${prefix}.${k}` : k, `unknown field (allowed: ${allowed.join(', ') || 'none'})`);
  }

  eventTypes(v: unknown, field: string, required: boolean): boolean {
    if (v === undefined && !required) return true;
    if (!Array.isArray(v) || v.length === 0) {
      this.fail(field, `must be a non-empty list of event types (got ${show(v)})`);
      return false;
    }
    let ok = true;
    v.forEach((t, i) => {
      if (!(EVENT_TYPES as readonly unknown[]).includes(t)) {
        this.fail(`${field}[${i}]`, `unknown event type ${show(t)} (known: ${EVENT_TYPES.join(', ')})`);
        ok = false;
      }
    });
    return ok;
  }

  path(v: unknown, field: string, explode: boolean): boolean {
    if (!isValidFieldPath(v)) {
      this.fail(field, `must be a field path like "productId" or "attrs.campaign" (got ${show(v)})`);
      return false;
    }
    if (isItemPath(v) && !explode) {
      this.fail(field, `"${v}" reads an exploded item, but source.explode is not set`);
      return false;
    }
    return true;
  }

  duration(v: unknown, field: string, opts: { positive?: boolean; optional?: boolean }): number | undefined {
    if (v === undefined && opts.optional) return undefined;
    try {
      const ms = parseDuration(v);
      if (opts.positive && ms <= 0) {
        this.fail(field, `must be positive (got ${show(v)})`);
        return undefined;
      }
      return ms;
    } catch (e) {
      this.fail(field, (e as Error).message);
      return undefined;
    }
  }
}

export function legacyCheckOne(raw: unknown, index: number): { def?: MetricDefinition; issues: DefinitionIssue[] } {
  const label = isObject(raw) && typeof raw.name === 'string' && raw.name ? raw.name : `#${index}`;
  const c = new Checker(label);
  if (!isObject(raw)) {
    c.fail('(definition)', `must be an object (got ${show(raw)})`);
    return { issues: c.issues };
  }
  c.unknownFields(raw, TOP_FIELDS, '');
  if (typeof raw.name !== 'string' || !NAME.test(raw.name)) c.fail('name', `must match ${NAME} (lower-case letters, digits, _; got ${show(raw.name)})`);
  if (raw.description !== undefined && typeof raw.description !== 'string') c.fail('description', `must be a string (got ${show(raw.description)})`);

  // source
  let explode = false;
  let late = false;
  let sourceTypes: unknown;
  if (raw.source !== undefined) {
    if (!isObject(raw.source)) c.fail('source', `must be an object (got ${show(raw.source)})`);
    else {
      c.unknownFields(raw.source, SOURCE_FIELDS, 'source');
      sourceTypes = raw.source.types;
      c.eventTypes(sourceTypes, 'source.types', false);
      if (raw.source.explode !== undefined) {
        if (!isValidFieldPath(raw.source.explode) || isItemPath(raw.source.explode)) c.fail('source.explode', `must be the field path of an array, e.g. "items" (got ${show(raw.source.explode)})`);
        else explode = true;
      }
      if (raw.source.late !== undefined) {
        if (typeof raw.source.late !== 'boolean') c.fail('source.late', `must be true or false (got ${show(raw.source.late)})`);
        else late = raw.source.late;
      }
      if (late && explode) c.fail('source.explode', 'cannot explode the late output');
    }
  }

  if (raw.key !== undefined) c.path(raw.key, 'key', explode);

  // aggregation
  const agg = raw.aggregation;
  let aggType: AggregationType | undefined;
  if (!isObject(agg)) c.fail('aggregation', `must be an object with a "type" (got ${show(agg)})`);
  else if (typeof agg.type !== 'string' || !(agg.type in AGG_FIELDS)) {
    c.fail('aggregation.type', `must be one of ${Object.keys(AGG_FIELDS).join(', ')} (got ${show(agg.type)})`);
  } else {
    aggType = agg.type as AggregationType;
    c.unknownFields(agg, ['type', ...AGG_FIELDS[aggType]], 'aggregation');
    switch (aggType) {
      case 'topK':
        if (!(Number.isInteger(agg.k) && (agg.k as number) >= 1 && (agg.k as number) <= MAX_TOP_K)) c.fail('aggregation.k', `must be an integer from 1 to ${MAX_TOP_K} (got ${show(agg.k)})`);
        break;
      case 'ratio':
        c.eventTypes(agg.numerator, 'aggregation.numerator', true);
        c.eventTypes(agg.denominator, 'aggregation.denominator', true);
        break;
      case 'abandonment':
        c.eventTypes(agg.started, 'aggregation.started', true);
        c.eventTypes(agg.completed, 'aggregation.completed', true);
        break;
      case 'join':
        c.eventTypes(agg.left, 'aggregation.left', true);
        c.eventTypes(agg.right, 'aggregation.right', true);
        if (Array.isArray(agg.left) && Array.isArray(agg.right)) {
          const both = agg.left.filter((t) => (agg.right as unknown[]).includes(t));
          if (both.length > 0) c.fail('aggregation.right', `an event type cannot be on both sides of a join (${both.join(', ')})`);
        }
        if (agg.fields !== undefined) {
          if (!Array.isArray(agg.fields)) c.fail('aggregation.fields', `must be a list of field paths (got ${show(agg.fields)})`);
          else agg.fields.forEach((f, i) => c.path(f, `aggregation.fields[${i}]`, false));
        }
        if (raw.key === undefined) c.fail('key', 'a join needs a key (e.g. "orderId")');
        if (explode) c.fail('source.explode', 'a join cannot explode items');
        break;
      case 'funnel':
        if (!Array.isArray(agg.stages) || agg.stages.length < 2) c.fail('aggregation.stages', `must be a list of at least 2 stages {name, types} (got ${show(agg.stages)})`);
        else {
          const names = new Set<string>();
          agg.stages.forEach((s, i) => {
            const f = `aggregation.stages[${i}]`;
            if (!isObject(s)) return c.fail(f, `must be an object {name, types} (got ${show(s)})`);
            c.unknownFields(s, ['name', 'types'], f);
            if (typeof s.name !== 'string' || s.name.length === 0) c.fail(`${f}.name`, `must be a non-empty string (got ${show(s.name)})`);
            else if (names.has(s.name)) c.fail(`${f}.name`, `duplicate stage name "${s.name}"`);
            else names.add(s.name);
            c.eventTypes(s.types, `${f}.types`, true);
          });
        }
        break;
      default:
        break;
    }
    if (late && aggType === 'join') c.fail('aggregation.type', 'a join cannot read the late output');
  }

  // value
  if (aggType && NUMERIC_VALUE.includes(aggType)) {
    if (raw.value === undefined) c.fail('value', `${aggType} needs a numeric field path (or a list of paths to multiply)`);
    else if (Array.isArray(raw.value)) {
      if (raw.value.length === 0) c.fail('value', 'must name at least one field path');
      raw.value.forEach((p, i) => c.path(p, `value[${i}]`, explode));
    } else c.path(raw.value, 'value', explode);
  } else if (aggType && MEMBER_VALUE.includes(aggType)) {
    if (raw.value === undefined) c.fail('value', `${aggType} needs the field path of the member it counts (e.g. "userId")`);
    else c.path(raw.value, 'value', explode);
  } else if (aggType && raw.value !== undefined) c.fail('value', `${aggType} takes no value (got ${show(raw.value)})`);

  // source types vs aggregation types
  if (isObject(agg) && aggType && Array.isArray(sourceTypes)) {
    const needed = aggregationTypes(agg as AggregationSpec).filter((t) => (EVENT_TYPES as readonly string[]).includes(t));
    const missing = needed.filter((t) => !(sourceTypes as unknown[]).includes(t));
    if (missing.length > 0) c.fail('source.types', `must include the types the aggregation uses (missing ${missing.join(', ')})`);
  }

  // window
  const w = raw.window;
  if (!isObject(w)) c.fail('window', `must be an object with a "type" (got ${show(w)})`);
  else if (typeof w.type !== 'string' || !(w.type in WINDOW_FIELDS)) c.fail('window.type', `must be one of ${Object.keys(WINDOW_FIELDS).join(', ')} (got ${show(w.type)})`);
  else {
    const wt = w.type as WindowSpec['type'];
    c.unknownFields(w, ['type', ...WINDOW_FIELDS[wt]], 'window');
    if (wt === 'tumbling' || wt === 'sliding') {
      const size = c.duration(w.size, 'window.size', { positive: true });
      const hop = wt === 'sliding' ? c.duration(w.hop, 'window.hop', { positive: true }) : size;
      const offset = c.duration(w.offset, 'window.offset', { optional: true });
      if (size !== undefined && hop !== undefined && hop > size) c.fail('window.hop', `must not exceed the size (${hop} ms > ${size} ms): events would fall in no window`);
      if (hop !== undefined && offset !== undefined && (offset < 0 || offset >= hop)) c.fail('window.offset', `must be in [0, ${wt === 'sliding' ? 'hop' : 'size'}) (got ${offset} ms)`);
    } else if (wt === 'session') {
      c.duration(w.gap, 'window.gap', { positive: true });
      if (late) c.fail('window.type', 'the late output is counted in tumbling or sliding windows only');
    } else {
      const upper = c.duration(w.upper, 'window.upper', { positive: true });
      const lower = c.duration(w.lower, 'window.lower', { optional: true }) ?? 0;
      if (upper !== undefined && lower >= upper) c.fail('window.lower', `must be below window.upper (${lower} ms >= ${upper} ms)`);
    }
    if (aggType === 'join' && wt !== 'interval') c.fail('window.type', `a join needs an "interval" window (got "${wt}")`);
    if (aggType && aggType !== 'join' && wt === 'interval') c.fail('window.type', `an "interval" window is for joins only (aggregation is "${aggType}")`);
  }

  return c.issues.length === 0 ? { def: raw as unknown as MetricDefinition, issues: [] } : { issues: c.issues };
}

