/**
 * `tidemark bench scale`: does the pipeline scale out without collapsing? (issue "Scale out and survive":
 * two instances of each stage on the local cluster reach ≥ 0.8 × one instance on the same machine — two cores
 * cannot make it faster; it must not collapse.)
 *
 * Per run, one local cluster (3 nats-servers with R3 streams, a 6-node Redis Cluster) in a temporary folder,
 * and two phases on it, each with the services as processes in group mode (PARTITION_ASSIGNMENT=group):
 *   k=1: one instance each of ingestion, dedup, aggregation, recommendation (and alerting, a singleton);
 *   k=2: two instances each of ingestion, dedup, aggregation, recommendation (and one alerting).
 * A phase waits until every instance is ready and the partitions are shared out (/health/ready `partitions.owned`:
 * per group the instances' owned partitions add up to P and none is empty), warms up (--warmup events, sent and
 * drained, untimed), measures idle CPU for IDLE_MS, then posts N shop events (event time =
 * wall clock, fresh ids) as NDJSON requests of 1,000 over 4 concurrent clients spread over the ingestion
 * instances, and times from the first request until dedup's durables on EVENTS_RAW and then aggregation's and
 * recommendation's on EVENTS_CLEAN have nothing pending (num_pending + num_ack_pending = 0) for every partition.
 * CPU µs per event per service (instances summed) and of the servers come from /proc inside that window.
 * The phase's instances are stopped (SIGTERM) before the next phase starts. Median over --runs.
 */
import { ChildProcess, spawn } from 'node:child_process';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { jetstream, type JetStreamManager } from '@nats-io/jetstream';
import { connect } from '@nats-io/transport-node';
import { durables, streams } from '@tidemark/contracts';
import { clusterServiceEnv } from '../apps/cli/src/cluster-env';
import { startLocalNatsCluster, type LocalNatsCluster } from '../apps/cli/src/local-nats-cluster';
import { startLocalRedisCluster, type LocalRedisCluster } from '../apps/cli/src/local-redis-cluster';
import { serviceArgv } from '../apps/cli/src/services';
import { cpuMicros, fmt, freePort, median, rate, shopEvents } from './support';
import { benchCli } from './usage';

const BIN = path.resolve(__dirname, '..', '..', 'bin', 'tidemark.js');
const STAGES = ['ingestion', 'dedup', 'aggregation', 'recommendation'] as const;
const GROUPS = ['dedup', 'aggregation', 'recommendation'] as const;
const SERVICES = [...STAGES, 'alerting'] as const;
const PORT_VAR: Record<string, string> = { ingestion: 'INGESTION_PORT', dedup: 'DEDUP_PORT', aggregation: 'AGGREGATION_PORT', recommendation: 'RECOMMENDATION_PORT', alerting: 'ALERTING_PORT' };
const BATCH = 1000;
const CONCURRENCY = 4;
/** The idle window of each phase (fixed CPU cost per second). */
const IDLE_MS = 3000;
const PARTITIONS_RANGE = { min: 2, max: 256 };

const CLI = benchCli({
  what: 'scale',
  options: {
    events: { type: 'string', default: '60000', value: 'N', help: `shop events per phase, timed; at least ${BATCH}` },
    warmup: { type: 'string', default: '20000', value: 'N', help: 'shop events sent and drained before the timed window of each phase; 0: none' },
    partitions: { type: 'string', default: '8', value: 'P', help: `partitions, ${PARTITIONS_RANGE.min} to ${PARTITIONS_RANGE.max}` },
    runs: { type: 'string', default: '1', value: 'R', help: 'runs, each on a cluster of its own; the median is printed' },
    keep: { type: 'boolean', default: false, help: "keep the temporary folder (servers' data, every process's log)" },
  },
  about: `One instance of each stage, then two, on a local cluster (3 nats-servers R3, a 6-node Redis Cluster) started
on free loopback ports, group mode; per phase the events/s end to end and the CPU µs per event of every service
and server (goal: two instances ≥ 0.80 × one). Nothing else on the machine is touched.`,
});

interface Instance {
  service: string;
  name: string;
  port: number;
  child: ChildProcess;
}

