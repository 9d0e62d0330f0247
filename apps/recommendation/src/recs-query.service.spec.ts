import { RecsQueryError, parseExcludeSeen, parseId, parseK, parseOptionalId } from './recs-query.service';

describe('query parameters', () => {
  it('k: 1..100, default 10', () => {
    expect(parseK(undefined)).toBe(10);
    expect(parseK('')).toBe(10);
    expect(parseK('5')).toBe(5);
    expect(parseK(100)).toBe(100);
    for (const bad of ['0', '101', '-1', '2.5', 'ten', 2.5, true, '1e2']) {
      expect(() => parseK(bad)).toThrow(RecsQueryError);
      expect(() => parseK(bad)).toThrow(/^k must be a whole number from 1 to 100/);
    }
  });

  it('ids: required non-empty strings of at most 256 characters; categoryId optional', () => {
    expect(parseId('userId', 'u-1')).toBe('u-1');
    expect(() => parseId('userId', '')).toThrow('userId is required (a non-empty string)');
    expect(() => parseId('productId', 42)).toThrow('productId is required (a non-empty string)');
    expect(() => parseId('userId', 'x'.repeat(257))).toThrow('userId must be at most 256 characters');
    expect(parseOptionalId('categoryId', undefined)).toBeNull();
    expect(parseOptionalId('categoryId', 'shoes')).toBe('shoes');
    expect(() => parseOptionalId('categoryId', 7)).toThrow('categoryId must be a string');
  });

  it('excludeSeen: default true; true/false/1/0; anything else is refused', () => {
    expect([parseExcludeSeen(undefined), parseExcludeSeen(''), parseExcludeSeen('true'), parseExcludeSeen('1')]).toEqual([true, true, true, true]);
    expect([parseExcludeSeen('false'), parseExcludeSeen('0'), parseExcludeSeen(false)]).toEqual([false, false, false]);
    for (const bad of ['yes', 'TRUE', 2]) expect(() => parseExcludeSeen(bad)).toThrow(/^excludeSeen must be true or false/);
  });
});

describe('found by fuzzing', () => {
  it('a deeply nested k or excludeSeen is a RecsQueryError (a 400), not a stack overflow (a 500)', () => {
    const deep = JSON.parse('['.repeat(20_000) + ']'.repeat(20_000)) as unknown;
    expect(() => parseK(deep)).toThrow(RecsQueryError);
    expect(() => parseK(deep)).toThrow(/not an array/);
    expect(() => parseExcludeSeen(deep)).toThrow(RecsQueryError);
    expect(() => parseK({ a: 1 })).toThrow(/not an object/);
  });
});
