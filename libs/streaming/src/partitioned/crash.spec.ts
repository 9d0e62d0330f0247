/**
 * Crash property: random events over 1–3 partitions, random batches, random checkpoint / fire interleavings
 * (`autoSettle: false`) and random `crash(p)` (memory lost, the partition restored from its last checkpoint,
 * the batches after it replayed). After a flush the results of all 13 default metrics equal a run without
 * crashes and the brute-force reference: nothing lost, nothing doubled. A repeated result id (metric, key,
 * window, version) is allowed only with the same value (JetStream drops the repeat by its Nats-Msg-Id).
 */
import fc from 'fast-check';
import type { TidemarkEvent, WindowResultDto } from '@tidemark/contracts';
import { DEFAULT_METRICS } from '../metrics/default-metrics';
import type { MetricDefinition } from '../metrics/metric-definitions';
import { BASE, chunks, inBoundOrder, shopStreamArb } from '../testing/generators';
import { recordsOf, referenceResults, referenceUnmatched } from '../testing/reference';
import { MemoryAggregationStore } from './store';
import { PartitionedTestDriver } from './test-driver';

jest.setTimeout(60_000); // async property runs: ~3 s each alone, more on a slow or busy machine (Jest's default is 5 s)

const FLUSH = BASE + 1e10;
const strip = (r: WindowResultDto) => ({ metric: r.metric, key: r.key, windowStart: r.windowStart, windowEnd: r.windowEnd, value: r.value });
const unpaid = DEFAULT_METRICS.find((d) => d.name === 'unpaid_orders')!;

/** Every publish, repeats included (the driver drops repeats silently, as JetStream does). */
function recordPublishes(d: PartitionedTestDriver): WindowResultDto[] {
  const all: WindowResultDto[] = [];
  const x = d as unknown as { collect: (rs: readonly WindowResultDto[]) => void };
  const collect = x.collect.bind(d);
  x.collect = (rs) => {
    all.push(...rs);
    collect(rs);
  };
  return all;
}

/** The final value of every window: sessions as stored (a merged session supersedes its parts). */
function finals(d: PartitionedTestDriver, def: MetricDefinition) {
  return (def.window.type === 'session' ? d.stored(def.name) : d.latest(def.name)).map(strip);
}

function unmatched(d: PartitionedTestDriver) {
  return d
    .stored('unpaid_orders')
    .filter((r) => (r.value as { status: string }).status === 'unmatched')
    .map((r) => ({ key: r.key, leftTs: r.windowStart, leftId: (r.value as { leftId: string }).leftId }))
    .sort((x, y) => x.leftTs - y.leftTs || (x.key < y.key ? -1 : 1));
}

interface Scenario {
  arrival: TidemarkEvent[];
  partitions: number;
  cuts: number[];
  ops: number[];
  bound: number;
  allowedLatenessMs: number;
}

/**
 * Runs the scenario; `crashes` false skips the crash operations (same checkpoint / fire interleaving);
 * 'failovers' turns them into Redis failovers that lose a partition slot's writes since a copy taken earlier.
 */
async function run(s: Scenario, crashes: boolean | 'failovers') {
  const d = new PartitionedTestDriver(DEFAULT_METRICS, { partitions: s.partitions, autoSettle: false, maxOutOfOrdernessMs: s.bound, allowedLatenessMs: s.allowedLatenessMs });
  const published = recordPublishes(d);
  const partitionOf = (e: TidemarkEvent) => Number(e.sessionId.slice(1)) % s.partitions;
  let k = 0;
  const next = () => (s.ops.length === 0 ? 0 : s.ops[k++ % s.ops.length]);
  let crashed = 0;
  const runs: TidemarkEvent[][] = [];
  for (const e of s.arrival) {
    const last = runs[runs.length - 1];
    if (last && partitionOf(last[0]) === partitionOf(e)) last.push(e);
    else runs.push([e]);
  }
  const started = new Set<number>();
  const copies = new Map<number, unknown>();
  for (const r of runs) {
    for (const batch of chunks(r, s.cuts)) {
      const p = partitionOf(batch[0]);
      await d.processBatch(batch, { partition: p });
      // A partition's first batch is checkpointed before the firer runs again: until its first checkpoint
      // a partition is invisible to the firer (neither its watermark nor its seen watermark count), so the
      // watermark and the purge horizon can pass what it holds (see the report of this test's commit).
      if (!started.has(p)) {
        started.add(p);
        await d.checkpoint(p);
      }
      for (let n = next() % 4; n > 0; n--) {
        const a = next();
        if (a < 40) await d.checkpoint(a % s.partitions);
        else if (a < 70) await d.fire();
        else if (crashes === 'failovers') {
          const p = a % s.partitions;
          const store = d.store as MemoryAggregationStore;
          if (a < 80 || !copies.has(p)) copies.set(p, store.copyPartition(p));
          else {
            const copy = copies.get(p);
            await d.failover(p, () => store.resetPartition(p, copy));
            copies.delete(p);
            crashed++;
          }
        } else if (crashes) {
          await d.crash(a % s.partitions);
          crashed++;
        }
      }
    }
  }
  await d.processWatermark(FLUSH);
  await d.settle();
  return { d, published, crashed };
}

