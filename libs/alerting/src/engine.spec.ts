import fc from 'fast-check';
import { AlertEngine, Transition, WindowResult } from './engine';
import { DEFAULT_RULES } from './default-rules';
import type { AlertRule } from './rule';

const MIN = 60_000;
const T0 = Date.UTC(2026, 10, 1, 10, 0, 0);

const w = (metric: string, key: string, i: number, value: unknown, version = 1, size = MIN): WindowResult => ({
  metric,
  key,
  windowStart: T0 + i * MIN,
  windowEnd: T0 + i * MIN + size,
  value,
  final: true,
  version,
});
const pfr = (i: number, ratio: number, denominator = 100, version = 1) =>
  // sliding 5 minutes, hop 1 minute: the i-th window ends at T0 + (i + 1) min, with the 1-minute windows
  w('payment_failure_rate', 'all', i - 4, { ratio, numerator: Math.round(ratio * denominator), denominator }, version, 5 * MIN);

const rule = (id: string): AlertRule => DEFAULT_RULES.find((r) => r.id === id)!;
const changes = (ts: Transition[]) => ts.map((t) => `${t.alert.rule}:${t.change}`);

function run(engine: AlertEngine, results: WindowResult[]): Transition[] {
  return results.flatMap((r) => engine.applyResult(r));
}

/** A seeded PRNG (mulberry32) and roughly normal noise (sum of 4 uniforms). */
function noise(seed: number) {
  let a = seed >>> 0;
  const u = () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
  return (sd: number) => ((u() + u() + u() + u() - 2) / Math.sqrt(4 / 12)) * sd;
}

