import fc from 'fast-check';
import { FORMAT, FieldReader, FieldWriter } from './field-codec';
import { DEFAULT_PARAMS, type Level } from './params';
import { RecPartial, decodeDecayed, decodeLatest, decodeUser, decodeWindow, encodeEntry, encodeWindow } from './partial';
import { DecayedList } from './store';

const T = Date.UTC(2026, 0, 1);
/** Ids a client may send: empty, separators, braces, wildcards, very long, beyond the BMP. */
const HOSTILE = ['', ':', 'Z:r', '{p1}', '}', '*', 'é', '日本', '🛒', 'Zé:r', 'cart🛒', 'x'.repeat(10_000), 'x'.repeat(5000) + 'é', '\u0000', '[1,2]'];

describe('field codec', () => {
  it('numbers travel bit for bit and strings whole, across buffer growth', () => {
    fc.assert(
      fc.property(fc.array(fc.tuple(fc.oneof(fc.string(), fc.string({ unit: 'binary' }), fc.constantFrom(...HOSTILE)), fc.double(), fc.integer({ min: 0, max: 255 })), { maxLength: 40 }), (xs) => {
        const w = new FieldWriter(8); // tiny: every field grows it
        const views = xs.map(([s, x, b]) => w.begin().str(s).f64(x).u8(b).end());
        views.forEach((v, i) => {
          const r = new FieldReader(v);
          expect(r.str()).toBe(xs[i][0]);
          expect(Object.is(r.f64(), xs[i][1])).toBe(true);
          expect(r.u8()).toBe(xs[i][2]);
          expect(r.done).toBe(true);
        });
      }),
    );
  });

  it('a missing string is not an empty one', () => {
    const r = new FieldReader(new FieldWriter().begin().str(null).str('').end());
    expect([r.str(), r.str()]).toEqual([null, '']);
  });

  it('refuses an id with a lone surrogate (its UTF-8 would be another id), and a value that is not a field', () => {
    expect(() => new FieldWriter().begin().str('a\ud800b')).toThrow(/refused: an id is not well-formed/);
    expect(() => new FieldReader(Buffer.from('hello'))).toThrow(/not a format-1 field/);
    const cut = new FieldWriter().begin().str('abcdef').end().subarray(0, 6);
    expect(() => new FieldReader(cut).str()).toThrow(RangeError);
  });

  it('every kind of field decodes to what was encoded, hostile ids included', () => {
    const list = DecayedList.of(T, [
      ...HOSTILE.map((item, i) => ({ item, stored: 1 / (i + 3) })),
      { item: 'p', stored: 0.1 + 0.2, level: 3 as Level },
    ]);
    const nb = decodeDecayed(encodeEntry('nb', { list, t: T + 5, category: '{c}' }), true);
    expect(nb.list.epoch).toBe(T);
    expect(nb.t).toBe(T + 5);
    expect(nb.category).toBe('{c}');
    expect(new Map(nb.list.items.map((x) => [x.item, [x.stored, x.level]]))).toEqual(new Map([...list.scores].map(([m, s]) => [m, [s, list.levels.get(m)]])));
    const sq = decodeDecayed(encodeEntry('sq', { list: new DecayedList(), t: T }), false);
    expect(sq).toEqual({ list: { epoch: null, items: [] }, t: T });
    const vs = decodeLatest(encodeEntry('vs', { m: new Map(HOSTILE.map((s, i) => [s, T + i])), t: T + 99 }));
    expect(vs.t).toBe(T + 99);
    expect(new Map(vs.items.map((x) => [x.item, x.stored]))).toEqual(new Map(HOSTILE.map((s, i) => [s, T + i])));
    const u = decodeUser(encodeEntry('u', { recent: new Map([['a', T], ['🛒', T + 1]]), bought: new Map([['', T + 2]]), t: T + 2 }));
    expect(u).toEqual({ t: T + 2, recent: [{ item: 'a', stored: T }, { item: '🛒', stored: T + 1 }], bought: [{ item: '', stored: T + 2 }] });
  });

  it('still reads the JSON fields an earlier version wrote, and a partial restored from them', () => {
    const json = (x: unknown) => Buffer.from(JSON.stringify(x));
    expect(decodeDecayed(json([T, T + 1, 'c', 'A', 2, 3, 'B', 1, 0]), true)).toEqual({
      list: { epoch: T, items: [{ item: 'A', stored: 2, level: 3 }, { item: 'B', stored: 1 }] },
      t: T + 1,
      category: 'c',
    });
    expect(decodeLatest(json([T, 's1', T]))).toEqual({ t: T, items: [{ item: 's1', stored: T }] });
    expect(decodeUser(json([T, 1, 'A', T, 'B', T - 1]))).toEqual({ t: T, recent: [{ item: 'A', stored: T }], bought: [{ item: 'B', stored: T - 1 }] });
    const p = RecPartial.decode(DEFAULT_PARAMS, undefined, { nb: { A: json([T, T + 1, null, 'A', 2, 0]) } }, T + 1);
    // re-encoded in the current format, same numbers
    const again = p.encoded('nb', 'A')!;
    expect(again[0]).toBe(FORMAT);
    expect(decodeDecayed(again, true)).toEqual({ list: { epoch: T, items: [{ item: 'A', stored: 2 }] }, t: T + 1 });
  });

  it("a visit's window round-trips, oldest first; a JSON window of an earlier version is still read", () => {
    const items = [...HOSTILE.map((p, i) => ({ p, l: ((i % 3) + 1) as Level, t: T + i })), { p: 'last', l: 3 as Level, t: T - 1.5 }];
    expect(decodeWindow(encodeWindow(items))).toEqual(items);
    expect(decodeWindow(encodeWindow([]))).toEqual([]);
    expect(decodeWindow(Buffer.from(JSON.stringify(items)))).toEqual(items);
  });
});
