import fc from 'fast-check';
import { DEFAULT_EVENT_LIMITS, NOT_WELL_FORMED, describeErrors, illFormedStrings, parseIsoTime, tooDeep, validateEvent } from './validate';

const NOW = Date.UTC(2026, 10, 24, 12, 0, 0);
const opts = { now: NOW };
const base = { id: 'e1', ts: NOW - 1000, userId: 'u1', sessionId: 's1' };

function errorsOf(input: unknown) {
  const r = validateEvent(input, opts);
  if (r.ok) throw new Error(`expected errors for ${JSON.stringify(input)}`);
  return r.errors;
}

describe('validateEvent: valid events', () => {
  it.each([
    { ...base, type: 'page_view' },
    { ...base, type: 'product_view', productId: 'p1' },
    { ...base, type: 'product_view', productId: 'p1', categoryId: 'c1', price: 0, quantity: 1 },
    { ...base, type: 'add_to_cart', productId: 'p1', price: 9.99, quantity: 2 },
    { ...base, type: 'remove_from_cart', productId: 'p1' },
    { ...base, type: 'checkout_started' },
    { ...base, type: 'order_placed', orderId: 'o1', amount: 20, items: [{ productId: 'p1', price: 10, quantity: 2 }] },
    { ...base, type: 'order_placed', orderId: 'o1', amount: 0, items: [] },
    { ...base, type: 'payment_succeeded', orderId: 'o1', amount: 20 },
    { ...base, type: 'payment_failed', orderId: 'o1', amount: 20, reason: 'card_declined' },
  ])('accepts %j', (input) => {
    const r = validateEvent(input, opts);
    expect(r).toEqual({ ok: true, event: input });
  });

  it('normalises an ISO ts to epoch ms', () => {
    const r = validateEvent({ ...base, type: 'page_view', ts: '2026-11-24T11:00:00.250Z' }, opts);
    expect(r.ok && r.event.ts).toBe(Date.UTC(2026, 10, 24, 11, 0, 0, 250));
  });

  it('moves unknown top-level fields into attrs, attrs winning', () => {
    const r = validateEvent({ ...base, type: 'page_view', referrer: 'x', campaign: 'c', attrs: { campaign: 'keep' } }, opts);
    expect(r.ok && r.event).toEqual({ ...base, type: 'page_view', attrs: { referrer: 'x', campaign: 'keep' } });
  });

  it('keeps old logs replayable (2019) and accepts up to five minutes ahead by default, more when configured', () => {
    expect(validateEvent({ ...base, type: 'page_view', ts: '2019-10-01T00:00:00Z' }, opts).ok).toBe(true);
    expect(validateEvent({ ...base, type: 'page_view', ts: NOW + 300_000 }, opts).ok).toBe(true);
    expect(validateEvent({ ...base, type: 'page_view', ts: NOW + 86_400_000 }, { ...opts, maxFutureMs: 86_400_000 }).ok).toBe(true);
  });
});

