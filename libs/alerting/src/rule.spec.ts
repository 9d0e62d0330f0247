import { DEFAULT_RULES } from './default-rules';
import { compare, compileRule, describeErrors, readField, validateRule } from './rule';

const threshold = { id: 'pfr', kind: 'threshold', metric: 'payment_failure_rate', field: 'ratio', op: '>', value: 0.05 };

function errorsOf(input: unknown, idFromPath?: string) {
  const v = validateRule(input, idFromPath);
  if (v.ok) throw new Error('expected errors');
  return v.errors;
}

describe('validateRule', () => {
  it('accepts every default rule', () => {
    for (const r of DEFAULT_RULES) expect(validateRule(r)).toEqual({ ok: true, rule: r });
  });

  it('fills the default severity and takes the id from the path', () => {
    const { id, ...rest } = threshold;
    const v = validateRule(rest, id);
    expect(v.ok && v.rule).toMatchObject({ id: 'pfr', severity: 'warning' });
  });

  it('rejects what is not an object', () => {
    expect(errorsOf([])).toEqual([{ field: '', reason: 'a rule must be a JSON object' }]);
    expect(errorsOf('x')).toHaveLength(1);
  });

  it('names every failing field at once', () => {
    const errors = errorsOf({ id: 'Bad Id', kind: 'threshold', severity: 'loud', op: '~' });
    expect(errors.map((e) => e.field).sort()).toEqual(['id', 'metric', 'op', 'severity', 'value']);
    expect(describeErrors(errors)).toContain('metric is required');
  });

  it.each([
    [{ ...threshold, kind: 'magic' }, 'kind', 'must be one of'],
    [{ ...threshold, kind: undefined }, 'kind', 'is required'],
    [{ ...threshold, value: 'high' }, 'value', 'needs op "==" or "!="'],
    [{ ...threshold, value: undefined }, 'value', 'is required'],
    [{ ...threshold, forWindows: 0 }, 'forWindows', 'whole number'],
    [{ ...threshold, forWindows: 1.5 }, 'forWindows', 'whole number'],
    [{ ...threshold, for: 'soon' }, 'for', 'must be a duration'],
    [{ ...threshold, staleAfter: '10ms' }, 'staleAfter', 'at least 1000 ms'],
    [{ ...threshold, field: 'a..b' }, 'field', 'dotted path'],
    [{ ...threshold, colour: 'red' }, 'colour', 'is not a field of a threshold rule'],
    [{ ...threshold, labels: { team: 1 } }, 'labels.team', 'must be a string'],
    [{ ...threshold, labels: { key: 'x' } }, 'labels.key', 'reserved'],
    [{ ...threshold, webhooks: ['ftp://x'] }, 'webhooks.0', 'http'],
    [{ ...threshold, guard: { field: 'n', op: '>', value: 'ten' } }, 'guard.value', 'must be a number'],
    [{ ...threshold, enabled: 'yes' }, 'enabled', 'true or false'],
    [{ id: 'a', kind: 'anomaly', metric: 'gmv', method: 'median', threshold: 1 }, 'method', '"ewma" or "zscore"'],
    [{ id: 'a', kind: 'anomaly', metric: 'gmv', method: 'ewma', threshold: 0 }, 'threshold', '> 0'],
    [{ id: 'a', kind: 'anomaly', metric: 'gmv', method: 'ewma', direction: 'down', threshold: 1.5 }, 'threshold', 'below 1'],
    [{ id: 'a', kind: 'anomaly', metric: 'gmv', method: 'ewma', threshold: 0.5, alpha: 2 }, 'alpha', '(0, 1]'],
    [{ id: 'a', kind: 'anomaly', metric: 'gmv', method: 'zscore', threshold: 3, minHistory: 1 }, 'minHistory', 'at least 2'],
    [{ id: 'a', kind: 'anomaly', metric: 'gmv', method: 'zscore', threshold: 3, history: 5, minHistory: 10 }, 'minHistory', 'cannot exceed history'],
    [{ id: 'a', kind: 'anomaly', metric: 'gmv', method: 'ewma', threshold: 0.5, direction: 'sideways' }, 'direction', '"up", "down" or "both"'],
    [{ id: 'a', kind: 'absence', metric: 'events' }, 'for', 'is required'],
    [{ id: 'a', kind: 'absence', metric: 'events', for: '2m', forWindows: 2 }, 'forWindows', 'is not a field of a absence rule'],
    [{ id: 'a', kind: 'rate_of_change', metric: 'late_events', op: '>', value: 5 }, 'change', '"absolute" or "relative"'],
    [{ id: 'a', kind: 'rate_of_change', metric: 'late_events', change: 'absolute', op: '>', value: 5, minValue: 'x' }, 'minValue', 'must be a number'],
  ])('%j → %s', (input, field, reason) => {
    const errors = errorsOf(input);
    const e = errors.find((x) => x.field === field);
    expect(e).toBeDefined();
    expect(e!.reason).toContain(reason);
  });

  it('refuses an id in the body that differs from the path', () => {
    expect(errorsOf(threshold, 'other')).toEqual([{ field: 'id', reason: 'must match the id in the path ("other")' }]);
  });
});

