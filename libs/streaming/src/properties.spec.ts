/**
 * Property-based tests of the whole core against brute-force references (testing/reference.ts):
 *   1. in-bound disorder: the fired results of all 13 default metrics equal a batch computation;
 *   2. any disorder: every (event, window) is either counted or reported late — never both, never lost —
 *      and the late set is exactly the reference's;
 *   3. session merging (with re-firing) matches a reference;
 *   4. window boundaries are exact: a window fires at W = end, not at end − 1, and holds exactly [start, end).
 */
import fc from 'fast-check';
import type { TidemarkEvent } from '@tidemark/contracts';
import { PartitionedTestDriver } from './partitioned/test-driver';
import { DEFAULT_METRICS } from './metrics/default-metrics';
import { MetricDefinition } from './metrics/metric-definitions';
import type { WindowResultDto as WindowResult } from '@tidemark/contracts';
import { BASE, chunks, inBoundOrder, shopStreamArb } from './testing/generators';
import { ms, referenceResults, referenceUnmatched, windowsOf } from './testing/reference';

jest.setTimeout(120_000); // property runs: seconds alone, more beside the e2e suites

const strip = (r: WindowResult) => ({ metric: r.metric, key: r.key, windowStart: r.windowStart, windowEnd: r.windowEnd, value: r.value });
const FLUSH = BASE + 1e10;

describe('property: fired results equal a batch computation (disorder within the bound)', () => {
  it('all 13 default metrics, random batches, 1–3 partitions', async () => {
    await fc.assert(
      fc.asyncProperty(
        shopStreamArb(2 * 3_600_000, 120),
        fc.array(fc.nat(), { minLength: 1, maxLength: 50 }),
        fc.constantFrom(0, 5_000, 120_000),
        fc.integer({ min: 1, max: 3 }),
        fc.array(fc.nat(), { maxLength: 30 }),
        async (events, delays, bound, partitions, cuts) => {
          const h = new PartitionedTestDriver(DEFAULT_METRICS, { maxOutOfOrdernessMs: bound, partitions });
          const arrival = inBoundOrder(events, delays, bound);
          const partitionOf = (e: TidemarkEvent) => Number(e.sessionId.slice(1)) % partitions;
          // consecutive runs of one partition, cut into batches
          const runs: TidemarkEvent[][] = [];
          for (const e of arrival) {
            const last = runs[runs.length - 1];
            if (last && partitionOf(last[0]) === partitionOf(e)) last.push(e);
            else runs.push([e]);
          }
          for (const run of runs) for (const batch of chunks(run, cuts)) await h.processBatch(batch, { partition: partitionOf(batch[0]) });
          await h.processWatermark(FLUSH);

          for (const def of DEFAULT_METRICS) {
            if (def.aggregation.type === 'join' || def.source?.late) continue;
            expect(h.latest(def.name).map(strip)).toEqual(referenceResults(def, events));
          }
          const unpaid = DEFAULT_METRICS.find((d) => d.name === 'unpaid_orders')!;
          expect(h.latest('unpaid_orders').map((r) => ({ key: r.key, leftTs: r.windowStart, leftId: (r.value as { leftId: string }).leftId }))).toEqual(
            referenceUnmatched(unpaid, events),
          );
          expect(h.lateOutput).toEqual([]);
          expect(h.latest('late_events')).toEqual([]);
          expect(h.results.every((r) => r.final && r.version === 1)).toBe(true); // nothing ever re-fires
          expect(h.openState).toBe(0);
        },
      ),
      { numRuns: 60 },
    );
  });
});

