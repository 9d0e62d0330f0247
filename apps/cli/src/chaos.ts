/**
 * `tidemark chaos`: the whole pipeline on a local cluster (3 nats-servers with R3 streams, a 6-node Redis
 * Cluster, two instances of every service with partitions assigned by group leases) under steady shop
 * traffic, while every few seconds a random service instance, NATS node or Redis master is killed (-9) and
 * restarted, or (with `--faults …,pause`) frozen with SIGSTOP past its lease and resumed. At the end every
 * window of the reference metrics is compared with a brute-force reference
 * (libs/simulator reference.ts) computed from the events ingestion accepted; the report says what was sent,
 * counted, lost and doubled, the faults by kind, the longest watermark stall and the peak RSS per service
 * (docs/scale-out.md "Chaos").
 */
import { ChildProcess, spawn } from 'node:child_process';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { parseArgs } from 'node:util';
import { jetstream } from '@nats-io/jetstream';
import { connect } from '@nats-io/transport-node';
import { decodeFrame, isFrame, streams, type TidemarkEvent, type WindowResultDto } from '@tidemark/contracts';
import { compareWindows, computeReference, heartbeats, Random, REFERENCE_METRICS, ShopSimulator } from '@tidemark/simulator';
import { describeClaims, type StreamId } from './chaos-diagnosis';
import { FAULT_KINDS, formatChaosReport, pickFault, StallTracker, type ChaosReport, type FaultKind, type FaultTarget } from './chaos-plan';
import { clusterServiceEnv } from './cluster-env';
import { startLocalNatsCluster, type LocalNatsCluster } from './local-nats-cluster';
import { startLocalRedisCluster, type LocalRedisCluster } from './local-redis-cluster';
import { restartablePort } from './local-servers';
import { serviceArgv } from './services';
import { UsageError } from './usage';

export const CHAOS_USAGE = `Usage: tidemark chaos [options]
  --seconds N        traffic and faults for N seconds (default 60)
  --rate R           events per second (default 300)
  --fault-every S    a fault every S seconds (default 6)
  --partitions P     partitions (default 8)
  --seed N           traffic and faults (default 1)
  --faults KINDS     which faults, comma-separated: service,nats,redis,pause,nats-pause (default
                     service,nats,redis; pause: a service instance or Redis master frozen 7-10 s, then
                     resumed; nats-pause: a nats-server frozen so — nats-server 2.9.10 can lose track of
                     its own log under it: docs/scale-out.md "When the broker rewrites its log")
  --dir PATH         where the servers' data and every process's log go (default: a temporary folder)
  --keep             keep that folder (logs) after the run (kept anyway when the run is not exact)
Starts its own servers on free loopback ports (nothing else is touched); exits 1 unless the run was exact.`;

const BIN = path.resolve(__dirname, '..', '..', '..', '..', 'bin', 'tidemark.js');
const INSTANCES: Record<string, number> = { ingestion: 2, dedup: 2, aggregation: 2, recommendation: 2, alerting: 2 };
const PORT_VAR: Record<string, string> = { ingestion: 'INGESTION_PORT', dedup: 'DEDUP_PORT', aggregation: 'AGGREGATION_PORT', recommendation: 'RECOMMENDATION_PORT', alerting: 'ALERTING_PORT' };
const BOUND_MS = 10_000;
/** Services with one active instance (a leader lease); the others wait as standbys. */
const SINGLETONS = new Set(['alerting']);

/** One service instance as its own process, killed and started again by the run. */
class Instance {
  child: ChildProcess | undefined;
  maxRssKb = 0;

  constructor(
    readonly service: string,
    readonly name: string,
    readonly port: number,
    private readonly env: NodeJS.ProcessEnv,
    private readonly log: fs.WriteStream,
  ) {}

  get url(): string {
    return `http://127.0.0.1:${this.port}`;
  }

  get running(): boolean {
    return this.child !== undefined && this.child.exitCode === null && this.child.signalCode === null;
  }