describe('threshold with forWindows (payment failure rate > 5 % for 2 windows)', () => {
  it('pending on the first breaching window, firing on the second, resolved after recovery, once each', () => {
    const e = new AlertEngine([rule('payment_failure_rate')]);
    expect(run(e, [pfr(0, 0.01), pfr(1, 0.02)])).toEqual([]);
    const t = run(e, [pfr(2, 0.3)]);
    expect(changes(t)).toEqual(['payment_failure_rate:pending']);
    expect(t[0].key).toBeNull();
    const f = run(e, [pfr(3, 0.4), pfr(4, 0.5)]);
    expect(changes(f)).toEqual(['payment_failure_rate:firing']);
    expect(f[0].alert).toMatchObject({ state: 'firing', startsAt: T0 + 3 * MIN, updatedAt: T0 + 4 * MIN, value: 0.4, severity: 'critical', labels: { metric: 'payment_failure_rate', key: 'all' } });
    expect(f[0].key).toBe(`${f[0].alert.fingerprint}.${T0 + 3 * MIN}.1.firing`);
    const r = run(e, [pfr(5, 0.01)]);
    expect(changes(r)).toEqual(['payment_failure_rate:resolved']);
    expect(r[0].alert).toMatchObject({ state: 'resolved', endsAt: T0 + 6 * MIN });
    expect(r[0].key).toBe(`${f[0].alert.fingerprint}.${T0 + 3 * MIN}.2.resolved`);
    expect(e.alerts().map((a) => a.state)).toEqual(['resolved']);
  });

  it('ignores windows failing the guard (too few payments) and a single breaching window', () => {
    const e = new AlertEngine([rule('payment_failure_rate')]);
    expect(changes(run(e, [pfr(0, 1, 2), pfr(1, 1, 3), pfr(2, 1, 9)]))).toEqual([]);
    expect(changes(run(e, [pfr(3, 0.5), pfr(4, 0.01)]))).toEqual(['payment_failure_rate:pending', 'payment_failure_rate:cancelled']);
  });

  it('drops duplicates and redeliveries, ignores older windows, and re-judges a newer version of the last window', () => {
    const e = new AlertEngine([rule('payment_failure_rate')]);
    run(e, [pfr(0, 0.3), pfr(1, 0.3)]);
    expect(e.alerts()[0].state).toBe('firing');
    expect(run(e, [pfr(1, 0.3), pfr(0, 0.01, 100, 2)])).toEqual([]); // duplicate; older window re-published
    expect(changes(run(e, [pfr(1, 0.01, 100, 2)]))).toEqual(['payment_failure_rate:resolved']);
    // version 3 says breaching again: judged from the state before window 1 (streak 1 → 2): firing again.
    const again = run(e, [pfr(1, 0.2, 100, 3)]);
    expect(changes(again)).toEqual(['payment_failure_rate:firing']);
    expect(again[0].key).toMatch(/\.3\.firing$/);
  });

  it('holds a `for` duration in event time', () => {
    const r: AlertRule = { id: 'slow', kind: 'threshold', severity: 'warning', metric: 'gmv', op: '<', value: 10, for: '2m' };
    const e = new AlertEngine([r]);
    expect(changes(run(e, [w('gmv', 'all', 0, 5), w('gmv', 'all', 1, 5)]))).toEqual(['slow:pending']);
    expect(changes(run(e, [w('gmv', 'all', 2, 5)]))).toEqual(['slow:firing']);
  });

  it('keeps one alert per key and honours a key filter', () => {
    const e = new AlertEngine([rule('orders_per_user')]);
    const t = run(e, [w('orders_per_user', 'u1', 0, 7), w('orders_per_user', 'u2', 0, 3), w('orders_per_user', 'u3', 0, 6)]);
    expect(t.map((x) => x.alert.labels.key)).toEqual(['u1', 'u3']);
    const only: AlertRule = { id: 'u2', kind: 'threshold', severity: 'info', metric: 'orders_per_user', key: 'u2', op: '>', value: 1 };
    const e2 = new AlertEngine([only]);
    expect(run(e2, [w('orders_per_user', 'u1', 0, 7), w('orders_per_user', 'u2', 0, 3)]).map((x) => x.alert.labels.key)).toEqual(['u2']);
  });

  it('resolves an alert whose series went silent for staleAfter (event time)', () => {
    const e = new AlertEngine([rule('orders_per_user')]);
    run(e, [w('orders_per_user', 'u1', 0, 7, 1, 10 * MIN)]);
    expect(run(e, [w('orders_per_user', 'u2', 1, 1, 1, 10 * MIN)])).toEqual([]);
    const t = run(e, [w('orders_per_user', 'u2', 2, 1, 1, 10 * MIN)]); // clock = T0 + 12m ≥ u1's end (10m) + 2m
    expect(changes(t)).toEqual(['orders_per_user:resolved']);
    expect(t[0].alert.endsAt).toBe(T0 + 12 * MIN);
  });

  it('matches strings (unpaid orders) and resolves when a newer version says matched', () => {
    const e = new AlertEngine([rule('unpaid_orders')]);
    const unpaid = (version: number, status: string) => ({ ...w('unpaid_orders', 'o-1', 0, { status, leftId: 'e1', matchedTs: null }, version, 15 * MIN) });
    expect(changes(run(e, [unpaid(1, 'unmatched')]))).toEqual(['unpaid_orders:firing']);
    expect(changes(run(e, [unpaid(2, 'matched')]))).toEqual(['unpaid_orders:resolved']);
  });
});

