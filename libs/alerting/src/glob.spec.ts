import fc from 'fast-check';
import { PatternError, compileGlob, compileSimpleRegex, matchPattern } from './glob';

const glob = (p: string, v: string) => matchPattern(compileGlob(p), v);
const regex = (p: string, v: string) => matchPattern(compileSimpleRegex(p), v);

describe('globs', () => {
  it.each<[string, string, boolean]>([
    ['u-1', 'u-1', true],
    ['u-1', 'u-10', false],
    ['u-*', 'u-10', true],
    ['u-*', 'u-', true],
    ['*', '', true],
    ['', '', true],
    ['', 'x', false],
    ['a?c', 'abc', true],
    ['a?c', 'ac', false],
    ['*b*b*', 'abxbz', true],
    ['*b*b*', 'abz', false],
    ['p-\\*', 'p-*', true],
    ['p-\\*', 'p-x', false],
    ['crit*|warn*', 'warning', true],
    ['crit*|warn*', 'info', false],
    ['🌊?', '🌊é', true],
  ])('%s against %s → %s', (p, v, hit) => expect(glob(p, v)).toBe(hit));

  it('refuses a trailing lone backslash', () => expect(() => compileGlob('a\\')).toThrow(PatternError));

  it('agrees with the equivalent anchored regular expression (property)', () => {
    const piece = fc.constantFrom('a', 'b', '*', '?');
    fc.assert(
      fc.property(fc.array(piece, { maxLength: 8 }), fc.string({ unit: fc.constantFrom('a', 'b'), maxLength: 10 }), (pieces, value) => {
        const p = pieces.join('');
        const re = new RegExp(`^${pieces.map((c) => (c === '*' ? '.*' : c === '?' ? '.' : c)).join('')}$`, 's');
        expect(glob(p, value)).toBe(re.test(value));
      }),
      { numRuns: 500 },
    );
  });

  it('is fast on the inputs that make backtracking regexes exponential', () => {
    const start = process.hrtime.bigint();
    const value = 'a'.repeat(1024) + '!';
    for (let i = 0; i < 100; i++) expect(glob('*a*a*a*a*a*a*a*a*b', value)).toBe(false);
    // 100 matches of a 1 KiB value: well under a second even on a slow machine (a regex (a+)+ takes hours).
    expect(Number(process.hrtime.bigint() - start) / 1e6).toBeLessThan(5000);
  });
});

describe('simple regular expressions', () => {
  it.each<[string, string, boolean]>([
    ['crit.*', 'critical', true],
    ['crit.*', 'warning', false],
    ['a.c', 'abc', true],
    ['a.+', 'a', false],
    ['a.+', 'ab', true],
    ['u\\.1', 'u.1', true],
    ['u\\.1', 'ux1', false],
    ['critical|warning', 'warning', true],
    ['al', 'all', false],
  ])('%s against %s → %s', (p, v, hit) => expect(regex(p, v)).toBe(hit));

  it.each(['(a+)+', '[ab]', 'a+', 'a{2}', '^a', 'a$', '\\d', '(', 'a?'])('refuses %s', (p) => {
    expect(() => compileSimpleRegex(p)).toThrow(PatternError);
  });
});
