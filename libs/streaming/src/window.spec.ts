import { contains, cover, formatWindow, intersects, mod } from './window';

describe('time windows [start, end)', () => {
  it('contains start, not end', () => {
    const w = { start: 0, end: 10 };
    expect(contains(w, 0)).toBe(true);
    expect(contains(w, 9)).toBe(true);
    expect(contains(w, 10)).toBe(false);
    expect(contains(w, -1)).toBe(false);
  });

  it('intersects only when sharing an instant; cover spans both', () => {
    expect(intersects({ start: 0, end: 10 }, { start: 9, end: 20 })).toBe(true);
    expect(intersects({ start: 0, end: 10 }, { start: 10, end: 20 })).toBe(false);
    expect(intersects({ start: 10, end: 20 }, { start: 0, end: 10 })).toBe(false);
    expect(intersects({ start: 0, end: 30 }, { start: 10, end: 20 })).toBe(true);
    expect(cover({ start: 5, end: 10 }, { start: 0, end: 7 })).toEqual({ start: 0, end: 10 });
    expect(formatWindow({ start: 1, end: 2 })).toBe('[1, 2)');
  });

  it('mod is always in [0, n)', () => {
    expect(mod(7, 5)).toBe(2);
    expect(mod(-1, 5)).toBe(4);
    expect(mod(-5, 5)).toBe(0);
    expect(mod(0, 5)).toBe(0);
  });
});
