/** Shared pieces of the benchmarks: private servers, timing, formatting. */
import { ChildProcess, spawn } from 'node:child_process';
import * as fs from 'node:fs';
import * as net from 'node:net';
import * as os from 'node:os';
import * as path from 'node:path';
import { LocalServer, ensureLocalServers } from '../apps/cli/src/local-servers';
import { serviceArgv } from '../apps/cli/src/services';

export function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const srv = net.createServer();
    srv.once('error', reject);
    srv.listen(0, '127.0.0.1', () => {
      const { port } = srv.address() as net.AddressInfo;
      srv.close(() => resolve(port));
    });
  });
}

export interface BenchServers {
  natsUrl: string;
  redisUrl: string;
  /** nats-server's monitoring endpoint (`/varz`), e.g. `http://127.0.0.1:8222`. */
  natsMonitorUrl: string;
  natsPid: number;
  redisPid: number;
  stop(): Promise<void>;
}

/** A private nats-server and redis-server on free ports, data in a temp folder: the bench disturbs nothing. */
export async function startBenchServers(): Promise<BenchServers> {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'tidemark-bench-'));
  const natsUrl = `nats://127.0.0.1:${await freePort()}`;
  const redisUrl = `redis://127.0.0.1:${await freePort()}`;
  const monitor = await freePort();
  const { started } = await ensureLocalServers(natsUrl, redisUrl, dir, { natsMonitorPort: monitor });
  const pid = (name: string) => started.find((s) => s.name === name)!.process.pid!;
  return {
    natsUrl,
    redisUrl,
    natsMonitorUrl: `http://127.0.0.1:${monitor}`,
    natsPid: pid('nats-server'),
    redisPid: pid('redis-server'),
    stop: async () => {
      for (const s of [...started].reverse() as LocalServer[]) await s.stop();
      fs.rmSync(dir, { recursive: true, force: true });
    },
  };
}

const BIN = path.resolve(__dirname, '..', '..', 'bin', 'tidemark.js');

/** Services started by the bench: killed if the bench exits first (one exit hook for all of them). */
const running = new Set<ChildProcess>();
process.once('exit', () => {
  for (const c of running) c.kill('SIGKILL');
});

/**
 * Runs `tidemark service <name>` as its own process and waits for /health/ready. `BENCH_NODE_ARGS` adds node
 * flags to the services, e.g. `BENCH_NODE_ARGS="--cpu-prof --cpu-prof-dir=/tmp/prof"` to profile them.
 */
export async function startService(name: string, env: Record<string, string>, readyUrl: string): Promise<ChildProcess> {
  // (the pid of the returned child is the service's own node process: cpuMicros(child.pid) measures it)
  const nodeArgs = (process.env.BENCH_NODE_ARGS ?? '').split(' ').filter(Boolean);
  const child = spawn(process.execPath, serviceArgv(BIN, name, nodeArgs), { env: { ...process.env, LOG_LEVEL: 'warn', ...env }, stdio: ['ignore', 'inherit', 'inherit'] });
  running.add(child);
  child.once('exit', () => running.delete(child));
  const deadline = Date.now() + 30_000;
  for (;;) {
    try {
      const r = await fetch(readyUrl);
      if (r.status === 200) return child;
    } catch {
      // not yet
    }
    if (child.exitCode !== null) throw new Error(`${name} exited with ${child.exitCode}`);
    if (Date.now() > deadline) throw new Error(`${name} not ready`);
    await new Promise((r) => setTimeout(r, 100));
  }
}

export async function stopChild(child: ChildProcess): Promise<void> {
  if (child.exitCode !== null) return;
  const exited = new Promise((r) => child.once('exit', r));
  child.kill('SIGTERM');
  await exited;
}

export function rate(count: number, ms: number): number {
  return Math.round((count / ms) * 1000);
}

export function fmt(n: number): string {
  return n.toLocaleString('en-US');
}

/**
 * `count` events of simulated shop traffic (seeded: the same every run for a seed): Zipf-popular products, sessions
 * through the funnel, orders and payments, in event-time order from `base`.
 */
