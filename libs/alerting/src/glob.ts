/**
 * Linear-time label patterns for silences (docs/alerting.md "Silences", "Limits"). A JavaScript regular expression
 * can take exponential time (`(a+)+` against `aaaa…!`), so patterns are globs, matched against the whole
 * value: `*` any run of characters, `?` one character, `\` makes the next character literal; `a|b` is
 * either alternative. A simple regular expression (literals, `.`, `.*`, `.+`, `\` escapes, `|` at the top
 * level) is translated into the same form, so `crit.*` keeps working; anything else is refused.
 *
 * Matching is the two-pointer glob algorithm (one resume point per `*`): O(pattern × value) at worst, and
 * both are capped.
 */

/** One alternative: literal runs and wildcards, as code points. */
type Token = { kind: 'lit'; ch: string } | { kind: 'any' } | { kind: 'star' };

export interface CompiledPattern {
  alternatives: Token[][];
}

export class PatternError extends Error {}

/** Compiles a glob (`*`, `?`, `\`, top-level `|`). */
export function compileGlob(pattern: string): CompiledPattern {
  const alternatives: Token[][] = [[]];
  const chars = [...pattern];
  for (let i = 0; i < chars.length; i++) {
    const c = chars[i];
    const current = alternatives[alternatives.length - 1];
    if (c === '\\') {
      if (i + 1 >= chars.length) throw new PatternError('ends with a lone \\');
      current.push({ kind: 'lit', ch: chars[++i] });
    } else if (c === '*') {
      if (current[current.length - 1]?.kind !== 'star') current.push({ kind: 'star' });
    } else if (c === '?') current.push({ kind: 'any' });
    else if (c === '|') alternatives.push([]);
    else current.push({ kind: 'lit', ch: c });
  }
  return { alternatives };
}

const REGEX_SPECIAL = new Set(['(', ')', '[', ']', '{', '}', '?', '*', '+', '^', '$']);

/**
 * Translates a simple regular expression (whole-value match) into a pattern: literal characters, `\x`
 * escapes of a non-alphanumeric character, `.` (one character), `.*` and `.+`, `|` at the top level.
 * Throws PatternError naming what is not supported.
 */
export function compileSimpleRegex(regex: string): CompiledPattern {
  const alternatives: Token[][] = [[]];
  const chars = [...regex];
  for (let i = 0; i < chars.length; i++) {
    const c = chars[i];
    const current = alternatives[alternatives.length - 1];
    const next = chars[i + 1];
    if (c === '\\') {
      if (next === undefined) throw new PatternError('ends with a lone \\');
      if (/[A-Za-z0-9]/.test(next)) throw new PatternError(`the class \\${next} is not supported`);
      current.push({ kind: 'lit', ch: next });
      i++;
    } else if (c === '.') {
      if (next === '*') {
        if (current[current.length - 1]?.kind !== 'star') current.push({ kind: 'star' });
        i++;
      } else if (next === '+') {
        current.push({ kind: 'any' }, { kind: 'star' });
        i++;
      } else current.push({ kind: 'any' });
    } else if (c === '|') alternatives.push([]);
    else if (REGEX_SPECIAL.has(c)) {
      throw new PatternError(`"${c}" is not supported: only literals, ".", ".*", ".+", "\\" escapes and "|" (linear-time matching); or use a glob (isGlob)`);
    } else current.push({ kind: 'lit', ch: c });
  }
  return { alternatives };
}

/** Whether `value` matches one of the alternatives as a whole. */
export function matchPattern(p: CompiledPattern, value: string): boolean {
  const v = [...value];
  return p.alternatives.some((tokens) => matchTokens(tokens, v));
}

function matchTokens(t: Token[], v: string[]): boolean {
  let ti = 0;
  let vi = 0;
  let starT = -1;
  let starV = 0;
  while (vi < v.length) {
    const tok = t[ti];
    if (tok !== undefined && (tok.kind === 'any' || (tok.kind === 'lit' && tok.ch === v[vi]))) {
      ti++;
      vi++;
    } else if (tok !== undefined && tok.kind === 'star') {
      starT = ti++;
      starV = vi;
    } else if (starT >= 0) {
      ti = starT + 1;
      vi = ++starV;
    } else return false;
  }
  while (t[ti]?.kind === 'star') ti++;
  return ti === t.length;
}
