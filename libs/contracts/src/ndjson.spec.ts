import fc from 'fast-check';
import { BodyError, Frame, LineFramer, parseBody, parseNdjson } from './ndjson';

function frameAll(chunks: Buffer[], max = 1024): Frame[] {
  const f = new LineFramer(max);
  return [...chunks.flatMap((c) => f.push(c)), ...f.end()];
}

/** Splits a buffer at the given cut points. */
function split(buf: Buffer, cuts: number[]): Buffer[] {
  const points = [...new Set(cuts.map((c) => c % (buf.length + 1)))].sort((a, b) => a - b);
  const out: Buffer[] = [];
  let prev = 0;
  for (const p of points) {
    out.push(buf.subarray(prev, p));
    prev = p;
  }
  out.push(buf.subarray(prev));
  return out;
}

/** A line frame: its text and the bytes it was decoded from. */
const line = (n: number, text: string): Frame => ({ kind: 'line', line: n, text, bytes: Buffer.from(text) });

describe('LineFramer', () => {
  it('frames lines, numbering every line, skipping blanks and dropping \\r', () => {
    expect(frameAll([Buffer.from('a\r\n\n  \nb\nc')])).toEqual([
      line(1, 'a'),
      line(4, 'b'),
      line(5, 'c'),
    ]);
  });

  it('reports an over-long line and goes on with the next', () => {
    expect(frameAll([Buffer.from('12345\nabc\n123456789\nxy\n')], 4)).toEqual([
      { kind: 'overlong', line: 1, bytes: 5 },
      line(2, 'abc'),
      { kind: 'overlong', line: 3, bytes: 9 },
      line(4, 'xy'),
    ]);
  });

  it('accepts a line of exactly the limit, also with \\r\\n', () => {
    expect(frameAll([Buffer.from('1234\r\n1234\n')], 4)).toEqual([
      line(1, '1234'),
      line(2, '1234'),
    ]);
  });

  it('does not buffer more than the limit of an over-long line split across many chunks', () => {
    const f = new LineFramer(8);
    for (let i = 0; i < 1000; i++) expect(f.push(Buffer.alloc(100, 0x61))).toEqual([]);
    expect(f.push(Buffer.from('\nok\n'))).toEqual([
      { kind: 'overlong', line: 1, bytes: 100_000 },
      line(2, 'ok'),
    ]);
  });

  it('keeps multi-byte characters whole across chunk boundaries', () => {
    const buf = Buffer.from('{"name":"Zoë 🌊"}\n');
    for (let cut = 0; cut <= buf.length; cut++) {
      expect(frameAll([buf.subarray(0, cut), buf.subarray(cut)])).toEqual([line(1, '{"name":"Zoë 🌊"}')]);
    }
  });

  it('gives the same frames for any split of the byte stream (property)', () => {
    const line = fc.oneof(
      fc.string({ unit: 'grapheme', maxLength: 40 }).map((s) => s.replace(/[\r\n]/g, '')),
      fc.constant(''),
      fc.constant('x'.repeat(70)),
    );
    fc.assert(
      fc.property(fc.array(line, { maxLength: 30 }), fc.boolean(), fc.boolean(), fc.array(fc.nat(), { maxLength: 20 }), (lines, crlf, trailing, cuts) => {
        const text = lines.join(crlf ? '\r\n' : '\n') + (trailing ? '\n' : '');
        const buf = Buffer.from(text, 'utf8');
        const whole = frameAll([buf], 64);
        const pieces = frameAll(split(buf, cuts), 64);
        expect(pieces).toEqual(whole);
        // and byte-at-a-time
        expect(frameAll([...buf].map((b) => Buffer.from([b])), 64)).toEqual(whole);
      }),
    );
  });
});

describe('parseBody', () => {
  it('reads one object, an array, and NDJSON', () => {
    expect(parseBody('{"a":1}', 'application/json', 100)).toEqual([{ value: { a: 1 } }]);
    expect(parseBody('[{"a":1},{"a":2}]', 'application/json; charset=utf-8', 100)).toEqual([{ value: { a: 1 } }, { value: { a: 2 } }]);
    expect(parseBody('{"a":1}\n{"a":2}\n', 'application/x-ndjson', 100)).toEqual([
      { line: 1, value: { a: 1 }, raw: Buffer.from('{"a":1}') },
      { line: 2, value: { a: 2 }, raw: Buffer.from('{"a":2}') },
    ]);
  });

  it('reports a broken NDJSON line without losing its neighbours', () => {
    const records = parseNdjson('{"a":1}\n{"a":\n{"a":3}', 100);
    expect(records[0]).toEqual({ line: 1, value: { a: 1 }, raw: Buffer.from('{"a":1}') });
    expect(records[1]).toEqual({ line: 2, error: expect.stringMatching(/^line 2 is not valid JSON/) });
    expect(records[2]).toEqual({ line: 3, value: { a: 3 }, raw: Buffer.from('{"a":3}') });
  });

  it('rejects a broken JSON body as a whole', () => {
    expect(() => parseBody('{"a":', 'application/json', 100)).toThrow(BodyError);
  });

  it('guesses NDJSON without a content type', () => {
    expect(parseBody('{"a":1}\n{"a":2}', undefined, 100)).toHaveLength(2);
    expect(parseBody('[{"a":1}]', undefined, 100)).toEqual([{ value: { a: 1 } }]);
  });
});