function expectNoConflictingRepeats(published: readonly WindowResultDto[]) {
  const seen = new Map<string, string>();
  for (const r of published) {
    const id = `${r.metric}|${r.key}|${r.windowStart}|${r.windowEnd}|v${r.version}`;
    const v = JSON.stringify(r.value);
    if (seen.has(id)) expect([id, v]).toEqual([id, seen.get(id)]);
    else seen.set(id, v);
  }
}

/** Versions of a window go 1, 2, 3… (not for sessions: a merged session is a new window carrying the next version). */
function expectVersionsInOrder(results: readonly WindowResultDto[]) {
  const versions = new Map<string, number[]>();
  const sessions = new Set(DEFAULT_METRICS.filter((m) => m.window.type === 'session').map((m) => m.name));
  for (const r of results) {
    if (sessions.has(r.metric)) continue;
    const id = `${r.metric}|${r.key}|${r.windowStart}|${r.windowEnd}`;
    versions.set(id, [...(versions.get(id) ?? []), r.version]);
  }
  for (const v of versions.values()) expect(v).toEqual(v.map((_, i) => i + 1));
}

const opsArb = fc.array(fc.nat(99), { maxLength: 120 });
/** events, delays, bound, partitions, cuts, ops: a stream in bounded disorder and the operations run on it. */
const boundedScenario = () =>
  [shopStreamArb(2 * 3_600_000, 80), fc.array(fc.nat(), { minLength: 1, maxLength: 30 }), fc.constantFrom(0, 5_000, 120_000), fc.integer({ min: 1, max: 3 }), fc.array(fc.nat(), { maxLength: 20 }), opsArb] as [
    fc.Arbitrary<TidemarkEvent[]>,
    fc.Arbitrary<number[]>,
    fc.Arbitrary<number>,
    fc.Arbitrary<number>,
    fc.Arbitrary<number[]>,
    fc.Arbitrary<number[]>,
  ];

