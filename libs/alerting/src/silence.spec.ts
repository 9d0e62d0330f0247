import { parseDuration } from '@tidemark/streaming';
import { compileSilence, expiredSilences, matcherMatches, silencedBy, validateSilence, type Silence } from './silence';

const NOW = 1_700_000_000_000;
const alert = { rule: 'payment_failure_rate', severity: 'critical' as const, labels: { metric: 'payment_failure_rate', key: 'all' } };

describe('validateSilence', () => {
  it('accepts matchers with a duration, starting now', () => {
    const v = validateSilence({ matchers: [{ name: 'alertname', value: 'payment_failure_rate' }], duration: '1h', comment: 'planned' }, NOW, parseDuration);
    expect(v).toEqual({
      ok: true,
      silence: { matchers: [{ name: 'alertname', value: 'payment_failure_rate', isRegex: false, isEqual: true }], startsAt: NOW, endsAt: NOW + 3_600_000, comment: 'planned' },
    });
  });

  it.each([
    [{}, 'matchers'],
    [{ matchers: [], endsAt: NOW + 1 }, 'matchers'],
    [{ matchers: [{ name: '', value: 'x' }], endsAt: NOW + 1 }, 'matchers.0.name'],
    [{ matchers: [{ name: 'a', value: '(' , isRegex: true }], endsAt: NOW + 1 }, 'matchers.0.value'],
    [{ matchers: [{ name: 'a', value: 'x' }] }, 'endsAt'],
    [{ matchers: [{ name: 'a', value: 'x' }], endsAt: NOW - 1 }, 'endsAt'],
    [{ matchers: [{ name: 'a', value: 'x' }], duration: 'forever' }, 'duration'],
    [{ matchers: [{ name: 'a', value: 'x' }], endsAt: NOW + 5, duration: '1h' }, 'duration'],
    [{ matchers: [{ name: 'a', value: 'x' }], endsAt: NOW + 5, why: 'x' }, 'why'],
    ['nope', ''],
  ])('%j → error on %s', (input, field) => {
    const v = validateSilence(input, NOW, parseDuration);
    expect(v.ok).toBe(false);
    if (!v.ok) expect(v.errors.map((e) => e.field)).toContain(field);
  });
});

describe('silencedBy', () => {
  const s = (matchers: Silence['matchers'], startsAt = NOW - 1000, endsAt = NOW + 1000) => compileSilence({ id: 's', matchers, startsAt, endsAt, createdAt: NOW });

  it('mutes within its time range when every matcher matches', () => {
    expect(silencedBy(alert, [s([{ name: 'alertname', value: 'payment_failure_rate' }])], NOW)).toHaveLength(1);
    expect(silencedBy(alert, [s([{ name: 'alertname', value: 'payment_failure_rate' }, { name: 'key', value: 'other' }])], NOW)).toHaveLength(0);
    expect(silencedBy(alert, [s([{ name: 'severity', value: 'crit.*', isRegex: true }])], NOW)).toHaveLength(1);
  });

  it('does nothing before it starts or from its end on', () => {
    const silence = s([{ name: 'alertname', value: 'payment_failure_rate' }], NOW + 1, NOW + 10);
    expect(silencedBy(alert, [silence], NOW)).toHaveLength(0);
    expect(silencedBy(alert, [silence], NOW + 1)).toHaveLength(1);
    expect(silencedBy(alert, [silence], NOW + 10)).toHaveLength(0);
  });

  it('supports negative and regex matchers on whole values', () => {
    expect(matcherMatches({ name: 'key', value: 'all', isEqual: false }, { key: 'all' })).toBe(false);
    expect(matcherMatches({ name: 'key', value: 'al', isRegex: true }, { key: 'all' })).toBe(false);
    expect(matcherMatches({ name: 'missing', value: '' }, {})).toBe(true);
  });
});

