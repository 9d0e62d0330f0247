/**
 * Benchmark of the recommendation operator alone (no NATS, no Redis): the CPU its own code takes per event, in
 * this process, at the checkpoint sizes the service sees. The stream is the core benchmark's (deterministic
 * shop traffic, seeded), partitioned by sessionId over 8 partitions and cut into batches as a live consumer
 * reads them. Per partition, as the service does (apps/recommendation recs-partition.state.ts and
 * redis-rec.store.ts):
 *   plan        a batch's interactions planned against the visits' windows, straight into the partition's
 *               partials (RecPartial as the planner's RecWriter)
 *   trim        at a checkpoint, the changed lists and sets trimmed to their sizes, the expiry sweep due
 *               (RecPartial.changes)
 *   encode      the changed fields and windows written as the checkpoint script's arguments (checkpointArgs)
 * Checkpoint sizes, each a row: 125 events a partition (5,000 events/s over 8 partitions, a checkpoint every
 * 200 ms), 500 (20,000 events/s), and 5,000 (draining a backlog). Live traffic pays more per event than a
 * backlog because a checkpoint rewrites every field it touches whole, and small checkpoints share fewer
 * touches (docs/benchmarks.md). Times are the fastest of --repeats runs after a warm-up (the machine is
 * shared: the fastest run is the least disturbed).
 */
import { partitionOf, type TidemarkEvent } from '@tidemark/contracts';
import { DEFAULT_PARAMS, FieldWriter, RecPartial, planInto, pushInteractions, type Interaction, type SessionItem } from '@tidemark/recommend';
import { RespArgs } from '@tidemark/state';
import { checkpointArgs } from '../../apps/recommendation/src/redis-rec.store';
import { benchCli } from '../usage';
import { generateStream } from './core.bench';

const PARTITIONS = 8;
const SIZES = [125, 500, 5_000];

const CLI = benchCli({
  what: 'recs-core',
  options: {
    events: { type: 'string', default: '200000', value: 'N', help: 'events in the measured stream' },
    batch: { type: 'string', default: '12', value: 'N', help: 'events per batch of a partition (a live consumer at 5,000 events/s reads ~12)' },
    seed: { type: 'string', default: '42', value: 'N', help: "the shop simulator's seed: the same seed, the same stream" },
    repeats: { type: 'string', default: '3', value: 'N', help: 'timed runs per checkpoint size after a warm-up; the fastest is printed' },
  },
  about: `The recommendation operator alone, in this process (no NATS, no Redis, no services), ${PARTITIONS} partitions,
simulated shop traffic: CPU µs an event to plan batches into the partitions' partials, trim what a checkpoint
changed and encode it as the checkpoint script's arguments, at checkpoints of ${SIZES.join(', ')} events a partition.`,
});

interface Phases {
  plan: number;
  trim: number;
  encode: number;
  fields: number;
  bytes: number;
}

/** One pass over the stream: every partition planned batch by batch and checkpointed every `per` events. */
function pass(parts: readonly TidemarkEvent[][], batch: number, per: number): Phases {
  const params = DEFAULT_PARAMS;
  const out: Phases = { plan: 0, trim: 0, encode: 0, fields: 0, bytes: 0 };
  const scratch = new FieldWriter(16_384);
  for (const events of parts) {
    const partial = new RecPartial(params, { itemMs: 30 * 86_400_000, userMs: 30 * 86_400_000 });
    const windows = new Map<string, SessionItem[]>();
    let since = 0;
    for (let i = 0; i < events.length; i += batch) {
      const t0 = performance.now();
      const interactions: Interaction[] = [];
      for (let j = i; j < Math.min(i + batch, events.length); j++) pushInteractions(events[j], interactions);
      const known = new Map<string, SessionItem[]>();
      for (const x of interactions) {
        const w = partial.windows.get(x.sessionId) ?? windows.get(x.sessionId);
        if (w) known.set(x.sessionId, w);
      }
      planInto(interactions, known, params, partial);
      const t1 = performance.now();
      out.plan += t1 - t0;
      since += batch;
      if (since < per && i + batch < events.length) continue;
      const changed = partial.changes();
      const t2 = performance.now();
      const args = checkpointArgs(changed, PARTITIONS, new RespArgs(32_768), scratch);
      const t3 = performance.now();
      out.trim += t2 - t1;
      out.encode += t3 - t2;
      out.bytes += args.bytes().length;
      for (const m of [changed.nb, changed.sq, changed.tr, changed.vs, changed.u]) out.fields += m.size;
      for (const [id, w] of changed.windows) windows.set(id, w);
      partial.committed();
      since = 0;
    }
  }
  return out;
}

export function run(opts: { events: number; batch: number; seed: number; repeats: number }): Record<number, Phases> {
  const events = generateStream(opts.events, opts.seed);
  const parts: TidemarkEvent[][] = Array.from({ length: PARTITIONS }, () => []);
  for (const e of events) parts[partitionOf(e.sessionId, PARTITIONS)].push(e);
  const result: Record<number, Phases> = {};
  const us = (ms: number) => ((ms * 1000) / opts.events).toFixed(2).padStart(6);
  console.log(`tidemark bench recs-core: ${opts.events.toLocaleString('en-US')} simulated shop events, ${PARTITIONS} partitions, batches of ${opts.batch}, one core, ${process.version}`);
  console.log('  checkpoint       plan    trim  encode   total  (µs an event)   fields  bytes an event');
  for (const per of SIZES) {
    pass(parts, opts.batch, per); // warm-up
    let best: Phases | undefined;
    for (let r = 0; r < opts.repeats; r++) {
      const p = pass(parts, opts.batch, per);
      if (!best || p.plan + p.trim + p.encode < best.plan + best.trim + best.encode) best = p;
    }
    result[per] = best!;
    const b = best!;
    console.log(`  ${String(per).padStart(5)} events  ${us(b.plan)}  ${us(b.trim)}  ${us(b.encode)}  ${us(b.plan + b.trim + b.encode)}                  ${(b.fields / opts.events).toFixed(2).padStart(5)}  ${Math.round(b.bytes / opts.events).toString().padStart(6)}`);
  }
  return result;
}

/** `tidemark bench recs-core [--events N] [--batch N] [--seed N] [--repeats N]` (`--help`: the usage). */
export async function main(args: string[]): Promise<number> {
  const values = CLI.parse(args);
  if (!values) return 0; // --help
  run({ events: Number(values.events), batch: Number(values.batch), seed: Number(values.seed), repeats: Number(values.repeats) });
  return 0;
}