interface Phase {
  k: number;
  rate: number;
  ms: number;
  settleMs: number;
  /** CPU µs per event: by service (instances summed), `nats-server` and `redis-server` (all nodes), `services` (sum of the services). */
  cpu: Record<string, number>;
  /** CPU ms per second per service (instances summed) and of the servers while nothing was sent: the fixed cost. */
  idle: Record<string, number>;
  /** Owned partitions per instance, by group, when the traffic started and when it was drained. */
  split: Record<string, number[]>;
  splitAfter: Record<string, number[]>;
}

/** Every live child of the bench (services and servers): killed on SIGINT / SIGTERM. */
const livePids = new Set<number>();
/** The run's temporary folder, removed on SIGINT / SIGTERM too (unless --keep). */
let liveDir: string | undefined;

function alive(c: ChildProcess): boolean {
  return c.exitCode === null && c.signalCode === null;
}

async function readiness(url: string): Promise<{ status: number; owned?: number[] } | undefined> {
  try {
    const res = await fetch(`${url}/health/ready`, { signal: AbortSignal.timeout(2000) });
    const body = (await res.json().catch(() => ({}))) as { partitions?: { owned?: number[] } };
    return { status: res.status, owned: body.partitions?.owned };
  } catch {
    return undefined;
  }
}

async function startInstance(service: string, name: string, env: NodeJS.ProcessEnv, dir: string): Promise<Instance> {
  const port = await freePort();
  const own: NodeJS.ProcessEnv = { ...env, [PORT_VAR[service]]: String(port) };
  if (service === 'ingestion') own.INGESTION_TCP_PORT = String(await freePort());
  const log = fs.openSync(path.join(dir, `${name}.log`), 'a');
  const child = spawn(process.execPath, serviceArgv(BIN, service), { env: own, stdio: ['ignore', log, log] });
  fs.closeSync(log);
  livePids.add(child.pid!);
  child.once('exit', () => livePids.delete(child.pid!));
  const x = { service, name, port, child };
  const deadline = Date.now() + 60_000;
  while (Date.now() < deadline) {
    if (!alive(child)) throw new Error(`${name} exited while starting (see ${path.join(dir, `${name}.log`)})`);
    if ((await readiness(`http://127.0.0.1:${port}`))?.status === 200) return x;
    await sleep(200);
  }
  throw new Error(`${name} not ready after 60 s`);
}

async function stopInstance(x: Instance): Promise<void> {
  if (!alive(x.child)) return;
  const gone = new Promise((r) => x.child.once('exit', r));
  x.child.kill('SIGTERM');
  const t = setTimeout(() => x.child.kill('SIGKILL'), 30_000);
  await gone;
  clearTimeout(t);
}

/** Owned partitions per instance of each group (ready report). */
async function splitOf(instances: Instance[]): Promise<Record<string, number[]>> {
  const out: Record<string, number[]> = {};
  for (const g of GROUPS) {
    out[g] = await Promise.all(instances.filter((x) => x.service === g).map(async (x) => (await readiness(`http://127.0.0.1:${x.port}`))?.owned?.length ?? 0));
  }
  return out;
}

/** Until every group's instances own all P partitions between them, none empty and none doubled, the same for 2 polls. */
async function waitSettled(instances: Instance[], partitions: number): Promise<Record<string, number[]>> {
  const deadline = Date.now() + 60_000;
  let stable = 0;
  for (;;) {
    let ok = true;
    const split: Record<string, number[]> = {};
    for (const g of GROUPS) {
      const owned = await Promise.all(instances.filter((x) => x.service === g).map(async (x) => (await readiness(`http://127.0.0.1:${x.port}`))?.owned ?? []));
      split[g] = owned.map((o) => o.length);
      const all = owned.flat();
      if (all.length !== partitions || new Set(all).size !== partitions || owned.some((o) => o.length === 0)) ok = false;
    }
    stable = ok ? stable + 1 : 0;
    if (stable >= 2) return split;
    if (Date.now() > deadline) throw new Error(`partitions not shared out after 60 s: ${JSON.stringify(split)}`);
    await sleep(250);
  }
}

async function drained(jsm: JetStreamManager, stream: string, durable: (p: number) => string, partitions: number): Promise<boolean> {
  return (await pending(jsm, stream, durable, partitions)).length === 0;
}

/** The durables with something pending (`name pending/ack_pending`, or `name missing`). */
async function pending(jsm: JetStreamManager, stream: string, durable: (p: number) => string, partitions: number): Promise<string[]> {
  const infos = await Promise.all(Array.from({ length: partitions }, (_, p) => jsm.consumers.info(stream, durable(p)).catch(() => null)));
  return infos.flatMap((i, p) => (i === null ? [`${durable(p)} missing`] : i.num_pending + i.num_ack_pending > 0 ? [`${durable(p)} ${i.num_pending}/${i.num_ack_pending}`] : []));
}

