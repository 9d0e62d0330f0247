import fc from 'fast-check';
import { parseNdjson } from './ndjson';
import { planIngest, plainNumbers } from './ingest-plan';
import { partitionOf } from './partition';

const NOW = Date.UTC(2026, 10, 24);
const ev = (id: string, extra: Record<string, unknown> = {}) => ({
  id,
  type: 'page_view',
  ts: NOW - 1000,
  userId: 'u1',
  sessionId: `s-${id}`,
  ...extra,
});

describe('planIngest', () => {
  it('accepts the valid records of a mixed batch and rejects the others with their index', () => {
    const plan = planIngest(
      [{ value: ev('a') }, { value: ev('b', { type: 'nope' }) }, { error: 'line 3 is not valid JSON', line: 3 }, { value: ev('c') }],
      8,
      { now: NOW },
    );
    expect(plan.events.map((e) => [e.index, e.event.id])).toEqual([
      [0, 'a'],
      [3, 'c'],
    ]);
    expect(plan.rejected).toEqual([
      { index: 1, id: 'b', error: expect.stringContaining('type must be one of'), errors: [{ field: 'type', reason: expect.any(String) }] },
      { index: 2, line: 3, error: 'line 3 is not valid JSON', errors: [{ field: '', reason: 'line 3 is not valid JSON' }] },
    ]);
  });

  it('counts repeats of an id within the request as duplicates, keeping the first', () => {
    const plan = planIngest([{ value: ev('a') }, { value: ev('a', { userId: 'other' }) }, { value: ev('a') }], 8, { now: NOW });
    expect(plan.events).toHaveLength(1);
    expect(plan.events[0].event.userId).toBe('u1');
    expect(plan.duplicateIndices).toEqual([1, 2]);
  });

  it('routes by sessionId to its raw partition and stores the normalised event', () => {
    const plan = planIngest([{ value: ev('a', { ts: new Date(NOW - 5).toISOString(), extra: 1 }) }], 8, { now: NOW });
    const [p] = plan.events;
    expect(p.partition).toBe(partitionOf('s-a', 8));
    expect(JSON.parse(p.data.toString())).toEqual({ ...ev('a'), ts: NOW - 5, attrs: { extra: 1 } });
  });

  it('rejects a record nested 200,000 levels deep on its own; its neighbours are planned (no throw for the batch)', () => {
    let deep: unknown = 1;
    for (let i = 0; i < 200_000; i++) deep = { a: deep };
    const plan = planIngest([{ value: ev('a') }, { value: ev('b', { attrs: deep }) }, { value: ev('c') }], 8, { now: NOW });
    expect(plan.events.map((e) => e.event.id)).toEqual(['a', 'c']);
    expect(plan.rejected).toEqual([{ index: 1, id: 'b', error: 'attrs.a.a.a.a is nested deeper than 4 levels', errors: [{ field: 'attrs.a.a.a.a', reason: 'is nested deeper than 4 levels' }] }]);
  });

  describe('stores a line as it was sent when validation left it unchanged', () => {
    const plan1 = (line: string) => planIngest(parseNdjson(line, 1 << 20), 8, { now: NOW });

    it('stores the very bytes of the line (whitespace, key order and escapes kept), no copy', () => {
      const line = `{ "id":"a", "type":"product_view","ts":${NOW - 1000}, "userId":"u\\u00e9","sessionId":"s","productId":"P1","price":1.50,"attrs":{"x":[1,2]} }`;
      const records = parseNdjson(`${line}\n`, 1 << 20);
      const [p] = planIngest(records, 8, { now: NOW }).events;
      expect(p.data.toString()).toBe(line);
      expect(p.data.buffer).toBe((records[0] as { raw: Buffer }).raw.buffer); // a view of the body, not a new buffer
      expect(p.event).toBe((records[0] as { value: unknown }).value);
      expect(JSON.parse(p.data.toString()).userId).toBe('u\u00e9'); // the escape, as any reader decodes it
    });

    it.each([
      ['an ISO-8601 ts (normalised to epoch ms)', `{"id":"a","type":"page_view","ts":"${new Date(NOW - 1000).toISOString()}","userId":"u","sessionId":"s"}`],
      ['an unknown top-level field (moved into attrs)', `{"id":"a","type":"page_view","ts":${NOW - 1000},"userId":"u","sessionId":"s","coupon":"X"}`],
      ['a number beyond a double (Infinity, stored as null)', `{"id":"a","type":"page_view","ts":${NOW - 1000},"userId":"u","sessionId":"s","attrs":{"n":1e400}}`],
      ['a -0 (stored as 0)', `{"id":"a","type":"page_view","ts":${NOW - 1000},"userId":"u","sessionId":"s","attrs":{"n":-0}}`],
    ])('serialises the event again for %s', (_, line) => {
      const [p] = plan1(line).events;
      expect(p.data.toString()).toBe(JSON.stringify(p.event));
      expect(p.data.toString()).not.toBe(line);
    });

    it('serialises again when the line is not well-formed UTF-8 (the stored event is)', () => {
      const bytes = Buffer.concat([Buffer.from(`{"id":"a","type":"page_view","ts":${NOW - 1000},"userId":"u`), Buffer.from([0xff]), Buffer.from('","sessionId":"s"}')]);
      const [p] = planIngest(parseNdjson(bytes, 1 << 20), 8, { now: NOW }).events;
      expect(p.data.equals(bytes)).toBe(false);
      expect(JSON.parse(p.data.toString()).userId).toBe('u\ufffd');
    });

    it('whatever a line holds, a reader parses from the stored bytes what the serialised event would give (property)', () => {
      const json = fc.letrec((tie) => ({
        v: fc.oneof({ depthSize: 'small' }, fc.double(), fc.integer(), fc.string(), fc.boolean(), fc.constant(null), fc.array(tie('v'), { maxLength: 3 }), fc.dictionary(fc.string({ maxLength: 4 }), tie('v'), { maxKeys: 3 })),
      })).v;
      fc.assert(
        fc.property(fc.dictionary(fc.constantFrom('coupon', 'attrs', 'price', 'quantity', 'ts'), json, { maxKeys: 3 }), fc.boolean(), fc.nat(3), (extra, isoTs, spaces) => {
          const base: Record<string, unknown> = { id: 'a', type: 'page_view', ts: isoTs ? new Date(NOW - 7).toISOString() : NOW - 7, userId: 'u', sessionId: 's' };
          const line = JSON.stringify({ ...base, ...extra }, null, 0).replace(/,"/g, `,${' '.repeat(spaces)}"`);
          const plan = plan1(line);
          for (const p of plan.events) expect(JSON.parse(p.data.toString())).toEqual(JSON.parse(JSON.stringify(p.event)));
        }),
        { numRuns: 500 },
      );
    });

    it('plainNumbers finds non-finite numbers and -0 at any depth', () => {
      expect(plainNumbers({ a: [1, { b: 2.5 }], c: 'x', d: null })).toBe(true);
      expect(plainNumbers({ a: [1, { b: Infinity }] })).toBe(false);
      expect(plainNumbers({ a: [[[-0]]] })).toBe(false);
      expect(plainNumbers(-Infinity)).toBe(false);
      expect(plainNumbers(NaN)).toBe(false);
    });
  });
});
