import fc from 'fast-check';
import { addMicros, fromMicros, toMicros } from './fixed-point';

describe('fixed point', () => {
  it('rounds to micro-units', () => {
    expect(toMicros(19.99)).toBe(19_990_000);
    expect(toMicros(0.1 + 0.2)).toBe(300_000);
    expect(toMicros(0.0000004)).toBe(0);
    expect(toMicros(0.0000005)).toBe(1);
    expect(toMicros(1e-7)).toBe(0);
    expect(Object.is(toMicros(-1e-7), 0)).toBe(true);
    expect(fromMicros(19_990_000)).toBe(19.99);
  });

  it('refuses values outside the exact range', () => {
    expect(() => toMicros(1e10)).toThrow(RangeError);
    expect(() => toMicros(Number.NaN)).toThrow(RangeError);
    expect(() => addMicros(Number.MAX_SAFE_INTEGER, 1)).toThrow(RangeError);
    expect(addMicros(1, 2)).toBe(3);
  });

  it('makes sums independent of the order of additions', () => {
    fc.assert(
      fc.property(fc.array(fc.double({ min: 0, max: 1e5, noNaN: true }), { maxLength: 50 }), (values) => {
        const forward = values.reduce((s, v) => addMicros(s, toMicros(v)), 0);
        const backward = [...values].reverse().reduce((s, v) => addMicros(s, toMicros(v)), 0);
        const sorted = [...values].sort((a, b) => a - b).reduce((s, v) => addMicros(s, toMicros(v)), 0);
        expect(forward).toBe(backward);
        expect(forward).toBe(sorted);
      }),
    );
  });
});