export function shopEvents(count: number, runId: string, base: number, seed = 42): Record<string, unknown>[] {
  // Imported here so the ingest benchmark does not load the simulator.
  const { ShopSimulator } = require('@tidemark/simulator') as typeof import('@tidemark/simulator');
  const sim = new ShopSimulator({ seed, sessionsPerSecond: 400, products: 2000, users: 50_000 });
  const out: Record<string, unknown>[] = [];
  for (let t = base; out.length < count; t += 100) {
    for (const e of sim.tick(t)) {
      if (out.length === count) break;
      out.push({ ...e, id: `${runId}-${e.id}` });
    }
  }
  return out;
}

/** A realistic ~250-byte event. */
export function sampleEvent(i: number, now: number, runId: string): Record<string, unknown> {
  return {
    id: `${runId}-${i}`,
    type: i % 10 === 0 ? 'add_to_cart' : 'product_view',
    ts: now - (i % 5000),
    userId: `user-${i % 5000}`,
    sessionId: `session-${i % 20000}`,
    productId: `product-${(i * 7919) % 10000}`,
    categoryId: `category-${i % 50}`,
    price: 19.99 + (i % 100),
    quantity: 1,
  };
}

/** CPU time a process has used in user and in kernel (system) mode, µs, from /proc/<pid>/stat (clock ticks of 10 ms on Linux). */
export function cpuSplitMicros(pid: number): { user: number; kernel: number } {
  const stat = fs.readFileSync(`/proc/${pid}/stat`, 'utf8');
  // Fields after the command name (which may hold spaces) start at its closing parenthesis.
  const f = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
  return { user: Number(f[11]) * 10_000, kernel: Number(f[12]) * 10_000 };
}

/** CPU time a process has used (user + system), µs. */
export function cpuMicros(pid: number): number {
  const { user, kernel } = cpuSplitMicros(pid);
  return user + kernel;
}

/** CPU µs so far of each named process. */
export function cpuOfAll(pids: Record<string, number>): Record<string, number> {
  return Object.fromEntries(Object.entries(pids).map(([k, pid]) => [k, cpuMicros(pid)]));
}

/** CPU µs of each named process since `from` (a cpuOfAll snapshot), divided by `per`. */
export function cpuSince(pids: Record<string, number>, from: Record<string, number>, per: number): Record<string, number> {
  return Object.fromEntries(Object.entries(pids).map(([k, pid]) => [k, (cpuMicros(pid) - from[k]) / per]));
}

/** Messages in + out of nats-server since it started (`/varz`). */
export async function natsMessages(monitorUrl: string): Promise<number> {
  const v = (await (await fetch(`${monitorUrl}/varz`)).json()) as { in_msgs: number; out_msgs: number };
  return v.in_msgs + v.out_msgs;
}

/** Messages in + out of nats-server by client connection name (`/connz`): which service moves how many. */
export async function natsMessagesByClient(monitorUrl: string): Promise<Record<string, number>> {
  const c = (await (await fetch(`${monitorUrl}/connz?limit=4096`)).json()) as { connections?: { name?: string; in_msgs: number; out_msgs: number }[] };
  const out: Record<string, number> = {};
  for (const x of c.connections ?? []) {
    const name = x.name ?? '(unnamed)';
    out[name] = (out[name] ?? 0) + x.in_msgs + x.out_msgs;
  }
  return out;
}

/** Calls per command since Redis started (INFO commandstats; commands run inside scripts included). */
export async function redisCommandCalls(redis: { info(section: string): Promise<string> }): Promise<Record<string, number>> {
  const out: Record<string, number> = {};
  for (const m of (await redis.info('commandstats')).matchAll(/^cmdstat_([^:]+):calls=(\d+)/gm)) out[m[1]] = Number(m[2]);
  return out;
}

/** Bytes Redis has read from its clients (INFO stats total_net_input_bytes). */
export async function redisInputBytes(redis: { info(section: string): Promise<string> }): Promise<number> {
  return Number(/total_net_input_bytes:(\d+)/.exec(await redis.info('stats'))![1]);
}

/** Commands Redis has run since it started (INFO commandstats; commands run inside scripts included). */
export async function redisCommands(redis: { info(section: string): Promise<string> }): Promise<number> {
  const text = await redis.info('commandstats');
  let n = 0;
  for (const m of text.matchAll(/^cmdstat_[^:]+:calls=(\d+)/gm)) n += Number(m[1]);
  return n;
}

export function median(values: number[]): number {
  const s = [...values].sort((a, b) => a - b);
  return s.length === 0 ? NaN : s.length % 2 ? s[(s.length - 1) / 2] : (s[s.length / 2 - 1] + s[s.length / 2]) / 2;
}