  async start(): Promise<void> {
    const child = spawn(process.execPath, serviceArgv(BIN, this.service), { env: this.env, stdio: ['ignore', 'pipe', 'pipe'] });
    child.stdout!.pipe(this.log, { end: false });
    child.stderr!.pipe(this.log, { end: false });
    this.child = child;
    const deadline = Date.now() + 60_000;
    // A singleton's standby (alerting: one leader) waits for the lease before it serves: alive is enough.
    const standbyAfter = SINGLETONS.has(this.service) ? Date.now() + 3000 : Infinity;
    while (Date.now() < deadline) {
      if (!this.running) throw new Error(`${this.name} exited while starting (see its log)`);
      if (await ok(`${this.url}/health/ready`)) return;
      if (Date.now() > standbyAfter) return;
      await sleep(200);
    }
    throw new Error(`${this.name} not ready after 60 s`);
  }

  async kill(signal: NodeJS.Signals = 'SIGKILL'): Promise<void> {
    const child = this.child;
    if (!child || !this.running) return;
    const gone = new Promise((r) => child.once('exit', r));
    child.kill(signal);
    await gone;
  }

  /** Peak resident memory so far (VmHWM of the current process). */
  sampleRss(): void {
    const pid = this.child?.pid;
    if (!pid || !this.running) return;
    try {
      const m = /VmHWM:\s+(\d+) kB/.exec(fs.readFileSync(`/proc/${pid}/status`, 'utf8'));
      if (m) this.maxRssKb = Math.max(this.maxRssKb, Number(m[1]));
    } catch {
      // just exited
    }
  }
}

