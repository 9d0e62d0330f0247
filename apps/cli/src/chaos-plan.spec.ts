import { Random } from '@tidemark/simulator';
import { formatChaosReport, pickFault, StallTracker, type FaultTarget } from './chaos-plan';

describe('pickFault', () => {
  const targets: FaultTarget[] = [
    ...Array.from({ length: 8 }, (_, i) => ({ kind: 'service' as const, name: `svc-${i}` })),
    { kind: 'nats', name: 'n1' },
    { kind: 'redis', name: 'r1' },
    { kind: 'redis', name: 'r2' },
  ];

  it('hits each kind about as often, whatever the number of its targets, and every target', () => {
    const random = new Random(7);
    const byKind: Record<string, number> = {};
    const seen = new Set<string>();
    for (let i = 0; i < 3000; i++) {
      const t = pickFault(random, targets)!;
      byKind[t.kind] = (byKind[t.kind] ?? 0) + 1;
      seen.add(t.name);
    }
    for (const k of ['service', 'nats', 'redis']) expect(byKind[k]).toBeGreaterThan(900);
    expect(seen.size).toBe(targets.length);
  });

  it('none without targets; deterministic by seed', () => {
    expect(pickFault(new Random(1), [])).toBeUndefined();
    const run = () => Array.from({ length: 20 }, ((r) => () => pickFault(r, targets)!.name)(new Random(3)));
    expect(run()).toEqual(run());
  });
});

describe('StallTracker', () => {
  it('measures the longest time the watermark did not advance, unanswered samples included', () => {
    const s = new StallTracker();
    s.sample(0, 100);
    s.sample(500, 200);
    s.sample(1000, 200);
    s.sample(1500, null); // nobody answered
    s.sample(4000, 200);
    s.sample(4500, 300); // stood still from 500 to 4500
    s.sample(5000, 400);
    expect(s.longestMs).toBe(4000);
  });

  it('a stall still going at the end counts', () => {
    const s = new StallTracker();
    s.sample(0, null);
    s.sample(100, 5);
    s.sample(9100, 5);
    expect(s.longestMs).toBe(9000);
  });
});

describe('formatChaosReport', () => {
  const base = {
    seconds: 60,
    rate: 300,
    events: { sent: 18000, resent: 400, accepted: 18000, counted: 18000, lost: 0, doubled: 0 },
    windows: { compared: 900, differing: 0 },
    faults: { service: 4, nats: 3, redis: 3, pause: 0, 'nats-pause': 0 },
    longestStallMs: 7400,
    maxRssKb: { dedup: 90_000, aggregation: 150_000 },
    firstMismatches: [],
  };

  it('prints every figure and says exact only when nothing is lost, doubled or different', () => {
    const text = formatChaosReport(base);
    expect(text).toMatch(/lost\s+0/);
    expect(text).toMatch(/sent again after a failed request: 400/);
    expect(text).toMatch(/faults\s+10 \(service 4, nats 3, redis 3\)/);
    // pauses are listed when the run had some
    expect(formatChaosReport({ ...base, faults: { ...base.faults, pause: 2 } })).toMatch(/faults\s+12 \(service 4, nats 3, redis 3, pause 2\)/);
    expect(formatChaosReport({ ...base, faults: { ...base.faults, pause: 2, 'nats-pause': 1 } })).toMatch(/faults\s+13 \(service 4, nats 3, redis 3, pause 2, nats-pause 1\)/);
    expect(text).toMatch(/longest stall\s+7.4 s/);
    expect(text).toMatch(/aggregation 146 MB, dedup 88 MB/);
    expect(text).toMatch(/exact — nothing lost/);
    expect(formatChaosReport({ ...base, events: { ...base.events, doubled: 1 } })).toMatch(/NOT exact/);
    expect(formatChaosReport({ ...base, windows: { compared: 900, differing: 2 }, firstMismatches: ['gmv all|0|60000: value'] })).toMatch(/mismatch: gmv[\s\S]*NOT exact/);
  });
});