describe('validateEvent: the validation table', () => {
  it.each<[string, unknown, string, RegExp]>([
    ['not an object', 'hello', '', /must be a JSON object/],
    ['an array', [1], '', /must be a JSON object/],
    ['null', null, '', /must be a JSON object/],
    ['missing id', { ...base, id: undefined, type: 'page_view' }, 'id', /is required/],
    ['empty id', { ...base, id: '', type: 'page_view' }, 'id', /fewer than 1/],
    ['id over 128 chars', { ...base, id: 'x'.repeat(129), type: 'page_view' }, 'id', /more than 128/],
    ['numeric id', { ...base, id: 7, type: 'page_view' }, 'id', /type string/],
    ['missing type', { ...base }, 'type', /is required/],
    ['unknown type', { ...base, type: 'teleport' }, 'type', /must be one of page_view/],
    ['missing userId', { ...base, userId: undefined, type: 'page_view' }, 'userId', /is required/],
    ['missing sessionId', { ...base, sessionId: undefined, type: 'page_view' }, 'sessionId', /is required/],
    ['missing ts', { ...base, ts: undefined, type: 'page_view' }, 'ts', /is required/],
    ['boolean ts', { ...base, ts: true, type: 'page_view' }, 'ts', /must be of type string or number/],
    ['unparseable ts', { ...base, ts: 'yesterday', type: 'page_view' }, 'ts', /not an ISO-8601 time/],
    ['impossible date', { ...base, ts: '2026-02-30T00:00:00Z', type: 'page_view' }, 'ts', /not an ISO-8601 time/],
    ['fractional epoch', { ...base, ts: 1.5e12 + 0.5, type: 'page_view' }, 'ts', /integer/],
    ['ts before 2000', { ...base, ts: '1999-12-31T23:59:59Z', type: 'page_view' }, 'ts', /before 2000/],
    ['ts in seconds', { ...base, ts: 1732406400, type: 'page_view' }, 'ts', /before 2000/],
    ['ts too far ahead', { ...base, ts: NOW + 86_400_001, type: 'page_view' }, 'ts', /ahead of the clock/],
    ['ts an hour ahead (default bound: 5 minutes)', { ...base, ts: NOW + 3_600_000, type: 'page_view' }, 'ts', /is more than 300000 ms ahead of the clock/],
    ['product_view without productId', { ...base, type: 'product_view' }, 'productId', /is required/],
    ['negative price', { ...base, type: 'add_to_cart', productId: 'p', price: -1 }, 'price', /must be >= 0/],
    ['zero quantity', { ...base, type: 'add_to_cart', productId: 'p', quantity: 0 }, 'quantity', /must be >= 1/],
    ['fractional quantity', { ...base, type: 'add_to_cart', productId: 'p', quantity: 1.5 }, 'quantity', /type integer/],
    ['order without orderId', { ...base, type: 'order_placed', amount: 1, items: [] }, 'orderId', /is required/],
    ['order without amount', { ...base, type: 'order_placed', orderId: 'o', items: [] }, 'amount', /is required/],
    ['order without items', { ...base, type: 'order_placed', orderId: 'o', amount: 1 }, 'items', /is required/],
    ['item without productId', { ...base, type: 'order_placed', orderId: 'o', amount: 1, items: [{ price: 1, quantity: 1 }] }, 'items.0.productId', /is required/],
    ['item with negative price', { ...base, type: 'order_placed', orderId: 'o', amount: 1, items: [{ productId: 'p', price: -2, quantity: 1 }] }, 'items.0.price', /must be >= 0/],
    ['payment without orderId', { ...base, type: 'payment_failed' }, 'orderId', /is required/],
    ['attrs not an object', { ...base, type: 'page_view', attrs: 'x' }, 'attrs', /type object/],
  ])('%s', (_name, input, field, reason) => {
    const errors = errorsOf(input);
    const match = errors.find((e) => e.field === field);
    expect(match).toBeDefined();
    expect(match!.reason).toMatch(reason);
  });

  it('reports every error of a record, once each', () => {
    const errors = errorsOf({ type: 'add_to_cart', price: -1 });
    expect(errors.map((e) => e.field).sort()).toEqual(['id', 'price', 'productId', 'sessionId', 'ts', 'userId']);
    expect(describeErrors(errors)).toContain('price must be >= 0');
  });

  it('never throws, whatever the input', () => {
    fc.assert(
      fc.property(fc.anything(), (input) => {
        const r = validateEvent(input, opts);
        return r.ok || r.errors.length > 0;
      }),
    );
  });
});