export async function chaos(args: string[]): Promise<number> {
  const { values } = parseArgs({
    args,
    options: {
      seconds: { type: 'string', default: '60' },
      rate: { type: 'string', default: '300' },
      'fault-every': { type: 'string', default: '6' },
      partitions: { type: 'string', default: '8' },
      seed: { type: 'string', default: '1' },
      faults: { type: 'string', default: 'service,nats,redis' },
      dir: { type: 'string' },
      keep: { type: 'boolean', default: false },
      help: { type: 'boolean', default: false },
    },
  });
  if (values.help) {
    console.log(CHAOS_USAGE);
    return 0;
  }
  const num = (name: string, v: string | undefined, min: number, max: number): number => {
    const n = Number(v);
    if (!Number.isFinite(n) || n < min || n > max) throw new UsageError(`--${name} must be a number from ${min} to ${max}, not "${v}"`);
    return n;
  };
  const seconds = num('seconds', values.seconds, 5, 86_400);
  const rate = num('rate', values.rate, 1, 100_000);
  const faultEveryMs = num('fault-every', values['fault-every'], 1, 3600) * 1000;
  const partitions = num('partitions', values.partitions, 1, 256);
  const seed = num('seed', values.seed, 0, 2 ** 32);
  const kinds = new Set(values.faults!.split(',').map((k) => k.trim()));
  for (const k of kinds) if (!(FAULT_KINDS as readonly string[]).includes(k)) throw new UsageError(`--faults takes ${FAULT_KINDS.join(', ')}, not "${k}"`);
  const dir = values.dir ? path.resolve(values.dir) : fs.mkdtempSync(path.join(os.tmpdir(), 'tidemark-chaos-'));
  fs.mkdirSync(dir, { recursive: true });
  const say = (line: string) => console.log(`tidemark chaos: ${line}`);

  say(`servers and logs in ${dir}`);
  let nats: LocalNatsCluster | undefined;
  let redis: LocalRedisCluster | undefined;
  /** Whether the run came out exact: a run that did not keeps its folder (the logs) for whoever looks into it. */
  let exact = false;
  const instances: Instance[] = [];
  const logs: fs.WriteStream[] = [];
  // Interrupted (Ctrl-C, a timeout's SIGTERM): no server or service of the run may outlive it.
  const killAll = () => {
    const pids = [...instances.map((x) => x.child?.pid), ...(nats?.nodes.map((n) => n.pid) ?? []), ...(redis?.nodes.map((n) => n.pid) ?? [])];
    for (const pid of pids) {
      try {
        if (pid) process.kill(pid, 'SIGKILL');
      } catch {
        // gone already
      }
    }
  };
  const onSignal = () => {
    killAll();
    process.exit(130);
  };
  process.once('SIGINT', onSignal);
  process.once('SIGTERM', onSignal);
  try {
    // Both started together; if one fails, the other is kept so that `finally` stops it (no servers left behind).
    const [startedNats, startedRedis] = await Promise.allSettled([startLocalNatsCluster({ size: 3, dataDir: path.join(dir, 'nats') }), startLocalRedisCluster({ masters: 3, replicasPerMaster: 1, dataDir: path.join(dir, 'redis'), persistence: true })]);
    if (startedNats.status === 'fulfilled') nats = startedNats.value;
    if (startedRedis.status === 'fulfilled') redis = startedRedis.value;
    if (startedNats.status === 'rejected') throw startedNats.reason;
    if (startedRedis.status === 'rejected') throw startedRedis.reason;
    if (!nats || !redis) throw new Error('unreachable: both clusters started');
    say(`NATS cluster ${nats.urls}; Redis Cluster ${redis.seeds}`);
    const common: NodeJS.ProcessEnv = {
      ...clusterServiceEnv(nats.urls, redis.seeds, partitions),
      MAX_OUT_OF_ORDERNESS_MS: String(BOUND_MS),
      ALLOWED_LATENESS_MS: String(30 * 60_000),
      WATERMARK_IDLE_ADVANCE: 'off',
      // the closing heartbeats are 3 h ahead of the traffic (they push every window past its end)
      INGESTION_MAX_FUTURE_MS: String(4 * 3_600_000),
      IDLE_TIMEOUT_MS: '3600000',
    };
    const taken = new Set<number>();
    for (const [service, n] of Object.entries(INSTANCES)) {
      for (let i = 1; i <= n; i++) {
        // Out of the ephemeral range: a killed instance starts again on the same ports.
        const port = await restartablePort(taken);
        const env: NodeJS.ProcessEnv = { ...common, [PORT_VAR[service]]: String(port) };
        if (service === 'ingestion') env.INGESTION_TCP_PORT = String(await restartablePort(taken));
        const log = fs.createWriteStream(path.join(dir, `${service}-${i}.log`), { flags: 'a' });
        logs.push(log);
        instances.push(new Instance(service, `${service}-${i}`, port, env, log));
      }
    }
    // In pipeline order: each waits for its streams; two of a kind start together.
    for (const service of Object.keys(INSTANCES)) await Promise.all(instances.filter((x) => x.service === service).map((x) => x.start()));
    say(`${instances.length} service instances up; traffic for ${seconds} s at ${rate} events/s, a fault every ${faultEveryMs / 1000} s`);

    const ingestion = instances.filter((x) => x.service === 'ingestion');
    const aggregation = instances.filter((x) => x.service === 'aggregation');
    const accepted = new Map<string, TidemarkEvent>();
    let sent = 0;
    /** Events sent again after an attempt failed (ingestion down, NATS electing a leader): at-least-once sends. */
    let resent = 0;
    let next = 0;
    /** Sends one batch until an ingestion instance accepts it (the same events again: dedup drops repeats). */
    const send = async (events: TidemarkEvent[]): Promise<void> => {
      const body = events.map((e) => JSON.stringify(e)).join('\n');
      for (;;) {
        const target = ingestion[next++ % ingestion.length];
        try {
          const res = await fetch(`${target.url}/v1/events`, { method: 'POST', headers: { 'content-type': 'application/x-ndjson' }, body, signal: AbortSignal.timeout(10_000) });
          const reply = (await res.json()) as { rejected?: unknown[] };
          if ((reply.rejected ?? []).length > 0) throw new RejectedError(`ingestion rejected events: ${JSON.stringify(reply.rejected).slice(0, 500)}`);
          if (res.status === 202) break;
        } catch (e) {
          if (e instanceof RejectedError) throw e;
          // that instance is down or restarting: the other one
        }
        resent += events.length;
        await sleep(100);
      }
      sent += events.length;
      for (const e of events) accepted.set(e.id, e);
    };

    const random = new Random(seed);
    // A session yields about 3 events a second: ask for more than the rate, and cap each second at it.
    const sim = new ShopSimulator({ seed, sessionsPerSecond: Math.max(1, rate / 2) });
    const stalls = new StallTracker();
    const faults: Record<FaultKind, number> = { service: 0, nats: 0, redis: 0, pause: 0, 'nats-pause': 0 };
    const started = Date.now();
    const end = started + seconds * 1000;
    let stop = false;

    const traffic = (async () => {
      let perSecond = 0;
      let windowStart = Date.now();
      while (Date.now() < end && !stop) {
        const tickAt = Date.now();
        let events = sim.tick(tickAt);
        // Hold the rate: the simulator's sessions are bursty.
        if (tickAt - windowStart >= 1000) {
          windowStart = tickAt;
          perSecond = 0;
        }
        events = events.slice(0, Math.max(0, rate - perSecond));
        perSecond += events.length;
        if (events.length > 0) await send(events);
        const wait = 100 - (Date.now() - tickAt);
        if (wait > 0) await sleep(wait);
      }
    })();

    const monitor = (async () => {
      while (!stop) {
        for (const x of instances) x.sampleRss();
        stalls.sample(Date.now(), await watermarkOf(aggregation));
        await sleep(500);
      }
    })();

    const faultLoop = (async () => {
      await sleep(faultEveryMs);
      while (Date.now() < end - faultEveryMs / 2 && !stop) {
        const targets: FaultTarget[] = [
          ...instances.map((x) => ({ kind: 'service' as const, name: x.name })),
          ...nats!.nodes.map((n) => ({ kind: 'nats' as const, name: n.name })),
          { kind: 'redis' as const, name: 'a master' },
          { kind: 'pause' as const, name: 'a service instance or Redis master' },
          { kind: 'nats-pause' as const, name: 'a nats-server' },
        ].filter((t) => kinds.has(t.kind));
        const t = pickFault(random, targets)!;
        const downMs = random.int(500, 3000);
        try {
          if (t.kind === 'service') {
            const x = instances.find((i) => i.name === t.name)!;
            await x.kill();
            say(`fault: kill -9 ${x.name}`);
            await sleep(downMs);
            await x.start();
          } else if (t.kind === 'nats') {
            const n = nats!.nodes.find((i) => i.name === t.name)!;
            await n.kill();
            say(`fault: kill -9 nats-server ${n.name}`);
            await sleep(downMs);
            await n.start();
          } else if (t.kind === 'pause' || t.kind === 'nats-pause') {
            // Longer than PARTITION_LEASE_MS (6 s): a paused instance's partitions are taken over while it sleeps.
            const pauseMs = random.int(7000, 10_000);
            const what = t.kind === 'nats-pause' ? 'nats' : random.pick(['service', 'redis'] as const);
            let pid: number | undefined;
            let name: string;
            if (what === 'service') {
              const x = random.pick(instances.filter((i) => i.running));
              [pid, name] = [x.child?.pid, x.name];
            } else if (what === 'nats') {
              const n = random.pick(nats!.nodes.filter((i) => i.running));
              [pid, name] = [n.pid, `nats-server ${n.name}`];
            } else {
              const master = await redis!.masterOf(`{p${random.int(0, partitions - 1)}}`);
              [pid, name] = [master.pid, `redis master :${master.port}`];
            }
            if (pid === undefined) throw new Error(`no running ${what} to pause`);
            process.kill(pid, 'SIGSTOP');
            say(`fault: pause ${name} for ${(pauseMs / 1000).toFixed(1)} s`);
            try {
              await sleep(pauseMs);
            } finally {
              process.kill(pid, 'SIGCONT');
            }
            if (what === 'redis') await redis!.waitHealthy(60_000);
          } else {
            const master = await redis!.masterOf(`{p${random.int(0, partitions - 1)}}`);
            await master.kill();
            say(`fault: kill -9 redis master :${master.port}`);
            await sleep(downMs);
            await master.start();
            await redis!.waitHealthy(60_000);
          }
          faults[t.kind]++;
        } catch (e) {
          say(`fault ${t.kind} ${t.name}: ${(e as Error).message}`);
        }
        await sleep(faultEveryMs);
      }
    })();

    await traffic;
    stop = true;
    await Promise.all([faultLoop, monitor]);
    // Everything back up before the final check.
    for (const n of nats.nodes) if (!n.running) await n.start();
    for (const n of redis.nodes) if (!n.running) await n.start();
    await redis.waitHealthy(60_000);
    for (const x of instances) if (!x.running) await x.start();

    // Push every partition's watermark past every window of the run, then compare.
    const trafficTotals = { sent, resent, accepted: accepted.size };
    const trafficIds = [...accepted.keys()];
    let lastTs = 0;
    for (const e of accepted.values()) if (e.ts > lastTs) lastTs = e.ts; // (a spread of 180 K values overflows the stack)
    const far = lastTs + 3 * 3_600_000;
    const hb = heartbeats(far, `chaos-${started}`, partitions);
    await send(hb);
    const lastFinalEnd = far - BOUND_MS;
    say('traffic over; waiting for every window to fire');
    const deadline = Date.now() + 180_000;
    while ((await watermarkOf(aggregation)) !== lastFinalEnd && Date.now() < deadline) {
      for (const x of instances) x.sampleRss();
      await sleep(500);
    }
    const events = [...accepted.values()];
    const reference = computeReference(events, () => true);
    // Results settle once the firer has published every window the watermark passed.
    let comparison = compareWindows(reference, () => [], lastFinalEnd);
    while (Date.now() < deadline) {
      const results = new Map<string, WindowResultDto[]>();
      for (const m of REFERENCE_METRICS) results.set(m.name, await resultsOf(aggregation, m.name));
      comparison = compareWindows(reference, (m) => results.get(m) ?? [], lastFinalEnd);
      if (comparison.mismatches.length === 0) break;
      await sleep(2000);
    }
    const maxRssKb: Record<string, number> = {};
    for (const x of instances) maxRssKb[x.service] = Math.max(maxRssKb[x.service] ?? 0, x.maxRssKb);
    const report: ChaosReport = {
      seconds,
      rate,
      events: { sent: trafficTotals.sent, resent: trafficTotals.resent, accepted: trafficTotals.accepted, counted: comparison.events.counted, lost: comparison.events.lost, doubled: comparison.events.doubled },
      windows: { compared: comparison.windows, differing: comparison.mismatches.length },
      faults,
      longestStallMs: stalls.longestMs,
      maxRssKb,
      firstMismatches: comparison.mismatches.slice(0, 10).map((m) => `${m.metric} ${m.window}: ${m.problem}${m.problem === 'value' ? ` (want ${short(m.want)}, got ${short(m.got)})` : ''}`),
    };
    console.log(formatChaosReport(report));
    if (report.events.lost > 0 || report.events.doubled > 0) {
      // Where did they go? The ids each stream holds, against what ingestion accepted.
      const accepted = new Set(trafficIds);
      const held = new Map<string, StreamId[]>();
      for (const stream of [streams.raw.name, streams.clean.name, streams.late.name]) {
        const ids = await streamIds(nats.urls, stream).catch((e) => new Error((e as Error).message));
        if (ids instanceof Error) {
          say(`${stream}: not read (${ids.message})`);
          continue;
        }
        held.set(stream, ids);
        const distinct = new Set(ids.map((x) => x.id));
        const missing = [...accepted].filter((id) => !distinct.has(id));
        say(`${stream}: ${ids.length} events, ${distinct.size} distinct; of the accepted ids ${missing.length} missing${missing.length ? ` (${missing.slice(0, 5).join(', ')})` : ''}`);
      }
      // Accepted, in the raw stream, not in the clean one: where the raw stream holds them, and what dedup claimed.
      const clean = new Set((held.get(streams.clean.name) ?? []).map((x) => x.id));
      const dropped = [...accepted].filter((id) => !clean.has(id));
      if (dropped.length > 0) {
        const account = await describeClaims(redis.seeds, held.get(streams.raw.name) ?? [], dropped.slice(0, 20)).catch((e) => new Error((e as Error).message));
        if (account instanceof Error) say(`dedup's claims: not read (${account.message})`);
        else {
          for (const line of account.lines) say(`not forwarded: ${line}`);
          if (account.rewritten > 0) {
            say(`${account.rewritten} of these ${account.lines.length} were claimed by dedup at a raw sequence that holds another event now: the raw stream's history changed after it was delivered (the broker served two histories; docs/scale-out.md "When the broker rewrites its log")`);
          }
        }
      }
    }
    exact = report.events.lost === 0 && report.events.doubled === 0 && report.windows.differing === 0;
    if (!exact && !values.keep && !values.dir) say(`not exact: servers' and services' logs kept in ${dir}`);
    return exact ? 0 : 1;
  } finally {
    process.off('SIGINT', onSignal);
    process.off('SIGTERM', onSignal);
    await Promise.all(instances.map((x) => x.kill('SIGTERM').catch(() => undefined)));
    for (const l of logs) l.end();
    await Promise.all([nats?.stop(), redis?.stop()]);
    if (!values.keep && !values.dir && exact) fs.rmSync(dir, { recursive: true, force: true });
  }
}

