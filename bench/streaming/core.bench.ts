/**
 * Benchmark of the streaming core alone (no NATS, no Redis): events/s through all 13 default metrics on one
 * core. The stream is realistic shop traffic from the deterministic simulator (seeded), with a little
 * disorder (5 % of events up to 3 s back) and a few late events (0.1 %, 2 min back), partitioned by
 * sessionId over 8 partitions and cut into per-partition batches of 500, as the aggregation service reads them.
 *
 * Two figures:
 *   - pre-aggregation: `preAggregate` per batch (pure, watermark state threaded through) — what the service
 *     does in memory before its one Redis call per batch;
 *   - the partitioned operator as the aggregation service runs it, without Redis: one PartitionOperator per
 *     partition (pre-aggregation + applying the pane / session / join deltas in memory), a checkpoint of the
 *     partition into a MemoryAggregationStore after each of its batches, and a WindowFirer round (fire,
 *     re-fire, joins, purge horizon) after every `partitions` batches.
 *
 * Run after `npx tsc -p tsconfig.build.json`:
 *   node -e "require('tsconfig-paths').register({baseUrl:'dist',paths:{'@tidemark/*':['libs/*\/src']}}); require('./dist/bench/streaming/core.bench.js')"
 * or `TS_NODE_BASEURL=dist node -r tsconfig-paths/register dist/bench/streaming/core.bench.js --events 400000`.
 * Options (command line, or `run(opts)`): --events, --batch, --seed, --repeats.
 */
import { partitionOf, TidemarkEvent, type WindowResultDto } from '@tidemark/contracts';
import { ShopSimulator } from '@tidemark/simulator';
import { DEFAULT_METRICS, emptyWatermarkState, MemoryAggregationStore, MetricSet, PartitionOperator, PreAggregator, WatermarkState, WindowFirer } from '@tidemark/streaming';
import { benchCli } from '../usage';

/** `run()`'s defaults, and the command line's. */
export const CORE_DEFAULTS = { events: 400_000, batchSize: 500, seed: 42, partitions: 8, repeats: 3 } as const;

const CLI = benchCli({
  what: 'core',
  options: {
    events: { type: 'string', default: String(CORE_DEFAULTS.events), value: 'N', help: 'events in the measured stream' },
    batch: { type: 'string', default: String(CORE_DEFAULTS.batchSize), value: 'N', help: 'events per batch of a partition, as a consumer fetches them' },
    seed: { type: 'string', default: String(CORE_DEFAULTS.seed), value: 'N', help: "the shop simulator's seed: the same seed, the same stream" },
    repeats: { type: 'string', default: String(CORE_DEFAULTS.repeats), value: 'N', help: 'timed repetitions after a warm-up; the median is printed' },
  },
  about: `The streaming core alone, in this process on one core (no NATS, no Redis, no services): events/s through all
${DEFAULT_METRICS.length} default metrics, ${CORE_DEFAULTS.partitions} partitions, simulated shop traffic (a little disorder, a few late events):
  pre-aggregation:       a batch → its deltas, as the service computes them before its one Redis call a batch
  partitioned operator:  apply + checkpoint (into memory) + a firer round every ${CORE_DEFAULTS.partitions} batches`,
});

export interface CoreBenchOptions {
  /** Events in the measured stream (default CORE_DEFAULTS.events, as every default here). */
  events?: number;
  /** Events per batch. */
  batchSize?: number;
  seed?: number;
  partitions?: number;
  /** Timed repetitions; the median is reported. */
  repeats?: number;
  print?: boolean;
}

export interface CoreBenchResult {
  events: number;
  metrics: number;
  batchSize: number;
  batches: number;
  /** Simulated event-time span of the stream, minutes. */
  spanMinutes: number;
  preAggregate: { eventsPerSecond: number; deltasPerBatch: number };
  operator: { eventsPerSecond: number; results: number; lateEvents: number; openWindowsAtEnd: number };
  node: string;
}

interface Batch {
  partition: number;
  now: number;
  events: { event: TidemarkEvent; seq: number }[];
}

/** Deterministic synthetic stream: the shop simulator ticking every 100 ms of simulated time. */
export function generateStream(count: number, seed: number): TidemarkEvent[] {
  const sim = new ShopSimulator({ seed, products: 2_000, users: 50_000, sessionsPerSecond: 150 });
  sim.incidents = { disorderRate: 0.05, disorderMs: 3_000, lateRate: 0.001, lateMs: 120_000 };
  const out: TidemarkEvent[] = [];
  let now = 1_767_225_600_000; // 2026-01-01T00:00:00Z
  while (out.length < count) {
    out.push(...sim.tick(now));
    now += 100;
  }
  out.length = count;
  return out;
}

/** Per-partition batches in arrival order, as consumers would fetch them; `now` = arrival (the simulated wall clock). */
export function toBatches(events: readonly TidemarkEvent[], partitions: number, batchSize: number): Batch[] {
  const pending: Batch[] = Array.from({ length: partitions }, (_, p) => ({ partition: p, now: 0, events: [] }));
  const out: Batch[] = [];
  const seqs = new Array<number>(partitions).fill(0);
  let clock = 0;
  for (const event of events) {
    clock = Math.max(clock, event.ts);
    const p = partitionOf(event.sessionId, partitions);
    const b = pending[p];
    b.events.push({ event, seq: ++seqs[p] });
    b.now = clock;
    if (b.events.length === batchSize) {
      out.push(b);
      pending[p] = { partition: p, now: 0, events: [] };
    }
  }
  for (const b of pending) if (b.events.length > 0) out.push(b);
  return out;
}