describe('validateEvent: strings must be well-formed Unicode', () => {
  const order = { ...base, type: 'order_placed', orderId: 'o', amount: 1, items: [{ productId: 'p', price: 1, quantity: 1 }] };
  it.each<[string, unknown, string[]]>([
    ['a lone high surrogate in userId', { ...base, type: 'page_view', userId: '\ud800' }, ['userId']],
    ['a lone low surrogate in id', { ...base, type: 'page_view', id: 'e\udc00' }, ['id']],
    ['a reversed pair in sessionId', { ...base, type: 'page_view', sessionId: '\ude00\ud83d' }, ['sessionId']],
    ['productId', { ...base, type: 'product_view', productId: 'p\ud83d' }, ['productId']],
    ['an item productId', { ...order, items: [{ productId: 'p', price: 1, quantity: 1 }, { productId: '\ud800', price: 1, quantity: 1 }] }, ['items.1.productId']],
    ['an item categoryId', { ...order, items: [{ productId: 'p', categoryId: '\udbff', price: 1, quantity: 1 }] }, ['items.0.categoryId']],
    ['orderId', { ...order, orderId: 'Z\ud800' }, ['orderId']],
    ['an attrs value', { ...base, type: 'page_view', attrs: { note: '\ud800' } }, ['attrs.note']],
    ['a nested attrs value', { ...base, type: 'page_view', attrs: { a: [{ b: 'x\udfff' }] } }, ['attrs.a.0.b']],
    ['an attrs key', { ...base, type: 'page_view', attrs: { '\ud800': 1 } }, ['attrs.\ud800']],
    ['an unknown top-level field', { ...base, type: 'page_view', referrer: '\ud800' }, ['referrer']],
    ['a ts string', { ...base, type: 'page_view', ts: '2026-11-24T11:00:00Z\ud800' }, ['ts']],
    ['two fields', { ...base, type: 'page_view', userId: '\ud800', sessionId: '\udc00' }, ['userId', 'sessionId']],
  ])('rejects %s, naming the field', (_name, input, fields) => {
    const errors = errorsOf(input);
    expect(errors).toEqual(fields.map((field) => ({ field, reason: NOT_WELL_FORMED })));
    expect(describeErrors(errors)).toMatch(/not well-formed Unicode/);
  });

  it('accepts well-formed non-ASCII (emoji pairs, CJK, accents) and the separator characters', () => {
    const input = { ...base, type: 'product_view', userId: '😀 user', sessionId: '中文会话', productId: 'a:b:r{x}*%', attrs: { 'clé': 'naïve 🎉' } };
    expect(validateEvent(input, opts)).toEqual({ ok: true, event: input });
  });

  it('illFormedStrings finds every ill-formed string and key (property: none in well-formed JSON values)', () => {
    fc.assert(fc.property(fc.jsonValue(), (v) => illFormedStrings(v).length === 0));
    expect(illFormedStrings({ a: ['ok', '\ud800'], b: { c: '\udc00' } })).toEqual(['a.1', 'b.c']);
  });

  // The definitions, written the plain recursive way: the functions must agree with them on any value.
  const refIllFormed = (v: unknown, path = '', out: string[] = []): string[] => {
    const at = (k: string | number) => (path ? `${path}.${k}` : String(k));
    if (typeof v === 'string') {
      if (!v.isWellFormed()) out.push(path);
    } else if (Array.isArray(v)) v.forEach((c, i) => refIllFormed(c, at(i), out));
    else if (typeof v === 'object' && v !== null)
      for (const [k, c] of Object.entries(v)) {
        if (!k.isWellFormed()) out.push(at(k));
        else refIllFormed(c, at(k), out);
      }
    return out;
  };
  /** Every path (as key lists) to an object or array more than `max` levels below `v`. */
  const refTooDeep = (v: unknown, max: number, path: string[] = [], out: string[][] = []): string[][] => {
    if (typeof v !== 'object' || v === null) return out;
    if (path.length > max) out.push(path);
    for (const [k, c] of Object.entries(v)) refTooDeep(c, max, [...path, k], out);
    return out;
  };
  const lone = fc.constantFrom('\ud800', '\udfff', 'a\udc00', '😀\ud83d', 'ok', '');
  const withLone = fc.letrec((tie) => ({
    value: fc.oneof({ depthSize: 'small' }, lone, fc.string(), fc.integer(), fc.constant(null), tie('array'), tie('object')),
    array: fc.array(tie('value'), { maxLength: 4 }),
    object: fc.dictionary(fc.oneof(lone, fc.string({ maxLength: 3 })), tie('value'), { maxKeys: 4 }),
  })).value;

  it('illFormedStrings agrees with the plain recursive definition, paths and order included (property)', () => {
    fc.assert(fc.property(withLone, (v) => expect(illFormedStrings(v)).toEqual(refIllFormed(v))), { numRuns: 500 });
  });

  it('tooDeep is undefined exactly when nothing is nested deeper, and names a path that is (property)', () => {
    fc.assert(
      fc.property(fc.jsonValue({ maxDepth: 6 }), fc.integer({ min: 0, max: 6 }), (v, max) => {
        const got = tooDeep(v, max);
        const all = refTooDeep(v, max).map((path) => path.join('.'));
        if (all.length === 0) expect(got).toBeUndefined();
        else expect(all).toContain(got);
      }),
      { numRuns: 500 },
    );
  });

  it('measure values nested 100,000 deep without overflowing the stack', () => {
    let deep: unknown = '\ud800';
    for (let i = 0; i < 100_000; i++) deep = i % 2 ? [deep] : { k: deep };
    expect(tooDeep(deep, 4)).toBe('0.k.0.k.0');
    expect(illFormedStrings(deep)).toHaveLength(1);
  });
});

