import { decodeResult } from './alerting.consumer';
import { AlertingErrorCode, statusOf } from './alerting.errors';

const enc = (v: unknown) => Buffer.from(typeof v === 'string' ? v : JSON.stringify(v));

describe('decodeResult', () => {
  const ok = { metric: 'gmv', key: 'all', windowStart: 0, windowEnd: 60000, value: 12.5, final: true, version: 1 };

  it('reads a window result', () => {
    expect(decodeResult(enc(ok))).toEqual(ok);
  });

  it('names what is wrong with anything else', () => {
    expect(decodeResult(enc('{'))).toMatch(/^not JSON/);
    expect(decodeResult(enc([1]))).toBe('not a JSON object');
    expect(decodeResult(enc({ ...ok, metric: '', windowEnd: 'x', final: 1 }))).toBe('not a window result: bad or missing metric, windowEnd, final');
  });
});

describe('statusOf', () => {
  it('maps every code', () => {
    expect(Object.values(AlertingErrorCode).map(statusOf)).toEqual([400, 404, 409, 503]);
  });
});
