/**
 * `tidemark up` as a new user runs it: nothing answers at NATS_URL / REDIS_URL, so it starts nats-server and
 * redis-server with their data under ./.tidemark, runs every service as a child process, and on Ctrl-C
 * (SIGINT) stops the services and the servers it started.
 */
import { ChildProcess, spawn } from 'node:child_process';
import * as fs from 'node:fs';
import * as net from 'node:net';
import * as os from 'node:os';
import * as path from 'node:path';
import { eventually } from './support/eventually';
import { freePort } from './support/free-port';

jest.setTimeout(120_000);

const BIN = path.resolve(__dirname, '..', 'bin', 'tidemark.js');

function answers(port: number): Promise<boolean> {
  return new Promise((resolve) => {
    const s = net.connect({ host: '127.0.0.1', port });
    s.once('connect', () => (s.destroy(), resolve(true)));
    s.once('error', () => resolve(false));
  });
}

let up: ChildProcess | undefined;
let dir: string;

afterAll(() => {
  up?.kill('SIGKILL');
  if (dir) fs.rmSync(dir, { recursive: true, force: true });
});

it('starts NATS, Redis and the services, and stops them all on Ctrl-C', async () => {
  dir = fs.mkdtempSync(path.join(os.tmpdir(), 'tidemark-up-'));
  const ports = Object.fromEntries(await Promise.all(['nats', 'redis', 'ing', 'tcp', 'agg', 'dedup', 'recs', 'alert', 'dash'].map(async (k) => [k, await freePort()] as const)));
  let output = '';
  up = spawn(process.execPath, [BIN, 'up'], {
    cwd: dir,
    env: {
      ...process.env,
      NATS_URL: `nats://127.0.0.1:${ports.nats}`,
      REDIS_URL: `redis://127.0.0.1:${ports.redis}`,
      INGESTION_PORT: String(ports.ing),
      INGESTION_TCP_PORT: String(ports.tcp),
      AGGREGATION_PORT: String(ports.agg),
      DEDUP_PORT: String(ports.dedup),
      RECOMMENDATION_PORT: String(ports.recs),
      ALERTING_PORT: String(ports.alert),
      DASHBOARD_PORT: String(ports.dash),
    },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  up.stdout!.on('data', (d) => (output += d));
  up.stderr!.on('data', (d) => (output += d));

  for (const [name, port] of [['ingestion', ports.ing], ['aggregation', ports.agg], ['dedup', ports.dedup], ['recommendation', ports.recs], ['alerting', ports.alert], ['dashboard', ports.dash]] as const) {
    await eventually(
      async () => {
        const r = await fetch(`http://127.0.0.1:${port}/health/ready`);
        expect({ name, status: r.status }).toEqual({ name, status: 200 });
      },
      { timeoutMs: 60_000, intervalMs: 200 },
    );
  }
  expect(output).toContain(`started nats-server -js on 127.0.0.1:${ports.nats}`);
  expect(output).toContain(`started redis-server on 127.0.0.1:${ports.redis}`);
  // every service, and its state once it is ready
  expect(output).toMatch(/running ingestion, dedup, aggregation, recommendation, alerting, dashboard/);
  for (const name of ['ingestion', 'dedup', 'aggregation', 'recommendation', 'alerting', 'dashboard']) {
    await eventually(() => expect(output).toContain(`tidemark up: ${name} ready`), { timeoutMs: 30_000 });
  }
  // at the default level, no framework start-up chatter (modules loaded, routes mapped); not a terminal: JSON lines
  expect(output).not.toMatch(/Mapped \{|dependencies initialized/);
  expect(output).toMatch(/^ingestion\s+\| \{"time":/m);
  // the dashboard's URL, printed once it answers, serves the page
  await eventually(() => expect(output).toContain(`tidemark up: dashboard ready at http://127.0.0.1:${ports.dash}/`), { timeoutMs: 60_000 });
  const page = await fetch(`http://127.0.0.1:${ports.dash}/`);
  expect(page.headers.get('content-type')).toMatch(/^text\/html/);
  expect(await page.text()).toContain('<title>');
  expect(fs.existsSync(path.join(dir, '.tidemark', 'nats'))).toBe(true);
  expect(fs.existsSync(path.join(dir, '.tidemark', 'redis'))).toBe(true);

  // An event goes all the way through.
  const res = await fetch(`http://127.0.0.1:${ports.ing}/v1/events`, {
    method: 'POST',
    headers: { 'content-type': 'application/json' },
    body: JSON.stringify({ id: 'up-1', type: 'order_placed', ts: Date.now(), userId: 'u', sessionId: 's', orderId: 'o', amount: 3.5, items: [] }),
  });
  expect(res.status).toBe(202);
  await eventually(async () => {
    const windows = (await (await fetch(`http://127.0.0.1:${ports.agg}/v1/metrics/gmv`)).json()) as { value: number }[];
    expect(windows.map((w) => w.value)).toEqual([3.5]);
  });

  const exited = new Promise<number | null>((resolve) => up!.once('exit', (code) => resolve(code)));
  up.kill('SIGINT');
  expect(await exited).toBe(0);
  for (const port of [ports.nats, ports.redis, ports.ing, ports.agg, ports.dedup, ports.recs, ports.alert, ports.dash]) expect(await answers(port)).toBe(false);
});

it('--cluster: a local 3-server NATS cluster with R3 streams and a 6-node Redis Cluster under every service, all stopped on Ctrl-C', async () => {
  const clusterDir = fs.mkdtempSync(path.join(os.tmpdir(), 'tidemark-up-cluster-'));
  const ports = Object.fromEntries(await Promise.all(['ing', 'tcp', 'agg', 'dedup', 'recs', 'alert', 'dash'].map(async (k) => [k, await freePort()] as const)));
  let output = '';
  const child = spawn(process.execPath, [BIN, 'up', '--cluster'], {
    cwd: clusterDir,
    env: {
      ...process.env,
      INGESTION_PORT: String(ports.ing),
      INGESTION_TCP_PORT: String(ports.tcp),
      AGGREGATION_PORT: String(ports.agg),
      DEDUP_PORT: String(ports.dedup),
      RECOMMENDATION_PORT: String(ports.recs),
      ALERTING_PORT: String(ports.alert),
      DASHBOARD_PORT: String(ports.dash),
    },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  up = child;
  child.stdout!.on('data', (d) => (output += d));
  child.stderr!.on('data', (d) => (output += d));
  try {
    for (const name of ['ingestion', 'dedup', 'aggregation', 'recommendation', 'alerting', 'dashboard']) {
      await eventually(() => expect(output).toContain(`tidemark up: ${name} ready`), { timeoutMs: 60_000, intervalMs: 200 });
    }
    const m = /started a NATS cluster of 3 nats-servers, NATS_URL=(\S+) JETSTREAM_REPLICAS=3/.exec(output);
    expect(m).not.toBeNull();
    const urls = m![1].split(',');
    expect(urls).toHaveLength(3);
    const r = /started a Redis Cluster of 6 nodes \(3 masters, 3 replicas\), REDIS_MODE=cluster REDIS_URL=(\S+)/.exec(output);
    expect(r).not.toBeNull();
    const redisPorts = r![1].split(',').map((u) => Number(new URL(u).port));
    expect(redisPorts).toHaveLength(6);
    expect(output).not.toContain('started redis-server');
    expect(fs.existsSync(path.join(clusterDir, '.tidemark', 'nats-cluster', 'n3'))).toBe(true);
    expect(fs.existsSync(path.join(clusterDir, '.tidemark', 'redis-cluster'))).toBe(true);
    const { connect } = await import('@nats-io/transport-node');
    const { jetstreamManager } = await import('@nats-io/jetstream');
    const nc = await connect({ servers: urls, noAsyncTraces: true });
    try {
      const info = await (await jetstreamManager(nc)).streams.info('EVENTS_RAW');
      expect(info.config.num_replicas).toBe(3);
    } finally {
      await nc.close();
    }
    const res = await fetch(`http://127.0.0.1:${ports.ing}/v1/events`, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify({ id: 'up-c1', type: 'order_placed', ts: Date.now(), userId: 'u', sessionId: 's', orderId: 'o', amount: 2.5, items: [] }),
    });
    expect(res.status).toBe(202);
    await eventually(async () => {
      const windows = (await (await fetch(`http://127.0.0.1:${ports.agg}/v1/metrics/gmv`)).json()) as { value: number }[];
      expect(windows.map((w) => w.value)).toEqual([2.5]);
    });

    const exited = new Promise<number | null>((resolve) => child.once('exit', (code) => resolve(code)));
    child.kill('SIGINT');
    expect(await exited).toBe(0);
    const natsPorts = urls.map((u) => Number(new URL(u).port));
    for (const port of [...natsPorts, ...redisPorts, ports.ing, ports.agg, ports.dedup, ports.recs, ports.alert, ports.dash]) expect(await answers(port)).toBe(false);
  } finally {
    child.kill('SIGKILL');
    fs.rmSync(clusterDir, { recursive: true, force: true });
  }
});
