/** Shared pieces of the benchmarks: private servers, timing, formatting. */
import { ChildProcess, spawn } from 'node:child_process';
import * as fs from 'node:fs';
import * as net from 'node:net';
import * as os from 'node:os';
import * as path from 'node:path';
import { LocalServer, ensureLocalServers } from '../apps/cli/src/local-servers';

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
  stop(): Promise<void>;
}

/** A private nats-server and redis-server on free ports, data in a temp folder: the bench disturbs nothing. */
export async function startBenchServers(): Promise<BenchServers> {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'tidemark-bench-'));
  const natsUrl = `nats://127.0.0.1:${await freePort()}`;
  const redisUrl = `redis://127.0.0.1:${await freePort()}`;
  const { started } = await ensureLocalServers(natsUrl, redisUrl, dir);
  return {
    natsUrl,
    redisUrl,
    stop: async () => {
      for (const s of [...started].reverse() as LocalServer[]) await s.stop();
      fs.rmSync(dir, { recursive: true, force: true });
    },
  };
}

const BIN = path.resolve(__dirname, '..', '..', 'bin', 'tidemark.js');

/**
 * Runs `tidemark service <name>` as its own process and waits for /health/ready. `BENCH_NODE_ARGS` adds node
 * flags to the services, e.g. `BENCH_NODE_ARGS="--cpu-prof --cpu-prof-dir=/tmp/prof"` to profile them.
 */
export async function startService(name: string, env: Record<string, string>, readyUrl: string): Promise<ChildProcess> {
  const nodeArgs = (process.env.BENCH_NODE_ARGS ?? '').split(' ').filter(Boolean);
  const child = spawn(process.execPath, [...nodeArgs, BIN, 'service', name], { env: { ...process.env, LOG_LEVEL: 'warn', ...env }, stdio: ['ignore', 'inherit', 'inherit'] });
  process.once('exit', () => child.kill('SIGKILL'));
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
 * `count` events of simulated shop traffic (seeded: the same every run): Zipf-popular products, sessions
 * through the funnel, orders and payments, in event-time order from `base`.
 */
export function shopEvents(count: number, runId: string, base: number): Record<string, unknown>[] {
  // Imported here so the ingest benchmark does not load the simulator.
  const { ShopSimulator } = require('@tidemark/simulator') as typeof import('@tidemark/simulator');
  const sim = new ShopSimulator({ seed: 42, sessionsPerSecond: 400, products: 2000, users: 50_000 });
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
