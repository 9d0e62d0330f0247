/**
 * Moving metric definitions onto ajv (JSON Schema + a semantic step) must not change what is accepted: on a few
 * hundred generated definitions — valid ones with fields set to values near every boundary — the new checker and
 * the hand-written one it replaced (legacy-metric-definitions.spec-helper.ts) agree on accept/reject and on the
 * fields named.
 */
import fc from 'fast-check';
import { legacyCheckOne } from './legacy-metric-definitions.spec-helper';
import { MetricDefinitionError, metricDefinitionSchema, validateMetricDefinition } from './metric-definitions';

const RUNS = Number(process.env.PROPERTY_RUNS ?? 400);
const SEED = Number(process.env.PROPERTY_SEED ?? 163);

const BASES: Record<string, unknown>[] = [
  { name: 'gmv', source: { types: ['order_placed'] }, value: 'amount', aggregation: { type: 'sum' }, window: { type: 'tumbling', size: '1m' } },
  { name: 'gbc', source: { types: ['order_placed'], explode: 'items' }, key: 'item.categoryId', value: ['item.price', 'item.quantity'], aggregation: { type: 'sum' }, window: { type: 'tumbling', size: '1m', offset: '10s' } },
  { name: 'top', source: { types: ['product_view'] }, value: 'productId', aggregation: { type: 'topK', k: 10 }, window: { type: 'sliding', size: '1h', hop: '5m' } },
  { name: 'uv', value: 'userId', aggregation: { type: 'distinct' }, window: { type: 'tumbling', size: 60000 } },
  { name: 'pfr', source: { types: ['payment_failed', 'payment_succeeded'] }, aggregation: { type: 'ratio', numerator: ['payment_failed'], denominator: ['payment_failed', 'payment_succeeded'] }, window: { type: 'sliding', size: '5m', hop: '1m' } },
  { name: 'f', value: 'sessionId', aggregation: { type: 'funnel', stages: [{ name: 'view', types: ['product_view'] }, { name: 'order', types: ['order_placed'] }] }, window: { type: 'tumbling', size: '5m' } },
  { name: 'ca', key: 'sessionId', aggregation: { type: 'abandonment', started: ['add_to_cart'], completed: ['order_placed'] }, window: { type: 'session', gap: '30m' } },
  { name: 'uo', key: 'orderId', aggregation: { type: 'join', left: ['order_placed'], right: ['payment_succeeded'], fields: ['userId', 'amount'] }, window: { type: 'interval', upper: '15m', lower: '-1m' } },
  { name: 'late', source: { late: true }, key: 'type', aggregation: { type: 'count' }, window: { type: 'tumbling', size: '1m' } },
];

const scalar = fc.constantFrom<unknown>(
  undefined, null, true, false, 0, 1, -1, 1.5, 2, 10, 1000, 1001, 60000, -60000,
  '', 'x', 'gmv', 'Bad-Name', 'amount', 'userId', 'item.price', 'item', 'items', 'attrs.campaign', 'attrs..x', 'x y', '__proto__', 'a.constructor',
  'order_placed', 'payment_failed', 'order_paid', '1m', '5m', '2m', '30s', '-1s', '0', '1.5ms', 'soon', ' 1m ',
  'count', 'sum', 'avg', 'distinct', 'topK', 'ratio', 'funnel', 'abandonment', 'join', 'median', 'tumbling', 'sliding', 'session', 'interval', 'hopping',
);
const value: fc.Arbitrary<unknown> = fc.oneof(
  { weight: 5, arbitrary: scalar },
  { weight: 2, arbitrary: fc.array(scalar, { maxLength: 3 }) },
  { weight: 1, arbitrary: fc.dictionary(fc.constantFrom('type', 'types', 'explode', 'late', 'size', 'hop', 'name', 'other'), scalar, { maxKeys: 2 }) },
);
/** Dotted paths inside a definition that an edit may set (or delete, with undefined). */
const PATHS = ['name', 'description', 'key', 'value', 'colour', 'source', 'source.types', 'source.explode', 'source.late', 'source.filter', 'aggregation', 'aggregation.type', 'aggregation.k', 'aggregation.numerator', 'aggregation.left', 'aggregation.right', 'aggregation.fields', 'aggregation.stages', 'window', 'window.type', 'window.size', 'window.hop', 'window.offset', 'window.gap', 'window.upper', 'window.lower'];