describe('property: every event is counted in its windows or reported late, none lost', () => {
  const defs: MetricDefinition[] = [
    { name: 'per_event_tumbling', key: 'id', aggregation: { type: 'count' }, window: { type: 'tumbling', size: '1m' } },
    { name: 'per_event_sliding', key: 'id', aggregation: { type: 'count' }, window: { type: 'sliding', size: '3m', hop: '1m', offset: '30s' } },
    { name: 'per_event_session', key: 'id', aggregation: { type: 'count' }, window: { type: 'session', gap: '20s' } },
    { name: 'all_sliding', aggregation: { type: 'count' }, window: { type: 'sliding', size: '3m', hop: '1m' } },
    { name: 'late_events', source: { late: true }, key: 'type', aggregation: { type: 'count' }, window: { type: 'tumbling', size: '1m' } },
  ];
  const windowsFor = (def: MetricDefinition, ts: number) => (def.window.type === 'session' ? [{ start: ts, end: ts + 20_000 }] : windowsOf(def, ts));

  it('matches a reference watermark simulation exactly', async () => {
    await fc.assert(
      fc.asyncProperty(
        fc.array(fc.integer({ min: 0, max: 15 * 60_000 }), { maxLength: 80, size: 'max' }),
        fc.constantFrom(0, 5_000, 30_000),
        fc.constantFrom(0, 20_000, 60_000),
        fc.array(fc.nat(), { maxLength: 20 }),
        fc.boolean(),
        async (offsets, bound, lateness, cuts, oneByOne) => {
          const events: TidemarkEvent[] = offsets.map((o, i) => ({ id: `e${i}`, type: i % 3 === 0 ? 'page_view' : 'product_view', ts: BASE + o, userId: 'u', sessionId: 's' }));
          const h = new PartitionedTestDriver(defs, { maxOutOfOrdernessMs: bound, allowedLatenessMs: lateness });
          if (oneByOne) await h.processElements(events);
          else for (const b of chunks(events, cuts)) await h.processBatch(b);
          await h.processWatermark(FLUSH);

          // reference: W before event i = max(ts of earlier events) − bound; late for w iff W >= w.end + lateness
          const latestByKey = new Map<string, WindowResult[]>();
          for (const def of defs) for (const r of h.latest(def.name)) latestByKey.set(`${def.name}|${r.key}`, [...(latestByKey.get(`${def.name}|${r.key}`) ?? []), r]);
          const lateBy = new Map<string, typeof h.lateOutput>();
          for (const l of h.lateOutput) lateBy.set(`${l.metric}|${l.event.id}`, [...(lateBy.get(`${l.metric}|${l.event.id}`) ?? []), l]);
          // The watermark an event is decided with is the one of its batch's start (checkpointed, like
          // Flink's periodic watermarks): the highest time of the earlier batches − bound.
          const batches = oneByOne ? events.map((e) => [e]) : chunks(events, cuts);
          let max: number | null = null;
          const expectedLateEvents = new Map<string, number>();
          const allCount = new Map<string, number>();
          for (const batch of batches) {
          const wm = max === null ? null : max - bound;
          for (const e of batch) {
            let lateSomewhere = false;
            for (const def of defs.slice(0, 4)) {
              const wins = windowsFor(def, e.ts);
              const lateWins = wins.filter((w) => wm !== null && wm >= w.end + lateness);
              const counted = wins.filter((w) => !lateWins.includes(w));
              if (lateWins.length) lateSomewhere = true;
              const reported = lateBy.get(`${def.name}|${e.id}`) ?? [];
              if (lateWins.length === 0) expect(reported).toEqual([]);
              else {
                expect(reported).toHaveLength(1);
                expect(reported[0].windows.slice().sort((a, b) => a.start - b.start)).toEqual(lateWins);
                expect(reported[0].watermark).toBe(wm);
              }
              if (def.name === 'all_sliding') for (const w of counted) allCount.set(`${w.start}`, (allCount.get(`${w.start}`) ?? 0) + 1);
              else {
                const got = latestByKey.get(`${def.name}|${e.id}`) ?? [];
                expect(got.map((r) => ({ start: r.windowStart, end: r.windowEnd, value: r.value }))).toEqual(counted.map((w) => ({ ...w, value: 1 })).sort((a, b) => a.start - b.start));
              }
            }
            if (lateSomewhere) {
              const w = Math.floor(wm! / 60_000) * 60_000;
              const k = `${e.type}|${w}`;
              expectedLateEvents.set(k, (expectedLateEvents.get(k) ?? 0) + 1);
            }
          }
          for (const e of batch) max = max === null ? e.ts : Math.max(max, e.ts);
          }
          expect(Object.fromEntries(h.latest('all_sliding').map((r) => [`${r.windowStart}`, r.value]))).toEqual(Object.fromEntries(allCount));
          expect(Object.fromEntries(h.latest('late_events').map((r) => [`${r.key}|${r.windowStart}`, r.value]))).toEqual(Object.fromEntries(expectedLateEvents));
          // versions of each window go 1, 2, 3 … and every result is final
          const versions = new Map<string, number[]>();
          for (const r of h.results) {
            const k = `${r.metric}|${r.key}|${r.windowStart}|${r.windowEnd}`;
            versions.set(k, [...(versions.get(k) ?? []), r.version]);
            expect(r.final).toBe(true);
          }
          for (const vs of versions.values()) expect(vs).toEqual(vs.map((_, i) => i + 1));
          expect(h.openState).toBe(0);
        },
      ),
      { numRuns: 80 },
    );
  });
});

