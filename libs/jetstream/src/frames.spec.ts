import { encodeFrame } from '@tidemark/contracts';
import fc from 'fast-check';
import { decodeFrames, mentioning } from './frames';

const entry = (id: string, body: string) => ({ id: Buffer.from(id), body: Buffer.from(body) });

describe('decodeFrames', () => {
  it('gives every event with its frame sequence and index; a broken event is dead-lettered alone with its bytes', () => {
    const r = decodeFrames([
      { seq: 4, data: encodeFrame([entry('a', '{"id":"a"}'), entry('b', '{broken'), entry('c', '{"id":"c"}'), entry('d', '{"id":"d","userId":"\\ud800"}'), entry('e', '{"id":"e","s":"\\u00e9\\ud83d\\ude00"}')]) },
      { seq: 5, data: Buffer.from('{"id":"legacy"}') },
      { seq: 6, data: Buffer.concat([Buffer.from('TMF1'), Buffer.from([9, 0, 0, 0])]) },
    ]);
    expect(r.events).toEqual([
      { seq: 4, index: 0, event: { id: 'a' } },
      { seq: 4, index: 2, event: { id: 'c' } },
      { seq: 4, index: 4, event: { id: 'e', s: 'é😀' } },
      { seq: 5, index: 0, event: { id: 'legacy' } },
    ]);
    expect(r.deadLetters).toEqual([
      { seq: 4, index: 1, data: Buffer.from('{broken'), reason: expect.stringMatching(/^not JSON/) },
      { seq: 4, index: 3, data: Buffer.from('{"id":"d","userId":"\\ud800"}'), reason: 'strings that are not well-formed Unicode: userId' },
      { seq: 6, reason: expect.stringMatching(/^unreadable frame/) },
    ]);
    expect(r.count).toBe(6);
  });
});

describe('decodeFrames with keep', () => {
  it('skips undecoded what keep refuses (counted, neither given nor dead-lettered); the rest keep their indexes', () => {
    const keep = mentioning(['product_view']);
    const r = decodeFrames(
      [
        { seq: 7, data: encodeFrame([entry('a', '{"type":"page_view"}'), entry('b', '{"type":"product_view"}'), entry('c', '{broken page_view'), entry('d', '{broken product_view')]) },
      ],
      keep,
    );
    expect(r.events).toEqual([{ seq: 7, index: 1, event: { type: 'product_view' } }]);
    expect(r.deadLetters).toEqual([{ seq: 7, index: 3, data: Buffer.from('{broken product_view'), reason: expect.stringMatching(/^not JSON/) }]);
    expect([r.count, r.skipped]).toEqual([4, 2]);
  });
});

describe('mentioning', () => {
  const WORDS = ['product_view', 'add_to_cart', 'order_placed'];
  const keep = mentioning(WORDS);

  /** The word as a JSON string, some of its characters (by `mask`) written as \\u escapes, as any JSON writer may. */
  const spelled = (word: string, mask: number) => `"${[...word].map((ch, k) => ((mask >> k) & 1 ? `\\u${ch.charCodeAt(0).toString(16).padStart(4, '0')}` : ch)).join('')}"`;

  it('keeps every event whose type is one of the words, however it is written', () => {
    fc.assert(
      fc.property(fc.constantFrom(...WORDS), fc.dictionary(fc.string(), fc.jsonValue()), fc.integer({ min: 0, max: 2 ** 12 - 1 }), (type, fields, mask) => {
        const rest = JSON.stringify(Object.fromEntries(Object.entries(fields).filter(([k]) => k !== 'type')));
        const text = `{"type":${spelled(type, mask)}${rest === '{}' ? '}' : `,${rest.slice(1)}`}`;
        expect((JSON.parse(text) as { type: string }).type).toBe(type); // the event's type is the word
        expect(keep(text)).toBe(true);
      }),
      { numRuns: 500 },
    );
  });

  it('refuses exactly the texts without a backslash that hold none of the words', () => {
    fc.assert(
      fc.property(fc.dictionary(fc.string(), fc.jsonValue()), (ev) => {
        const text = JSON.stringify(ev);
        expect(keep(text)).toBe(text.includes('\\') || WORDS.some((w) => text.includes(w)));
      }),
      { numRuns: 500 },
    );
    expect(keep('{"type":"page_view","url":"/p/1"}')).toBe(false);
    expect(keep('{"type":"page_view","url":"/add_to_cart"}')).toBe(true); // named elsewhere: parsed, then ignored
    expect(keep('{"type":"\\u0070roduct_view"}')).toBe(true);
    expect(keep('{"type":"ordér_placed"}')).toBe(false);
    expect(() => mentioning(['ordér'])).toThrow(/printable ASCII/);
  });
});