function edit(base: Record<string, unknown>, edits: [string, unknown][]): Record<string, unknown> {
  const out = structuredClone(base);
  for (const [path, v] of edits) {
    const [a, b] = path.split('.');
    if (b === undefined) {
      if (v === undefined) delete out[a];
      else out[a] = v;
    } else if (out[a] !== null && typeof out[a] === 'object' && !Array.isArray(out[a])) {
      const inner = out[a] as Record<string, unknown>;
      if (v === undefined) delete inner[b];
      else inner[b] = v;
    }
  }
  return out;
}

const input = fc.tuple(fc.constantFrom(...BASES), fc.array(fc.tuple(fc.constantFrom(...PATHS), value), { maxLength: 2 })).map(([b, e]) => edit(b, e));

function fieldsNew(raw: unknown): string[] | 'ok' {
  try {
    validateMetricDefinition(raw);
    return 'ok';
  } catch (e) {
    if (!(e instanceof MetricDefinitionError)) throw e;
    return [...new Set(e.issues.map((i) => i.field))].sort();
  }
}

/** 'crash': the old checker threw a TypeError — `"__proto__" in AGG_FIELDS` is true, so `aggregation.type: "__proto__"` (or in window.type) crashed it; the schema's enum rejects it. */
function fieldsOld(raw: unknown): string[] | 'ok' | 'crash' {
  let r: ReturnType<typeof legacyCheckOne>;
  try {
    r = legacyCheckOne(raw, 0);
  } catch {
    return 'crash';
  }
  return r.def ? 'ok' : [...new Set(r.issues.map((i) => i.field))].sort();
}

describe('metric definitions: ajv schema + semantic step ≡ the hand-written checker', () => {
  it('agree on accept/reject and on the fields named', () => {
    let accepted = 0;
    fc.assert(
      fc.property(input, (raw) => {
        const after = fieldsNew(raw);
        const before = fieldsOld(raw);
        if (before === 'crash') expect(after).not.toBe('ok');
        else if (before === 'ok' || after === 'ok') expect(after).toEqual(before);
        // The same fields when rejecting, up to a list's own fault hiding or not its items' (e.g. a 1-stage funnel).
        else {
          const near = (f: string, list: string[]) => list.some((g) => f === g || f.startsWith(`${g}[`) || f.startsWith(`${g}.`) || g.startsWith(`${f}[`) || g.startsWith(`${f}.`));
          if (process.env.PROPERTY_DEBUG && (after.some((f) => !near(f, before)) || before.some((f) => !near(f, after)))) console.log(JSON.stringify({ raw, before, after }));
          // One difference: a value that is neither a path nor a list is named even when the aggregation is bad
          // (before, the value was only checked against a known aggregation).
          const aggBad = before.includes('aggregation') || before.includes('aggregation.type');
          expect({ extra: after.filter((f) => !near(f, before) && !(aggBad && f === 'value')), missing: before.filter((f) => !near(f, after)) }).toEqual({ extra: [], missing: [] });
        }
        if (after === 'ok') accepted++;
      }),
      { numRuns: RUNS, seed: SEED },
    );
    expect(accepted).toBeGreaterThan(RUNS / 20);
    expect(accepted).toBeLessThan(RUNS - RUNS / 10);
  });

  it('refuses "__proto__" as an aggregation or window type (the old checker threw a TypeError)', () => {
    const base = BASES[0];
    expect(() => validateMetricDefinition({ ...base, aggregation: { type: '__proto__' } })).toThrow(/aggregation.type: must be one of count/);
    expect(() => validateMetricDefinition({ ...base, window: { type: '__proto__' } })).toThrow(/window.type: must be one of tumbling/);
  });

  it('every default-metrics shape is in the schema (the OpenAPI document shows the same object)', () => {
    expect(Object.keys(metricDefinitionSchema.properties as object)).toEqual(['name', 'description', 'source', 'key', 'value', 'aggregation', 'window']);
  });
});