describe('parseIsoTime', () => {
  it.each([
    ['2019-10-01 00:00:00', Date.UTC(2019, 9, 1)],
    ['2019-10-01T00:00:00Z', Date.UTC(2019, 9, 1)],
    ['2019-10-01T02:00:00+02:00', Date.UTC(2019, 9, 1)],
    ['2019-09-30T22:30:00-01:30', Date.UTC(2019, 9, 1)],
    ['2019-10-01', Date.UTC(2019, 9, 1)],
    ['2019-10-01T00:00', Date.UTC(2019, 9, 1)],
    ['2019-10-01T00:00:00.123456Z', Date.UTC(2019, 9, 1, 0, 0, 0, 123)],
    ['2024-02-29T00:00:00Z', Date.UTC(2024, 1, 29)],
  ])('%s', (s, expected) => expect(parseIsoTime(s)).toBe(expected));

  it.each(['', 'Tue Mar 3 2020', '2019-13-01', '2023-02-29', '2019-10-01T24:00:00Z', '2019-10-01T00:00:00+25:00'])('rejects %s', (s) =>
    expect(parseIsoTime(s)).toBeNaN(),
  );
});

describe('validateEvent: caps that keep one event cheap (docs/settings.md "Limits")', () => {
  const order = (n: number) => ({ ...base, type: 'order_placed', orderId: 'o1', amount: 1, items: Array.from({ length: n }, (_, i) => ({ productId: `p${i}`, price: 1, quantity: 1 })) });
  const nested = (levels: number): unknown => (levels === 0 ? 1 : { a: nested(levels - 1) });
  function deepObject(levels: number): unknown {
    let v: unknown = 1;
    for (let i = 0; i < levels; i++) v = { a: v };
    return v;
  }

  it('items: up to the cap, then a rejection naming items (no trim)', () => {
    expect(validateEvent(order(100), opts).ok).toBe(true);
    expect(errorsOf(order(101))).toEqual([{ field: 'items', reason: 'has 101 items, over the limit of 100' }]);
    expect(errorsOf(order(1001))).toEqual([{ field: 'items', reason: 'has 1001 items, over the limit of 100' }]);
    const limits = { ...DEFAULT_EVENT_LIMITS, maxOrderItems: 1000 };
    expect(validateEvent(order(1000), { ...opts, limits }).ok).toBe(true);
  });

  it('attrs depth: flat plus three nested levels by default; deeper is rejected naming the path', () => {
    expect(validateEvent({ ...base, type: 'page_view', attrs: nested(4) }, opts).ok).toBe(true);
    expect(errorsOf({ ...base, type: 'page_view', attrs: nested(5) })).toEqual([{ field: 'attrs.a.a.a.a', reason: 'is nested deeper than 4 levels' }]);
    // an unknown top-level field moves into attrs: the same bound
    expect(errorsOf({ ...base, type: 'page_view', extra: nested(4) })).toEqual([{ field: 'attrs.extra.a.a.a', reason: 'is nested deeper than 4 levels' }]);
    const flat = { ...DEFAULT_EVENT_LIMITS, maxAttrsDepth: 1 };
    expect(validateEvent({ ...base, type: 'page_view', attrs: { a: 1, b: 'x' } }, { ...opts, limits: flat }).ok).toBe(true);
    expect(validateEvent({ ...base, type: 'page_view', attrs: { a: [1] } }, { ...opts, limits: flat }).ok).toBe(false);
  });

  it('a value nested 100,000 levels deep (attrs, an unknown field, an item field, userId) is one rejection, not a thrown error', () => {
    const deep = deepObject(100_000);
    for (const input of [
      { ...base, type: 'page_view', attrs: deep },
      { ...base, type: 'page_view', extra: deep },
      { ...base, type: 'page_view', userId: deep },
      { ...order(1), items: [{ productId: 'p', price: 1, quantity: 1, x: deep }] },
    ]) {
      const r = validateEvent(input, opts);
      expect(r.ok).toBe(false);
      if (!r.ok) expect(r.errors[0].reason).toBe('is nested deeper than 4 levels');
    }
  });

  it('attrs keys (nested keys counted) and bytes', () => {
    const keys = (n: number) => Object.fromEntries(Array.from({ length: n }, (_, i) => [`k${i}`, i]));
    expect(validateEvent({ ...base, type: 'page_view', attrs: keys(64) }, opts).ok).toBe(true);
    expect(errorsOf({ ...base, type: 'page_view', attrs: keys(65) })).toEqual([{ field: 'attrs', reason: 'has 65 keys, over the limit of 64' }]);
    expect(errorsOf({ ...base, type: 'page_view', attrs: { a: keys(40), b: keys(40) } })).toEqual([{ field: 'attrs', reason: 'has 82 keys, over the limit of 64' }]);
    expect(errorsOf({ ...base, type: 'page_view', note: 'x'.repeat(9000) })).toEqual([{ field: 'attrs', reason: 'is 9011 bytes as JSON, over the limit of 8192' }]);
  });
});
