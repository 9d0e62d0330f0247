import { parseDuration } from '@tidemark/streaming';
import { matcherMatches, silencedBy, validateSilence, type Silence } from './silence';

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
  const s = (matchers: Silence['matchers'], startsAt = NOW - 1000, endsAt = NOW + 1000): Silence => ({ id: 's', matchers, startsAt, endsAt, createdAt: NOW });

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
