import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { DEFAULT_METRICS } from '@tidemark/streaming';
import { loadMetrics } from './metric-loader';

function file(json: unknown): string {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'tidemark-metrics-'));
  const f = path.join(dir, 'metrics.json');
  fs.writeFileSync(f, JSON.stringify(json));
  return f;
}

describe('loadMetrics', () => {
  it('serves every default metric, sessions and the join included', () => {
    const loaded = loadMetrics(undefined);
    expect(loaded.definitions.map((d) => d.name)).toEqual(DEFAULT_METRICS.map((d) => d.name));
    expect(loaded.set.get('cart_abandonment')).toBeDefined();
    expect(loaded.set.get('unpaid_orders')?.kind).toBe('join');
  });

  it('adds the definitions of METRICS_FILE', () => {
    const f = file([{ name: 'views_10s', key: 'productId', source: { types: ['product_view'] }, aggregation: { type: 'count' }, window: { type: 'tumbling', size: '10s' } }]);
    expect(loadMetrics(f).set.get('views_10s')).toBeDefined();
  });

  it('refuses a session window keyed by anything but the routing key, naming the metric', () => {
    const f = file([{ name: 'user_sessions', key: 'userId', aggregation: { type: 'count' }, window: { type: 'session', gap: '30m' } }]);
    expect(() => loadMetrics(f)).toThrow('metric "user_sessions": a session window must be keyed by "sessionId" (events are partitioned by it), not "userId"');
  });

  it('names a file that is missing or not JSON', () => {
    expect(() => loadMetrics('/nonexistent/metrics.json')).toThrow(/^METRICS_FILE \/nonexistent\/metrics.json:/);
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'tidemark-metrics-'));
    fs.writeFileSync(path.join(dir, 'bad.json'), '{');
    expect(() => loadMetrics(path.join(dir, 'bad.json'))).toThrow(/is not JSON/);
  });
});