describe('property: crashes lose nothing and double nothing', () => {
  it('disorder within the bound: equal to a run without crashes and to the reference, every result version 1', async () => {
    let crashes = 0;
    await fc.assert(
      fc.asyncProperty(
        ...boundedScenario(),
        async (events, delays, bound, partitions, cuts, ops) => {
          const s: Scenario = { arrival: inBoundOrder(events, delays, bound), partitions, cuts, ops, bound, allowedLatenessMs: 60_000 };
          const withCrashes = await run(s, true);
          const without = await run(s, false);
          crashes += withCrashes.crashed;
          const d = withCrashes.d;
          for (const def of DEFAULT_METRICS) {
            if (def.aggregation.type === 'join') continue;
            expect(finals(d, def)).toEqual(finals(without.d, def));
            if (!def.source?.late) expect(finals(d, def)).toEqual(referenceResults(def, events));
          }
          expect(unmatched(d)).toEqual(referenceUnmatched(unpaid, events));
          expect(unmatched(without.d)).toEqual(referenceUnmatched(unpaid, events));
          expect(d.lateOutput).toEqual([]);
          expect(d.results.every((r) => r.final && r.version === 1)).toBe(true);
          expectNoConflictingRepeats(withCrashes.published);
          expect(d.openState).toBe(0);
        },
      ),
      { numRuns: 40 },
    );
    expect(crashes).toBeGreaterThan(0);
  });

  it('any disorder, nothing late (lateness beyond the stream): re-fired windows and merged sessions end equal to the reference', async () => {
    let crashes = 0;
    await fc.assert(
      fc.asyncProperty(shopStreamArb(2 * 3_600_000, 80), fc.integer({ min: 1, max: 3 }), fc.array(fc.nat(), { maxLength: 20 }), opsArb, async (events, partitions, cuts, ops) => {
        const s: Scenario = { arrival: events, partitions, cuts, ops, bound: 0, allowedLatenessMs: 1e12 };
        const withCrashes = await run(s, true);
        const without = await run(s, false);
        crashes += withCrashes.crashed;
        const d = withCrashes.d;
        for (const def of DEFAULT_METRICS) {
          if (def.aggregation.type === 'join') continue;
          expect(finals(d, def)).toEqual(finals(without.d, def));
          if (!def.source?.late) expect(finals(d, def)).toEqual(referenceResults(def, events));
        }
        expect(unmatched(d)).toEqual(referenceUnmatched(unpaid, events));
        expect(d.lateOutput).toEqual([]);
        expectNoConflictingRepeats(withCrashes.published);
        expectVersionsInOrder(d.results);
      }),
      { numRuns: 40 },
    );
    expect(crashes).toBeGreaterThan(0);
  });

  // A failover that promotes a replica behind its master (two failures in a row) loses a slot's last writes:
  // the partition's checkpoints since, and the firer's raises of its watermark. The partition replays from
  // its older checkpoint; cells it writes for windows the firer fired meanwhile must still reach them. A
  // replay is judged with at least the global purge horizon (restore), so events of a slot that went back
  // further than the allowed lateness can go late: reported, not counted — never lost silently. Sessions are
  // compared only with lateness beyond the stream: a replay judged later than the first time may close a
  // session the first run extended (a new one starts), which the brute-force reference does not model.
  it('failovers that lose a partition slot\'s last writes: stored results equal the reference, but for windows of events reported late', async () => {
    let failovers = 0;
    await fc.assert(
      fc.asyncProperty(
        ...boundedScenario(),
        fc.constantFrom(60_000, 1e12),
        fc.boolean(),
        async (events, delays, bound, partitions, cuts, ops, allowedLatenessMs, disordered) => {
          // Disorder beyond the bound too: cells for windows fired already, which only re-fire marks count.
          const s: Scenario = { arrival: disordered ? events : inBoundOrder(events, delays, bound), partitions, cuts, ops, bound, allowedLatenessMs };
          const r = await run(s, 'failovers');
          failovers += r.crashed;
          expectReferenceButLate(r, events, allowedLatenessMs);
          if (r.crashed === 0 && !disordered) expect(r.d.lateOutput).toEqual([]);
        },
      ),
      { numRuns: 80 },
    );
    expect(failovers).toBeGreaterThan(0);
  });

  // A counterexample the property found (seed 360306225): a failover took the checkpoint that had counted a
  // product view; replayed, it was late for one more 1-hour window than the first time, and that second report
  // was dropped as a repeat of the first (its Nats-Msg-Id was event|metric): neither counted nor reported.
  it('an event a failover makes late for more windows is reported again, for all of them (seed 360306225)', async () => {
    const view = (id: string, ts: number, s: string, productId?: string): TidemarkEvent =>
      ({ id, type: productId ? 'product_view' : 'page_view', ts, userId: `u${s.slice(1)}`, sessionId: s, ...(productId ? { productId, categoryId: 'c0', price: 0, quantity: 1 } : {}) }) as TidemarkEvent;
    const T = 1_700_000_000_000;
    const events = [
      view('g0', T + 160_000, 's0'),
      view('g1', T + 460_000, 's0'),
      view('g2', T + 40_000, 's0'),
      view('g3', T + 40_000, 's0'),
      view('g4', T + 99_999, 's0'),
      view('g5', T + 40_000, 's0'),
      view('g6', T + 519_999, 's3'),
      view('g7', T + 40_000, 's0'),
      view('g8', T + 99_999, 's3', 'p0'),
      view('g9', T + 40_000, 's0', 'p0'),
      view('g10', T + 40_000, 's0'),
      view('g11', T + 40_000, 's0'),
      view('g12', T + 40_000, 's0'),
    ];
    const r = await run({ arrival: events, partitions: 2, cuts: [], ops: [91, 63, 0, 9, 0, 13, 92, 59, 40, 0], bound: 0, allowedLatenessMs: 60_000 }, 'failovers');
    expect(r.crashed).toBeGreaterThan(0);
    expectReferenceButLate(r, events, 60_000);
  });
});

/** Stored results equal the reference but for the windows (sessions: keys) late events of the metric missed. */
function expectReferenceButLate(r: Awaited<ReturnType<typeof run>>, events: TidemarkEvent[], allowedLatenessMs: number): void {
  for (const def of DEFAULT_METRICS) {
    if (def.aggregation.type === 'join' || def.source?.late || (def.window.type === 'session' && allowedLatenessMs < 1e12)) continue;
    const missed = new Set<string>();
    for (const l of r.d.lateOf(def.name)) {
      for (const rec of recordsOf(def, l.event)) {
        if (def.window.type === 'session') missed.add(rec.key);
        else for (const w of l.windows) missed.add(`${rec.key}|${w.start}`);
      }
    }
    const keep = (x: { key: string; windowStart: number }) => !missed.has(def.window.type === 'session' ? x.key : `${x.key}|${x.windowStart}`);
    expect([def.name, r.d.stored(def.name).map(strip).filter(keep)]).toEqual([def.name, referenceResults(def, events).filter(keep)]);
  }
  if (r.d.lateOutput.length === 0) expect(unmatched(r.d)).toEqual(referenceUnmatched(unpaid, events));
}