describe('compileRule', () => {
  it('applies defaults and turns durations into ms', () => {
    const c = compileRule({ ...threshold, severity: 'critical', for: '2m', staleAfter: '30s' } as never);
    expect(c).toMatchObject({ forWindows: 1, forMs: 120_000, staleAfterMs: 30_000, alpha: 0.3, history: 30, minHistory: 5 });
    expect(compileRule({ id: 'x', kind: 'absence', metric: 'events', severity: 'info', for: '2m' }).forMs).toBe(120_000);
  });
});

describe('compare and readField', () => {
  it('compares', () => {
    expect([compare(2, '>', 1), compare(1, '>', 1), compare(1, '>=', 1), compare(0, '<', 1), compare(1, '<=', 1), compare('a', '==', 'a'), compare('a', '!=', 'a')]).toEqual([
      true,
      false,
      true,
      true,
      true,
      true,
      false,
    ]);
  });
  it('reads dotted paths', () => {
    expect(readField({ a: { b: 3 } }, 'a.b')).toBe(3);
    expect(readField(7, undefined)).toBe(7);
    expect(readField(7, 'a')).toBeUndefined();
    expect(readField({ a: null }, 'a.b')).toBeUndefined();
  });
});

describe('rule size caps (docs/settings.md "Limits")', () => {
  const base = { id: 'r1', kind: 'threshold', metric: 'gmv', op: '>', value: 1 };
  const fields = (input: Record<string, unknown>) => {
    const v = validateRule({ ...base, ...input });
    return v.ok ? [] : v.errors.map((e) => e.field);
  };
  it.each<[Record<string, unknown>, string]>([
    [{ description: 'd'.repeat(1025) }, 'description'],
    [{ summary: 's'.repeat(1025) }, 'summary'],
    [{ key: 'k'.repeat(257) }, 'key'],
    [{ labels: Object.fromEntries(Array.from({ length: 33 }, (_, i) => [`l${i}`, 'v'])) }, 'labels'],
    [{ labels: { team: 'v'.repeat(257) } }, 'labels.team'],
    [{ labels: { ['n'.repeat(129)]: 'v' } }, 'labels'],
    [{ webhooks: Array.from({ length: 9 }, () => 'http://x/') }, 'webhooks'],
    [{ webhooks: ['http://x/' + 'p'.repeat(2100)] }, 'webhooks'],
  ])('%j → 400 naming %s', (input, field) => expect(fields(input)).toEqual([field]));

  it('accepts a rule at the caps', () => {
    expect(fields({ description: 'd'.repeat(1024), labels: Object.fromEntries(Array.from({ length: 32 }, (_, i) => [`l${i}`, 'v'.repeat(256)])) })).toEqual([]);
  });
});

describe('validateRule: hostile nesting', () => {
  it('names a value nested 10,000 levels deep as a field error, never a stack overflow (found by tidemark fuzz)', () => {
    const deep = JSON.parse(`${'['.repeat(10_000)}${']'.repeat(10_000)}`);
    const r = validateRule({ id: 'r1', kind: 'threshold', metric: 'events', op: '<', value: 1, labels: { s2: deep } });
    expect(r).toMatchObject({ ok: false, errors: [{ field: 'labels.s2', reason: 'must be a string' }] });
  });
});