describe('anomaly on synthetic series', () => {
  const ewma = rule('gmv_drop');
  const zscore: AlertRule = { id: 'gmv_z', kind: 'anomaly', severity: 'warning', metric: 'gmv', key: 'all', method: 'zscore', direction: 'down', threshold: 5, history: 60, minHistory: 20 };
  const series = (n: number, level: (i: number) => number, seed: number) => {
    const rnd = noise(seed);
    return Array.from({ length: n }, (_, i) => w('gmv', 'all', i, Math.max(0, level(i) + rnd(level(i) * 0.08))));
  };

  it.each([1, 2, 3, 4, 5])('normal noise (8 %%, with a slow daily-like trend) raises nothing (seed %i)', (seed) => {
    const e = new AlertEngine([ewma, zscore]);
    const t = run(e, series(300, (i) => 10_000 * (1 + 0.3 * Math.sin(i / 40)), seed));
    expect(t).toEqual([]);
  });

  it.each([1, 2, 3])('a real drop to 40 %% fires both detectors, once, and recovery resolves them (seed %i)', (seed) => {
    const e = new AlertEngine([ewma, zscore]);
    const t = run(e, series(80, (i) => (i >= 50 && i < 60 ? 4_000 : 10_000), seed));
    // gmv_drop waits for a second low minute (forWindows 2); the z-score rule fires on the first
    expect(changes(t).sort()).toEqual(['gmv_drop:firing', 'gmv_drop:pending', 'gmv_drop:resolved', 'gmv_z:firing', 'gmv_z:resolved']);
    expect(t.find((x) => x.change === 'firing' && x.alert.rule === 'gmv_drop')!.alert.updatedAt).toBe(T0 + 52 * MIN);
    const fired = t.filter((x) => x.change === 'firing');
    for (const f of fired) expect(f.alert.startsAt).toBe(T0 + 51 * MIN); // the end of the first low window
    const resolved = t.filter((x) => x.change === 'resolved');
    for (const r of resolved) expect(r.alert.endsAt).toBe(T0 + 61 * MIN);
  });

  it('needs its minimum history', () => {
    const e = new AlertEngine([ewma]);
    expect(run(e, [w('gmv', 'all', 0, 1000), w('gmv', 'all', 1, 1000), w('gmv', 'all', 2, 10)])).toEqual([]);
  });

  it('an upward anomaly with direction up', () => {
    const up: AlertRule = { ...(ewma as object), id: 'gmv_up', direction: 'up', threshold: 1, forWindows: 1 } as AlertRule;
    const e = new AlertEngine([up]);
    const t = run(e, [...Array.from({ length: 6 }, (_, i) => w('gmv', 'all', i, 100)), w('gmv', 'all', 6, 250)]);
    expect(changes(t)).toEqual(['gmv_up:firing']);
  });
});

describe('rate of change (late events spike)', () => {
  it('fires on a rise of 50 over the previous minute; a missing minute counts as 0', () => {
    const e = new AlertEngine([rule('late_events_spike')]);
    expect(run(e, [w('late_events', 'page_view', 0, 5), w('late_events', 'page_view', 1, 30)])).toEqual([]);
    expect(changes(run(e, [w('late_events', 'page_view', 2, 90)]))).toEqual(['late_events_spike:firing']);
    expect(changes(run(e, [w('late_events', 'page_view', 3, 95)]))).toEqual(['late_events_spike:resolved']);
    // minutes 4..9 had no late events: 60 at minute 10 is a rise of 60 over 0
    expect(changes(run(e, [w('late_events', 'page_view', 10, 60)]))).toEqual(['late_events_spike:firing']);
  });

  it('relative changes, with a minimum value', () => {
    const r: AlertRule = { id: 'dbl', kind: 'rate_of_change', severity: 'info', metric: 'orders', change: 'relative', op: '>=', value: 1, minValue: 10 };
    const e = new AlertEngine([r]);
    expect(run(e, [w('orders', 'all', 0, 2), w('orders', 'all', 1, 5)])).toEqual([]); // +150 % but below minValue
    expect(changes(run(e, [w('orders', 'all', 2, 10)]))).toEqual(['dbl:firing']);
  });
});