describe('silences in linear time, with caps (docs/settings.md "Limits")', () => {
  const v = (input: Record<string, unknown>, maxDurationMs = 90 * 86_400_000) => validateSilence({ endsAt: NOW + 1000, ...input }, NOW, parseDuration, { maxDurationMs });
  const fieldsOf = (r: ReturnType<typeof v>) => (r.ok ? [] : r.errors.map((e) => e.field));

  it('refuses a regular expression that needs backtracking, naming the matcher value', () => {
    const r = v({ matchers: [{ name: 'key', value: '(a+)+', isRegex: true }] });
    expect(r.ok).toBe(false);
    if (!r.ok) expect(r.errors).toEqual([{ field: 'matchers.0.value', reason: expect.stringMatching(/^is not a supported regular expression: "\(" is not supported/) }]);
  });

  it('matches globs and simple regexes in linear time: a 1 KiB adversarial value, many times, quickly', () => {
    const silence = compileSilence({ id: 'x', matchers: [{ name: 'key', value: '*a*a*a*a*a*a*a*a*a*a*!', isGlob: true }], startsAt: 0, endsAt: NOW * 2, createdAt: 0 });
    const a = { rule: 'r', severity: 'info' as const, labels: { key: 'a'.repeat(1024) } };
    const start = Date.now();
    for (let i = 0; i < 200; i++) expect(silencedBy(a, [silence], NOW)).toHaveLength(0);
    expect(Date.now() - start).toBeLessThan(5000);
    expect(silencedBy({ ...a, labels: { key: 'a'.repeat(20) + '!' } }, [silence], NOW)).toHaveLength(1);
  });

  it('a label value over the cap never matches a pattern (only exact equality)', () => {
    const long = 'x'.repeat(1025);
    expect(matcherMatches({ name: 'key', value: '*', isGlob: true }, { key: long })).toBe(false);
    expect(matcherMatches({ name: 'key', value: '*', isGlob: true }, { key: long.slice(1) })).toBe(true);
  });

  it('caps matchers, name and pattern length, comment, and the silence length (duration or endsAt)', () => {
    const m = { name: 'a', value: 'x' };
    expect(fieldsOf(v({ matchers: Array.from({ length: 17 }, () => m) }))).toEqual(['matchers']);
    expect(fieldsOf(v({ matchers: [{ name: 'n'.repeat(129), value: 'x' }] }))).toEqual(['matchers.0.name']);
    expect(fieldsOf(v({ matchers: [{ name: 'a', value: 'x'.repeat(257), isGlob: true }] }))).toEqual(['matchers.0.value']);
    expect(fieldsOf(v({ matchers: [m], comment: 'c'.repeat(1025) }))).toEqual(['comment']);
    expect(fieldsOf(validateSilence({ matchers: [m], duration: '36500d' }, NOW, parseDuration))).toEqual(['duration']);
    expect(fieldsOf(validateSilence({ matchers: [m], endsAt: NOW + 91 * 86_400_000 }, NOW, parseDuration))).toEqual(['endsAt']);
    expect(validateSilence({ matchers: [m], duration: '90d' }, NOW, parseDuration).ok).toBe(true);
    expect(fieldsOf(v({ matchers: [{ ...m, isGlob: true, isRegex: true }] }))).toEqual(['matchers.0.isGlob']);
  });

  it('a stored regex that is no longer supported mutes nothing (compiled once, never run as a JS regex)', () => {
    const old = compileSilence({ id: 'o', matchers: [{ name: 'key', value: '(a+)+', isRegex: true }], startsAt: 0, endsAt: NOW * 2, createdAt: 0 });
    expect(silencedBy({ rule: 'r', severity: 'info', labels: { key: 'aaaa' } }, [old], NOW)).toHaveLength(0);
  });

  it('lists the silences that have ended', () => {
    const a = { id: 'a', matchers: [], startsAt: 0, endsAt: NOW, createdAt: 0 };
    const b = { ...a, id: 'b', endsAt: NOW + 1 };
    expect(expiredSilences([a, b], NOW)).toEqual(['a']);
  });
});