function timePreAggregate(pre: PreAggregator, batches: readonly Batch[]): { ms: number; deltas: number } {
  let state: WatermarkState = emptyWatermarkState();
  let deltas = 0;
  const t0 = performance.now();
  for (const b of batches) {
    const r = pre.run({ partition: b.partition, now: b.now, events: b.events, watermark: state });
    state = r.watermark;
    deltas += r.deltas.length + r.joins.length;
  }
  return { ms: performance.now() - t0, deltas };
}

async function timeOperator(metrics: MetricSet, batches: readonly Batch[], partitions: number): Promise<{ ms: number; results: number; late: number; open: number }> {
  const store = new MemoryAggregationStore();
  let results = 0;
  const publish = async (rs: WindowResultDto[]) => {
    results += rs.length;
  };
  const ops = Array.from({ length: partitions }, (_, p) => new PartitionOperator(metrics, p, {}));
  const firer = new WindowFirer(metrics, store, publish, { partitions, allowedLatenessMs: ops[0].allowedLatenessMs });
  const seqs = new Array<number>(partitions).fill(0);
  let late = 0;
  let now = 0;
  const t0 = performance.now();
  for (let i = 0; i < batches.length; i++) {
    const b = batches[i];
    const op = ops[b.partition];
    now = Math.max(now, b.now);
    late += op.apply(b.events, b.now).late.length;
    const seq = b.events[b.events.length - 1].seq;
    const { checkpoint, publish: sessions } = op.prepare(seqs[b.partition], seq);
    const r = await store.checkpoint(b.partition, checkpoint);
    if (r.status !== 'ok') throw new Error(`partition ${b.partition}: checkpoint conflict`);
    seqs[b.partition] = seq;
    op.committed(r.watermark, r.horizon);
    await publish(sessions);
    op.published(sessions.length);
    if ((i + 1) % partitions === 0) await firer.round(now);
  }
  return { ms: performance.now() - t0, results, late, open: ops.reduce((n, o) => n + o.size, 0) };
}

const median = (xs: number[]) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)];

export async function run(opts: CoreBenchOptions = {}): Promise<CoreBenchResult> {
  const count = opts.events ?? CORE_DEFAULTS.events;
  const batchSize = opts.batchSize ?? CORE_DEFAULTS.batchSize;
  const partitions = opts.partitions ?? CORE_DEFAULTS.partitions;
  const repeats = opts.repeats ?? CORE_DEFAULTS.repeats;
  const events = generateStream(count, opts.seed ?? CORE_DEFAULTS.seed);
  const batches = toBatches(events, partitions, batchSize);
  const metrics = new MetricSet(DEFAULT_METRICS);
  const pre = new PreAggregator(metrics);

  // warm-up (JIT) on the first fifth of the stream
  const warm = batches.slice(0, Math.ceil(batches.length / 5));
  timePreAggregate(pre, warm);
  await timeOperator(metrics, warm, partitions);

  const preRuns = Array.from({ length: repeats }, () => timePreAggregate(pre, batches));
  const opRuns: Awaited<ReturnType<typeof timeOperator>>[] = [];
  for (let i = 0; i < repeats; i++) opRuns.push(await timeOperator(metrics, batches, partitions));
  const preMs = median(preRuns.map((r) => r.ms));
  const opMs = median(opRuns.map((r) => r.ms));
  const span = events.reduce((m, e) => Math.max(m, e.ts), -Infinity) - events.reduce((m, e) => Math.min(m, e.ts), Infinity);
  const result: CoreBenchResult = {
    events: count,
    metrics: metrics.metrics.length,
    batchSize,
    batches: batches.length,
    spanMinutes: Math.round(span / 60_000),
    preAggregate: { eventsPerSecond: Math.round((count / preMs) * 1000), deltasPerBatch: Math.round(preRuns[0].deltas / batches.length) },
    operator: { eventsPerSecond: Math.round((count / opMs) * 1000), results: opRuns[0].results, lateEvents: opRuns[0].late, openWindowsAtEnd: opRuns[0].open },
    node: process.version,
  };
  if (opts.print !== false) {
    const f = (n: number) => n.toLocaleString('en-US');
    console.log(`tidemark bench streaming core: ${f(count)} simulated shop events (${result.spanMinutes} min of event time), ${result.metrics} default metrics, ${partitions} partitions, batches of ${batchSize}, one core, ${process.version}`);
    console.log(`  pre-aggregation (batch → deltas):              ${f(result.preAggregate.eventsPerSecond)} events/s  (${result.preAggregate.deltasPerBatch} deltas per batch)`);
    console.log(`  partitioned operator (apply + checkpoint + fire): ${f(result.operator.eventsPerSecond)} events/s  (${f(result.operator.results)} results, ${f(result.operator.lateEvents)} late reports)`);
    console.log(`  median of ${repeats} runs after a warm-up`);
  }
  return result;
}

/** `tidemark bench core [--events N] [--batch N] [--seed N] [--repeats N]` (`--help`: the usage). */
export async function main(args: string[]): Promise<number> {
  const values = CLI.parse(args);
  if (!values) return 0; // --help
  await run({ events: Number(values.events), batchSize: Number(values.batch), seed: Number(values.seed), repeats: Number(values.repeats) });
  return 0;
}

// Run when executed directly (`node core.bench.js`) or required from `node -e` (no main module there);
// not when another module (e.g. `tidemark bench`) imports it.
if (require.main === module || require.main === undefined) {
  main(process.argv.slice(2)).then(
    (code) => process.exit(code),
    (err) => {
      console.error(err);
      process.exit(1);
    },
  );
}
