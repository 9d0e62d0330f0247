import fc from 'fast-check';
import { decodeKeyPart, encodeKeyPart } from './key-part';

/** Any JS string: code units anywhere in 0..0xFFFF, so lone surrogates too. */
const anyString = fc.string({ unit: 'binary', maxLength: 40 });
const utf16 = fc.array(fc.integer({ min: 0, max: 0xffff }), { maxLength: 20 }).map((units) => String.fromCharCode(...units));
const tricky = fc.constantFrom(':', '{', '}', '*', '%', '%3A', 'a:b:r', 'Z:r', ' ', '\n', '\u0000', '\u007f', '😀', '中文', '\ud800', '\udc00', '%u', '%uD800', 'é', '');
const withTricky = fc.array(fc.oneof(tricky, anyString), { maxLength: 5 }).map((parts) => parts.join(''));
const strings = fc.oneof(anyString, utf16, withTricky);

describe('encodeKeyPart', () => {
  it.each([
    ['p-42', 'p-42'],
    ['user_7', 'user_7'],
    ['3f2c1e9a-0b6d-4c1e-9f7a-2d4b5c6e7f80', '3f2c1e9a-0b6d-4c1e-9f7a-2d4b5c6e7f80'],
    ['', ''],
    [':', '%3A'],
    ['Z:r', 'Z%3Ar'],
    ['a:b:r', 'a%3Ab%3Ar'],
    ['{tag}', '%7Btag%7D'],
    ['*', '%2A'],
    ['?[]\\', '%3F%5B%5D%5C'],
    ['100%', '100%25'],
    ['a b', 'a%20b'],
    ['tab\there', 'tab%09here'],
    ['nul\u0000', 'nul%00'],
    ['del\u007f', 'del%7F'],
    ['é', '%C3%A9'],
    ['中', '%E4%B8%AD'],
    ['😀', '%F0%9F%98%80'],
    ['\ud800', '%uD800'],
    ['\udfff!', '%uDFFF!'],
    ['x@y.z/~+=&!$#\'"(),;<>^`|', 'x@y.z/~+=&!$#\'"(),;<>^`|'],
  ])('%j → %j', (input, encoded) => {
    expect(encodeKeyPart(input)).toBe(encoded);
    expect(decodeKeyPart(encoded)).toBe(input);
  });

  it('never outputs a separator, a hash-tag brace, a glob character or anything outside printable ASCII (property)', () => {
    fc.assert(
      fc.property(strings, (s) => {
        expect(encodeKeyPart(s)).toMatch(/^[!-~]*$/);
        expect(encodeKeyPart(s)).not.toMatch(/[:{}*?[\]\\]/);
      }),
      { numRuns: 2000 },
    );
  });

  it('round-trips (property): decode(encode(s)) = s, so encode is injective', () => {
    fc.assert(
      fc.property(strings, (s) => {
        expect(decodeKeyPart(encodeKeyPart(s))).toBe(s);
      }),
      { numRuns: 2000 },
    );
  });

  it('is injective on pairs of strings (property)', () => {
    fc.assert(
      fc.property(strings, strings, (a, b) => {
        fc.pre(a !== b);
        expect(encodeKeyPart(a)).not.toBe(encodeKeyPart(b));
      }),
      { numRuns: 2000 },
    );
  });

  it('keeps a key of encoded parts splittable: parts joined by `:` split back into the same parts (property)', () => {
    fc.assert(
      fc.property(fc.array(strings, { minLength: 1, maxLength: 4 }), (parts) => {
        const key = parts.map(encodeKeyPart).join(':');
        expect(key.split(':').map(decodeKeyPart)).toEqual(parts);
      }),
      { numRuns: 1000 },
    );
  });

  it('never lets one key part name the join payments key of another (the `Z` / `Z:r` collision)', () => {
    const state = (k: string) => `tm:agg:j:unpaid:${encodeKeyPart(k)}`;
    const rights = (k: string) => `tm:agg:j:unpaid:${encodeKeyPart(k)}:r`;
    expect(state('Z:r')).not.toBe(rights('Z'));
    fc.assert(
      fc.property(strings, strings, (a, b) => {
        expect(state(a)).not.toBe(rights(b));
      }),
    );
  });
});

describe('decodeKeyPart', () => {
  it.each(['a:b', '%', '%4', '%zz', '%3a', '%u12', '%uD7FF', '%41', '%C3', '%C3%A9%', 'a b', '%E4%B8', '%FF', '%C0%80', '{'])('rejects %j, which encodeKeyPart never outputs', (s) => {
    expect(() => decodeKeyPart(s)).toThrow(/not an encoded key part/);
  });
});

describe('String.prototype.isWellFormed (the runtime must have it: RespArgs, validation and the field codec call it)', () => {
  it.each([
    ['', true],
    ['abc', true],
    ['😀', true],
    ['\ud800', false],
    ['\udc00x', false],
    ['x\ud83d', false],
    ['\ud83d\ude00', true],
  ])('%j → %s', (s, ok) => {
    expect(s.isWellFormed()).toBe(ok);
  });
});

describe('encodeKeyPart: a leading U+FEFF', () => {
  it('is kept, not taken for a byte-order mark', () => {
    expect(decodeKeyPart(encodeKeyPart('\uFEFFx'))).toBe('\uFEFFx');
    expect(decodeKeyPart(encodeKeyPart('\uFEFF'))).toBe('\uFEFF');
  });
});