describe('absence (no events for 2 minutes)', () => {
  it('in event time: fires when the clock passes the last window by 2 minutes, resolves when windows return', () => {
    const e = new AlertEngine([rule('no_events'), rule('late_events_spike')]);
    run(e, [w('events', 'page_view', 0, 10)]);
    expect(run(e, [w('late_events', 'x', 1, 1)])).toEqual([]); // clock T0+2m: 1 minute after the last events window
    const t = run(e, [w('late_events', 'x', 2, 1)]); // clock T0+3m
    expect(changes(t)).toEqual(['no_events:firing']);
    expect(t[0].alert).toMatchObject({ startsAt: T0 + MIN, updatedAt: T0 + 3 * MIN, labels: { metric: 'events' } });
    const r = run(e, [w('events', 'order_placed', 5, 10)]);
    expect(changes(r)).toEqual(['no_events:resolved']);
    expect(r[0].alert.endsAt).toBe(T0 + 5 * MIN);
  });

  it('a gap that only the returning window reveals fires and resolves', () => {
    const e = new AlertEngine([rule('no_events')]);
    run(e, [w('events', 'page_view', 0, 10)]);
    const t = run(e, [w('events', 'page_view', 10, 10)]);
    expect(changes(t)).toEqual(['no_events:firing', 'no_events:resolved']);
    expect(t[0].alert.startsAt).toBe(T0 + MIN);
    expect(t[1].alert.endsAt).toBe(T0 + 10 * MIN);
    expect(t[0].key).not.toBe(t[1].key);
  });

  it('a re-fired older window does not end an absence; a newer one does', () => {
    const e = new AlertEngine([rule('no_events'), rule('late_events_spike')]);
    run(e, [w('events', 'page_view', 5, 10), w('late_events', 'x', 8, 1)]);
    expect(e.alerts().map((a) => a.state)).toEqual(['firing']);
    expect(run(e, [w('events', 'page_view', 4, 11, 2)])).toEqual([]);
    expect(changes(run(e, [w('events', 'page_view', 9, 10)]))).toEqual(['no_events:resolved']);
  });

  it('never reuses a key when a pruned fingerprint fires again', () => {
    const e = new AlertEngine([rule('orders_per_user')]);
    const first = run(e, [w('orders_per_user', 'u1', 0, 9), w('orders_per_user', 'u1', 1, 1)]);
    run(e, [w('orders_per_user', 'u2', 200, 1)]);
    expect(e.prune(60 * MIN)).toBe(1);
    const again = run(e, [w('orders_per_user', 'u1', 201, 9)]);
    expect(again[0].alert.fingerprint).toBe(first[0].alert.fingerprint);
    expect(first.map((t) => t.key)).not.toContain(again[0].key);
  });

  it('with the wall clock: fires when nothing arrived for 2 minutes, resolves on the next window', () => {
    const e = new AlertEngine([rule('no_events')]);
    const boot = 1_000_000;
    expect(e.tickWallClock(boot + 119_999, boot)).toEqual([]);
    expect(changes(e.tickWallClock(boot + 120_000, boot))).toEqual(['no_events:firing']);
    expect(e.tickWallClock(boot + 200_000, boot)).toEqual([]); // no repeat
    expect(changes(e.applyResult(w('events', 'page_view', 0, 1), boot + 210_000))).toEqual(['no_events:resolved']);
    expect(e.tickWallClock(boot + 300_000, boot)).toEqual([]); // 90 s after the last arrival
    expect(changes(e.tickWallClock(boot + 330_000, boot))).toEqual(['no_events:firing']);
  });
});