/** Every event id a stream holds (frames' indexes, or a single JSON event's id), read with an ordered consumer. */
async function streamIds(servers: string, stream: string): Promise<StreamId[]> {
  const nc = await connect({ servers: servers.split(','), noAsyncTraces: true });
  try {
    const js = jetstream(nc);
    const total = (await (await js.jetstreamManager()).streams.info(stream)).state.messages;
    const consumer = await js.consumers.get(stream);
    const ids: StreamId[] = [];
    for (let n = 0; n < total; n++) {
      const m = await consumer.next({ expires: 5000 });
      if (!m) break;
      const at = { seq: m.seq, subject: m.subject };
      try {
        const data = m.data;
        if (isFrame(data)) for (const id of decodeFrame(data).ids) ids.push({ id: id.toString(), ...at });
        else {
          // a single JSON event, or a late-output record {metric, event}
          const v = JSON.parse(Buffer.from(data).toString()) as { id?: unknown; event?: { id?: unknown } };
          ids.push({ id: String(v.id ?? v.event?.id), ...at });
        }
      } catch {
        // not an event
      }
    }
    return ids;
  } finally {
    await nc.close();
  }
}

async function ok(url: string): Promise<boolean> {
  try {
    const res = await fetch(url, { signal: AbortSignal.timeout(2000) });
    await res.arrayBuffer();
    return res.status === 200;
  } catch {
    return false;
  }
}