describe('property: session merging matches a reference', () => {
  const defs: MetricDefinition[] = [
    { name: 'visits', key: 'sessionId', aggregation: { type: 'count' }, window: { type: 'session', gap: '10s' } },
    { name: 'spend', key: 'userId', value: 'price', source: { types: ['product_view'] }, aggregation: { type: 'sum' }, window: { type: 'session', gap: '7s' } },
    { name: 'span', key: 'sessionId', value: 'price', source: { types: ['product_view'] }, aggregation: { type: 'max' }, window: { type: 'session', gap: '15s' } },
  ];
  const streamArb = fc.array(
    fc.record({ o: fc.integer({ min: 0, max: 120_000 }), s: fc.integer({ min: 0, max: 3 }), cents: fc.integer({ min: 0, max: 9_999 }) }).map(
      ({ o, s, cents }): Omit<TidemarkEvent, 'id'> => ({ type: 'product_view', ts: BASE + o, userId: `u${s % 2}`, sessionId: `s${s}`, productId: 'p', price: cents / 100 }),
    ),
    { maxLength: 60, size: 'max' },
  );
  const withIds = (xs: Omit<TidemarkEvent, 'id'>[]): TidemarkEvent[] => xs.map((x, i) => ({ ...x, id: `v${i}` }) as TidemarkEvent);

  it('disorder within the bound: each session fires once, final values equal the reference', async () => {
    await fc.assert(
      fc.asyncProperty(streamArb, fc.array(fc.nat(), { minLength: 1, maxLength: 40 }), fc.array(fc.nat(), { maxLength: 20 }), async (raw, delays, cuts) => {
        const events = withIds(raw);
        const h = new PartitionedTestDriver(defs, { maxOutOfOrdernessMs: 8_000, allowedLatenessMs: 0 });
        for (const b of chunks(inBoundOrder(events, delays, 8_000), cuts)) await h.processBatch(b);
        await h.processWatermark(FLUSH);
        for (const def of defs) expect(h.latest(def.name).map(strip)).toEqual(referenceResults(def, events));
        expect(h.results.every((r) => r.version === 1)).toBe(true);
        expect(h.lateOutput).toEqual([]);
      }),
      { numRuns: 80 },
    );
  });

  it('any disorder, nothing late: sessions merge across firings (versions increase) and end equal to the reference', async () => {
    await fc.assert(
      fc.asyncProperty(streamArb, fc.array(fc.nat(), { maxLength: 20 }), async (raw, cuts) => {
        const events = withIds(raw);
        const h = new PartitionedTestDriver(defs, { maxOutOfOrdernessMs: 0, allowedLatenessMs: 1e12 });
        for (const b of chunks(events, cuts)) await h.processBatch(b);
        await h.processWatermark(BASE + 1e9); // every session complete, none purged
        for (const def of defs) {
          const live = h.stored(def.name);
          expect(live.map(strip)).toEqual(referenceResults(def, events));
          for (const r of live) expect(r.final && r.version >= 1).toBe(true);
          // the live session's version is its number of firings
          for (const r of live) {
            const fired = h.resultsOf(def.name, r.key).filter((x) => x.windowStart >= r.windowStart && x.windowEnd <= r.windowEnd);
            expect(Math.max(...fired.map((x) => x.version))).toBe(r.version);
          }
        }
        expect(h.lateOutput).toEqual([]);
      }),
      { numRuns: 80 },
    );
  });
});

describe('property: window boundaries are exact', () => {
  it('each window fires at W = end (not end − 1) with exactly the events of [start, end)', async () => {
    await fc.assert(
      fc.asyncProperty(
        fc.integer({ min: 1, max: 40 }),
        fc.integer({ min: 1, max: 40 }),
        fc.nat(),
        fc.array(fc.integer({ min: 0, max: 200 }), { minLength: 1, maxLength: 40, size: 'max' }),
        async (size, hopRaw, offsetRaw, ts) => {
          const hop = Math.min(size, hopRaw);
          const offset = offsetRaw % hop;
          const def: MetricDefinition = { name: 'n', aggregation: { type: 'count' }, window: { type: 'sliding', size, hop, offset } };
          const h = new PartitionedTestDriver([def], { maxOutOfOrdernessMs: 1_000, allowedLatenessMs: 0 });
          await h.processElements(ts.map((t, i) => ({ id: `b${i}`, type: 'page_view', ts: t, userId: 'u', sessionId: 's' })));
          expect(h.results).toEqual([]); // the bound keeps W below every end
          const ends = [...new Set(ts.flatMap((t) => windowsOf(def, t).map((w) => w.end)))].sort((a, b) => a - b);
          for (const end of ends) {
            await h.processWatermark(end - 1);
            expect(h.results.some((r) => r.windowEnd === end)).toBe(false);
            await h.processWatermark(end);
            const fired = h.results.filter((r) => r.windowEnd === end);
            expect(fired).toHaveLength(1);
            const start = end - size;
            expect(fired[0].windowStart).toBe(start);
            expect(fired[0].value).toBe(ts.filter((t) => start <= t && t < end).length);
          }
          expect(ms('1m')).toBe(60_000);
        },
      ),
    );
  });
});