describe('determinism, persistence and rule changes', () => {
  const traffic = (): WindowResult[] => {
    const rnd = noise(7);
    const out: WindowResult[] = [];
    for (let i = 0; i < 40; i++) {
      const outage = i >= 20 && i < 26;
      out.push(pfr(i, outage ? 0.4 : 0.01 + Math.abs(rnd(0.005))));
      out.push(w('gmv', 'all', i, outage ? 3000 : 10_000 + rnd(500)));
      out.push(w('events', 'page_view', i, 100));
      // sliding 10-minute windows fire when their end passes, like the 1-minute ones ending at the same time
      if (i % 7 === 3) out.push(w('orders_per_user', `u${i}`, i - 9, 6 + (i % 3), 1, 10 * MIN));
      if (i === 29 || i === 30) out.push(w('late_events', 'page_view', i, i === 29 ? 10 : 80));
    }
    return out;
  };

  it('replaying the same results gives the same alerts, also when persisted and restored mid-way', () => {
    const a = new AlertEngine(DEFAULT_RULES);
    const all = run(a, traffic());
    expect(new Set(changes(all))).toEqual(
      new Set(['payment_failure_rate:pending', 'payment_failure_rate:firing', 'payment_failure_rate:resolved', 'gmv_drop:pending', 'gmv_drop:firing', 'gmv_drop:resolved', 'orders_per_user:firing', 'orders_per_user:resolved', 'late_events_spike:firing', 'late_events_spike:resolved']),
    );
    const b = new AlertEngine(DEFAULT_RULES);
    const rs = traffic();
    const first = run(b, rs.slice(0, 90));
    const restored = new AlertEngine(DEFAULT_RULES, JSON.parse(JSON.stringify(b.snapshot())));
    const second = run(restored, rs.slice(90));
    expect([...first, ...second]).toEqual(all);
    expect(restored.alerts()).toEqual(a.alerts());
    // A redelivery of everything after the restore changes nothing.
    expect(run(restored, rs)).toEqual([]);
  });

  it('reports what changed for persisting', () => {
    const e = new AlertEngine([rule('payment_failure_rate')]);
    run(e, [pfr(0, 0.3)]);
    const c = e.takeChanges();
    expect(c.changed).toHaveLength(1);
    expect(c.removed).toEqual([]);
    expect(e.takeChanges().changed).toEqual([]);
    // a failed write puts them back; the next take returns them (with what changed since)
    e.requeueChanges(c);
    expect(e.hasChanges()).toBe(true);
    expect(e.takeChanges().changed.map((s) => s.fingerprint)).toEqual(c.changed.map((s) => s.fingerprint));
  });

  it('deleting a rule resolves its firing alerts and drops its state', () => {
    const e = new AlertEngine([rule('payment_failure_rate'), rule('orders_per_user')]);
    run(e, [pfr(0, 0.3), pfr(1, 0.3), w('orders_per_user', 'u1', 1, 2)]);
    e.takeChanges();
    const t = e.removeRule('payment_failure_rate');
    expect(changes(t)).toEqual(['payment_failure_rate:resolved']);
    expect(e.takeChanges().removed).toHaveLength(1);
    expect(e.alerts()).toEqual([]);
    expect(run(e, [pfr(2, 0.3)])).toEqual([]);
  });

  it('replacing a rule keeps its alerts when it reads the same series, and ends them when it does not', () => {
    const e = new AlertEngine([rule('payment_failure_rate')]);
    run(e, [pfr(0, 0.3), pfr(1, 0.3)]);
    expect(e.upsertRule({ ...rule('payment_failure_rate'), value: 0.5 } as AlertRule)).toEqual([]);
    expect(changes(run(e, [pfr(2, 0.3)]))).toEqual(['payment_failure_rate:resolved']);
    run(e, [pfr(3, 0.6), pfr(4, 0.6)]);
    expect(changes(e.upsertRule({ ...rule('payment_failure_rate'), field: 'numerator' } as AlertRule))).toEqual(['payment_failure_rate:resolved']);
    expect(changes(e.upsertRule({ ...rule('payment_failure_rate'), enabled: false } as AlertRule))).toEqual([]);
    expect(e.ruleIds()).toEqual([]);
  });

  it('ignores non-final results and prunes old quiet series', () => {
    const e = new AlertEngine([rule('orders_per_user')]);
    expect(e.applyResult({ ...w('orders_per_user', 'u1', 0, 9), final: false })).toEqual([]);
    run(e, [w('orders_per_user', 'u1', 0, 1), w('orders_per_user', 'u2', 120, 1)]);
    expect(e.prune(60 * MIN)).toBe(1);
    expect(e.snapshot().states.map((s) => s.labels.key)).toEqual(['u2']);
  });
});