/** POSTs the batches (event time = now at each request) over CONCURRENCY clients, round robin over the ingestion instances. */
async function send(ingestion: Instance[], batches: Record<string, unknown>[][]): Promise<void> {
  let next = 0;
  await Promise.all(
    Array.from({ length: CONCURRENCY }, async () => {
      while (next < batches.length) {
        const i = next++;
        const ts = Date.now();
        const body = batches[i].map((e) => JSON.stringify({ ...e, ts })).join('\n');
        const target = ingestion[i % ingestion.length];
        const res = await fetch(`http://127.0.0.1:${target.port}/v1/events`, { method: 'POST', headers: { 'content-type': 'application/x-ndjson' }, body });
        const text = await res.text();
        if (res.status !== 202) throw new Error(`${target.name} answered ${res.status}: ${text.slice(0, 300)}`);
        const reply = JSON.parse(text) as { rejected?: unknown[] };
        if ((reply.rejected ?? []).length > 0) throw new Error(`${target.name} rejected events: ${JSON.stringify(reply.rejected).slice(0, 300)}`);
      }
    }),
  );
}

/** Posts the events (NDJSON requests of BATCH) and waits until every durable of dedup, aggregation and recommendation has nothing pending. */
async function sendAndDrain(ingestion: Instance[], jsm: JetStreamManager, events: Record<string, unknown>[], partitions: number, k: number, instances: Instance[], what: string): Promise<void> {
  const batches: Record<string, unknown>[][] = [];
  for (let i = 0; i < events.length; i += BATCH) batches.push(events.slice(i, i + BATCH));
  const start = performance.now();
  await send(ingestion, batches);
  for (;;) {
    // dedup first: once it is drained every event is in EVENTS_CLEAN, and then the clean consumers are checked.
    if ((await drained(jsm, streams.raw.name, durables.dedup, partitions)) && (await drained(jsm, streams.clean.name, durables.aggregation, partitions)) && (await drained(jsm, streams.clean.name, durables.recommendation, partitions))) return;
    if (performance.now() - start > 90_000) {
      const left = [...(await pending(jsm, streams.raw.name, durables.dedup, partitions)), ...(await pending(jsm, streams.clean.name, durables.aggregation, partitions)), ...(await pending(jsm, streams.clean.name, durables.recommendation, partitions))];
      throw new Error(`k=${k}: ${what} traffic not drained after 90 s; pending/ack pending: ${left.join(', ')}; owned now ${JSON.stringify(await splitOf(instances))}`);
    }
    await sleep(50);
  }
}