/** The operator watermark, from whichever aggregation instance answers (null: none). */
async function watermarkOf(aggregation: readonly Instance[]): Promise<number | null> {
  for (const x of aggregation) {
    if (!x.running) continue;
    try {
      const res = await fetch(`${x.url}/v1/watermark`, { signal: AbortSignal.timeout(2000) });
      if (res.status === 200) return ((await res.json()) as { watermark: number | null }).watermark;
    } catch {
      // the other one
    }
  }
  return null;
}

/** Every result of a metric (all pages), from whichever aggregation instance answers. */
async function resultsOf(aggregation: readonly Instance[], metric: string): Promise<WindowResultDto[]> {
  for (const x of aggregation) {
    if (!x.running) continue;
    try {
      const out: WindowResultDto[] = [];
      let url: string | undefined = `${x.url}/v1/metrics/${metric}?limit=10000`;
      while (url) {
        const res: Response = await fetch(url, { signal: AbortSignal.timeout(10_000) });
        if (res.status !== 200) throw new Error(`${res.status}`);
        out.push(...((await res.json()) as WindowResultDto[]));
        const cursor = res.headers.get('x-tidemark-next-cursor');
        url = cursor ? `${x.url}/v1/metrics/${metric}?limit=10000&cursor=${encodeURIComponent(cursor)}` : undefined;
      }
      return out;
    } catch {
      // the other one
    }
  }
  return [];
}

class RejectedError extends Error {}

function short(v: unknown): string {
  const text = JSON.stringify(v) ?? String(v);
  return text.length > 200 ? `${text.slice(0, 200)}…` : text;
}

function sleep(ms: number): Promise<void> {
  return new Promise((r) => setTimeout(r, ms));
}