describe('properties', () => {
  const rules: AlertRule[] = [
    { id: 'th', kind: 'threshold', severity: 'warning', metric: 'm', op: '>', value: 0.6, forWindows: 2, staleAfter: '3m' },
    { id: 'z', kind: 'anomaly', severity: 'info', metric: 'm', method: 'zscore', direction: 'both', threshold: 2, history: 10, minHistory: 3 },
    { id: 'roc', kind: 'rate_of_change', severity: 'info', metric: 'm', change: 'absolute', op: '>=', value: 0.5 },
    { id: 'gone', kind: 'absence', severity: 'critical', metric: 'm', key: 'a', for: '3m' },
  ];
  /** Per step: a key, how far its window moves (0 = a newer version of the same window), and a value. */
  const steps = fc.array(fc.record({ key: fc.constantFrom('a', 'b', 'c'), advance: fc.nat(3), value: fc.double({ min: 0, max: 1, noNaN: true }) }), { maxLength: 60 });
  const toResults = (ss: { key: string; advance: number; value: number }[]): WindowResult[] => {
    const at = new Map<string, { i: number; v: number }>();
    return ss.map(({ key, advance, value }) => {
      const prev = at.get(key);
      const cur = !prev ? { i: advance, v: 1 } : advance === 0 ? { i: prev.i, v: prev.v + 1 } : { i: prev.i + advance, v: 1 };
      at.set(key, cur);
      return w('m', key, cur.i, value, cur.v);
    });
  };

  it('copies of already delivered results (redeliveries, duplicate publishes) change nothing', () => {
    fc.assert(
      fc.property(steps, fc.array(fc.tuple(fc.nat(), fc.nat()), { maxLength: 20 }), (ss, copies) => {
        const rs = toResults(ss);
        const expected = run(new AlertEngine(rules), rs);
        const noisy = [...rs];
        for (const [from, offset] of copies) {
          if (noisy.length === 0) break;
          const src = from % noisy.length;
          noisy.splice(src + 1 + (offset % (noisy.length - src)), 0, { ...noisy[src] });
        }
        expect(run(new AlertEngine(rules), noisy)).toEqual(expected);
      }),
      { numRuns: 300 },
    );
  });

  it('persisting and restoring at any point gives the same alerts', () => {
    fc.assert(
      fc.property(steps, fc.nat(), (ss, cutAt) => {
        const rs = toResults(ss);
        const expected = run(new AlertEngine(rules), rs);
        const cut = rs.length === 0 ? 0 : cutAt % (rs.length + 1);
        const a = new AlertEngine(rules);
        const first = run(a, rs.slice(0, cut));
        const b = new AlertEngine(rules, JSON.parse(JSON.stringify(a.snapshot())));
        expect([...first, ...run(b, rs.slice(cut))]).toEqual(expected);
      }),
      { numRuns: 300 },
    );
  });

  it('two pending series going stale at once are cancelled in the same order after a restore (found by the property above)', () => {
    const ss = [
      { key: 'c', advance: 0, value: 0 },
      { key: 'a', advance: 0, value: 0.6000000000000001 },
      { key: 'b', advance: 0, value: 0 },
      { key: 'c', advance: 0, value: 0.6000000000000001 },
      { key: 'b', advance: 3, value: 0 },
    ];
    const rs = toResults(ss);
    const expected = run(new AlertEngine(rules), rs);
    expect(expected.filter((t) => t.change === 'cancelled')).toHaveLength(2);
    for (let cut = 0; cut <= rs.length; cut++) {
      const a = new AlertEngine(rules);
      const first = run(a, rs.slice(0, cut));
      const b = new AlertEngine(rules, JSON.parse(JSON.stringify(a.snapshot())));
      expect([...first, ...run(b, rs.slice(cut))]).toEqual(expected);
    }
  });

  it('notifications alternate firing/resolved per fingerprint and every key is unique', () => {
    fc.assert(
      fc.property(steps, (ss) => {
        const t = run(new AlertEngine(rules), toResults(ss));
        const keys = t.filter((x) => x.key).map((x) => x.key);
        expect(new Set(keys).size).toBe(keys.length);
        const last = new Map<string, string>();
        for (const x of t) {
          if (x.change !== 'firing' && x.change !== 'resolved') continue;
          expect(last.get(x.alert.fingerprint) ?? 'resolved').not.toBe(x.change);
          last.set(x.alert.fingerprint, x.change);
        }
      }),
      { numRuns: 300 },
    );
  });
});