async function phase(k: number, env: NodeJS.ProcessEnv, nats: LocalNatsCluster, redis: LocalRedisCluster, jsm: JetStreamManager, count: number, warmup: number, partitions: number, runId: string, dir: string, say: (s: string) => void): Promise<Phase> {
  const instances: Instance[] = [];
  try {
    const t0 = performance.now();
    // In pipeline order (each waits for its streams); the instances of a stage start together.
    for (const service of SERVICES) {
      const n = service === 'alerting' ? 1 : k;
      instances.push(...(await Promise.all(Array.from({ length: n }, (_, i) => startInstance(service, `k${k}-${service}-${i + 1}`, env, dir)))));
    }
    const split = await waitSettled(instances, partitions);
    const settleMs = performance.now() - t0;
    say(`k=${k}: ${instances.length} instances ready and settled in ${(settleMs / 1000).toFixed(1)} s (${GROUPS.map((g) => `${g} ${split[g].join('+')}`).join(', ')}); sending ${fmt(warmup)} events to warm up, then ${fmt(count)} timed`);

    const ingestion = instances.filter((x) => x.service === 'ingestion');
    const pids: Record<string, number[]> = {};
    for (const x of instances) (pids[x.service] ??= []).push(x.child.pid!);
    pids['nats-server'] = nats.nodes.map((n) => n.pid!);
    pids['redis-server'] = redis.nodes.map((n) => n.pid!);
    const cpuNow = () => Object.fromEntries(Object.entries(pids).map(([s, ps]) => [s, ps.reduce((a, pid) => a + cpuMicros(pid), 0)]));
    /** CPU µs between two readings per `unit` (an event, a ms), by process kind, and `services`: their sum. */
    const cpuPer = (before: Record<string, number>, after: Record<string, number>, unit: number): Record<string, number> => {
      const out: Record<string, number> = {};
      for (const s of Object.keys(pids)) out[s] = (after[s] - before[s]) / unit;
      out.services = SERVICES.reduce((a, s) => a + out[s], 0);
      return out;
    };

    // Warm-up, not timed: every instance's JIT, pools and connections reach their steady state first, so the
    // timed window measures throughput, not start-up cost paid once per process (twice as often at k=2).
    if (warmup > 0) await sendAndDrain(ingestion, jsm, shopEvents(warmup, `${runId}-k${k}-warmup`, Date.now()), partitions, k, instances, 'warm-up');

    // The fixed cost, once warm: CPU while nothing is sent (heartbeats, lease renewals, idle pulls, timers).
    const idle0 = cpuNow();
    const idleStart = performance.now();
    await sleep(IDLE_MS);
    const idle = cpuPer(idle0, cpuNow(), performance.now() - idleStart); // µs per ms = ms per s

    const cpu0 = cpuNow();
    const start = performance.now();
    await sendAndDrain(ingestion, jsm, shopEvents(count, `${runId}-k${k}`, Date.now()), partitions, k, instances, 'timed');
    const ms = performance.now() - start;
    const cpu = cpuPer(cpu0, cpuNow(), count);
    const splitAfter = await splitOf(instances);
    for (const x of instances) if (!alive(x.child)) throw new Error(`${x.name} died during the phase (see its log)`);
    say(`k=${k}: ${fmt(rate(count, ms))} events/s (${(ms / 1000).toFixed(2)} s), ${cpu.services.toFixed(1)} µs CPU an event in the services`);
    return { k, rate: rate(count, ms), ms, settleMs, cpu, idle, split, splitAfter };
  } finally {
    await Promise.all(instances.map(stopInstance));
  }
}

async function run(r: number, count: number, warmup: number, partitions: number, keep: boolean): Promise<Phase[]> {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'tidemark-bench-scale-'));
  const say = (s: string) => console.log(`  run ${r + 1}: ${s}`);
  if (!keep) liveDir = dir;
  say(`cluster, data and logs in ${dir}`);
  let nats: LocalNatsCluster | undefined;
  let redis: LocalRedisCluster | undefined;
  const onProcess = (event: 'start' | 'exit', pid: number) => (event === 'start' ? livePids.add(pid) : livePids.delete(pid));
  try {
    [nats, redis] = await Promise.all([
      startLocalNatsCluster({ size: 3, dataDir: path.join(dir, 'nats'), onProcess }),
      startLocalRedisCluster({ masters: 3, replicasPerMaster: 1, dataDir: path.join(dir, 'redis'), persistence: true, onSpawn: (pid) => livePids.add(pid), onExit: (pid) => livePids.delete(pid) }),
    ]);
    for (const n of [...nats.nodes, ...redis.nodes]) if (n.pid) livePids.add(n.pid);
    const env = clusterServiceEnv(nats.urls, redis.seeds, partitions);
    const nc = await connect({ servers: nats.urls.split(','), name: 'bench-scale' });
    try {
      const jsm = await jetstream(nc).jetstreamManager();
      const runId = `${Date.now().toString(36)}-r${r}`;
      const one = await phase(1, env, nats, redis, jsm, count, warmup, partitions, runId, dir, say);
      const two = await phase(2, env, nats, redis, jsm, count, warmup, partitions, runId, dir, say);
      return [one, two];
    } catch (e) {
      // The logs tell why: the folder stays.
      keep = true;
      say(`failed; servers' data and the logs are kept in ${dir}`);
      throw e;
    } finally {
      await nc.close();
    }
  } finally {
    await Promise.all([nats?.stop(), redis?.stop()]);
    liveDir = undefined;
    if (!keep) fs.rmSync(dir, { recursive: true, force: true });
  }
}

function print(runs: Phase[][], count: number, warmup: number, partitions: number): void {
  const m = (k: number, f: (p: Phase) => number) => median(runs.map((r) => f(r[k - 1])));
  const r1 = m(1, (p) => p.rate);
  const r2 = m(2, (p) => p.rate);
  const ratio = median(runs.map((r) => r[1].rate / r[0].rate));
  console.log(`  ${fmt(count)} shop events a phase timed (after ${fmt(warmup)} to warm up), ${partitions} partitions, median of ${runs.length} run(s):`);
  const row = (label: string, a: string, b: string, note = '') => console.log(`      ${label.padEnd(46)}${a.padStart(10)}${b.padStart(10)}   ${note}`);
  row('figure', 'k=1', 'k=2');
  row('end to end, events/s', fmt(Math.round(r1)), fmt(Math.round(r2)), `ratio k2/k1 ${ratio.toFixed(2)} (goal ≥ 0.80)${runs.length > 1 ? `; per run ${runs.map((r) => (r[1].rate / r[0].rate).toFixed(2)).join(', ')}` : ''}`);
  row('time to drain, s', (m(1, (p) => p.ms) / 1000).toFixed(2), (m(2, (p) => p.ms) / 1000).toFixed(2));
  row('start + settle, s', (m(1, (p) => p.settleMs) / 1000).toFixed(1), (m(2, (p) => p.settleMs) / 1000).toFixed(1));
  for (const s of [...SERVICES, 'services', 'nats-server', 'redis-server']) {
    const label = s === 'services' ? 'CPU µs per event: sum of the services' : s.endsWith('-server') ? `CPU µs per event: ${s} (all nodes)` : `CPU µs per event: ${s}`;
    row(label, m(1, (p) => p.cpu[s]).toFixed(1), m(2, (p) => p.cpu[s]).toFixed(1));
  }
  for (const s of ['services', 'nats-server', 'redis-server']) {
    const label = s === 'services' ? 'idle CPU ms per s: sum of the services' : `idle CPU ms per s: ${s} (all nodes)`;
    row(label, m(1, (p) => p.idle[s]).toFixed(1), m(2, (p) => p.idle[s]).toFixed(1));
  }
  for (const g of GROUPS) {
    // Each distinct split once (`4+4`; `4+4→5+3` if it moved during the traffic).
    const show = (k: number) => [...new Set(runs.map((r) => r[k - 1].split[g].join('+') + (r[k - 1].splitAfter[g].join('+') !== r[k - 1].split[g].join('+') ? `→${r[k - 1].splitAfter[g].join('+')}` : '')))].join(', ');
    row(`partitions owned per instance: ${g}`, show(1), show(2));
  }
}

export async function main(args: string[]): Promise<number> {
  const values = CLI.parse(args);
  if (!values) return 0; // --help
  const count = Number(values.events);
  const warmup = Number(values.warmup);
  const partitions = Number(values.partitions);
  const runsWanted = Number(values.runs);
  if (!(count >= BATCH) || !(warmup >= 0) || !(partitions >= PARTITIONS_RANGE.min && partitions <= PARTITIONS_RANGE.max) || !(runsWanted >= 1)) {
    console.error(CLI.usage);
    return 2;
  }
  const onSignal = () => {
    for (const pid of livePids) {
      try {
        process.kill(pid, 'SIGKILL');
      } catch {
        // gone already
      }
    }
    if (liveDir) fs.rmSync(liveDir, { recursive: true, force: true });
    process.exit(130);
  };
  process.once('SIGINT', onSignal);
  process.once('SIGTERM', onSignal);
  console.log(`tidemark bench scale: one instance of each stage, then two, on a local cluster (3 nats-servers R3, 6-node Redis Cluster), group mode`);
  try {
    const runs: Phase[][] = [];
    const failed: string[] = [];
    for (let r = 0; r < runsWanted; r++) {
      try {
        runs.push(await run(r, count, warmup, partitions, values.keep));
      } catch (e) {
        // A run that fails (a phase that does not drain) is reported, not averaged; the others still count.
        failed.push(`run ${r + 1}: ${(e as Error).message}`);
        console.log(`  run ${r + 1} failed: ${(e as Error).message}`);
      }
    }
    if (runs.length > 0) print(runs, count, warmup, partitions);
    if (failed.length > 0) console.log(`  ${failed.length} of ${runsWanted} run(s) failed and are not in the figures:\n    ${failed.join('\n    ')}`);
    return failed.length === 0 ? 0 : 1;
  } finally {
    process.off('SIGINT', onSignal);
    process.off('SIGTERM', onSignal);
  }
}

function sleep(ms: number): Promise<void> {
  return new Promise((r) => setTimeout(r, ms));
}
