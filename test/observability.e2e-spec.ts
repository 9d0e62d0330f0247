/**
 * Observability as real processes: every service's /metrics passes Prometheus' own linter
 * (`promtool check metrics`), the shipped alert rules pass `promtool check rules`, and every expression of the
 * Grafana dashboard and the rules names only metrics the services export. The consumer lag is read from
 * JetStream at scrape time, so a consumer that stalls (its Redis gone) shows its lag growing; the watermark
 * and event-time lag are in seconds; the ingestion → applied latency is observed.
 */
import { spawnSync } from 'node:child_process';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { jetstream } from '@nats-io/jetstream';
import type { NatsConnection } from '@nats-io/nats-core';
import { chunkFrames, encodeFrame, partitionOf, subjects } from '@tidemark/contracts';
import { eventually } from './support/eventually';
import { natsClient } from './support/jetstream-read';
import { ServerHandle, startNats, startRedis } from './support/servers';
import { ALL_SERVICES, ServiceName, Stack, startStack } from './support/stack';

jest.setTimeout(120_000);

const ROOT = path.resolve(__dirname, '..');
const SERVICES = ALL_SERVICES;
const PARTITIONS = 2;
let nats: ServerHandle;
let redis: ServerHandle;
let nc: NatsConnection;
let stack: Stack;
let url: Record<ServiceName, string>;

beforeAll(async () => {
  [nats, redis] = await Promise.all([startNats(), startRedis({ persistence: true })]);
  nc = await natsClient(nats.url);
  stack = await startStack({ NATS_URL: nats.url, REDIS_URL: redis.url, PARTITIONS: String(PARTITIONS), WATERMARK_IDLE_ADVANCE: 'off' });
  url = stack.url;
});

afterAll(async () => {
  await stack?.stop();
  await nc?.close();
  await Promise.all([nats?.dispose(), redis?.dispose()]);
});

const T = Math.floor(Date.now() / 60_000) * 60_000 - 3_600_000; // an hour ago: the event-time lag is about an hour
const events = (n: number, tag: string) =>
  Array.from({ length: n }, (_, i) => ({ id: `${tag}-${i}`, type: 'product_view', ts: T + i * 100, userId: `u${i % 7}`, sessionId: `s${i % 5}`, productId: `p${i % 11}`, categoryId: 'c', price: 3 }));

async function post(list: unknown[]): Promise<void> {
  const res = await fetch(`${url.ingestion}/v1/events`, { method: 'POST', headers: { 'content-type': 'application/x-ndjson' }, body: list.map((e) => JSON.stringify(e)).join('\n') });
  expect(res.status).toBe(202);
}

const metricsOf = async (s: (typeof SERVICES)[number]) => (await fetch(`${url[s]}/metrics`)).text();

function promtool(args: string[], input?: string): { status: number | null; out: string } {
  const r = spawnSync('promtool', args, { input, encoding: 'utf8' });
  if (r.error) throw new Error(`promtool could not run (scripts/ensure.sh installs Debian's prometheus package): ${r.error.message}`);
  return { status: r.status, out: `${r.stdout}${r.stderr}`.trim() };
}

it('every service exports metrics that promtool check metrics accepts', async () => {
  await post(events(200, 'lint'));
  for (const s of SERVICES) {
    const text = await metricsOf(s);
    expect(text).toMatch(/^process_cpu_seconds_total/m); // Node's defaults, standard names
    expect(text).not.toMatch(/^tidemark_process_|^tidemark_nodejs_/m);
    expect([s, promtool(['check', 'metrics'], text)]).toEqual([s, { status: 0, out: '' }]);
  }
});

it('ships alert rules and a Grafana dashboard that promtool accepts and that name only exported metrics', async () => {
  expect(promtool(['check', 'rules', path.join(ROOT, 'deploy/prometheus/rules.yml')])).toMatchObject({ status: 0 });
  const dashboard = JSON.parse(fs.readFileSync(path.join(ROOT, 'deploy/grafana/tidemark.json'), 'utf8')) as { panels: { targets: { expr: string }[] }[] };
  const exprs = [...dashboard.panels.flatMap((p) => p.targets.map((t) => t.expr)), ...[...fs.readFileSync(path.join(ROOT, 'deploy/prometheus/rules.yml'), 'utf8').matchAll(/expr: (.*)$/gm)].map((m) => m[1])];
  const exported = new Set<string>();
  for (const s of SERVICES) for (const m of (await metricsOf(s)).matchAll(/^# TYPE (\S+) (\w+)/gm)) exported.add(m[1]);
  const named = new Set(exprs.flatMap((e) => [...e.matchAll(/\b((?:tidemark|process|nodejs)_[a-z0-9_]+?)(?:_bucket|_count|_sum)?\b(?=[{[\s)]|$)/g)].map((m) => m[1])));
  expect(named.size).toBeGreaterThan(5);
  expect([...named].filter((n) => !exported.has(n))).toEqual([]);
});

it('reads the consumer lag from JetStream at scrape time: a stalled consumer shows it growing, then drains', async () => {
  const lagOf = async (durable: string) => Number(new RegExp(`^tidemark_consumer_lag\\{[^}]*durable="${durable}"[^}]*\\} (\\S+)`, 'm').exec(await metricsOf('dedup'))?.[1] ?? NaN);
  const p = partitionOf('stall-visit', PARTITIONS);
  await eventually(async () => expect(await lagOf(`dedup-p${p}`)).toBe(0));
  await redis.kill(); // dedup can claim nothing now: it retries, and the frames wait
  const list = events(300, 'stall').map((e) => ({ ...e, sessionId: 'stall-visit' }));
  const js = jetstream(nc);
  for (const f of chunkFrames(list.map((e) => ({ id: Buffer.from(e.id), body: Buffer.from(JSON.stringify(e)) })), { maxEvents: 50, maxBytes: 1 << 20 })) {
    await js.publish(subjects.raw(p), encodeFrame(f));
  }
  await eventually(async () => expect(await lagOf(`dedup-p${p}`)).toBeGreaterThan(0));
  await redis.start();
  await eventually(async () => expect(await lagOf(`dedup-p${p}`)).toBe(0), { timeoutMs: 60_000 });
});

it('reports the watermark and the event-time lag in seconds, and the ingestion → applied latency', async () => {
  await post(events(50, 'wm'));
  await eventually(async () => {
    const text = await metricsOf('aggregation');
    const wm = Number(/^tidemark_watermark_seconds\{[^}]*\} (\S+)/m.exec(text)?.[1]);
    expect(wm).toBeGreaterThan(T / 1000 - 60);
    expect(wm).toBeLessThan(T / 1000 + 3600);
    const lag = Number(/^tidemark_event_time_lag_seconds\{[^}]*\} (\S+)/m.exec(text)?.[1]);
    expect(lag).toBeCloseTo(Date.now() / 1000 - wm, -1);
    expect(text).toMatch(/^tidemark_partition_watermark_seconds\{[^}]*partition="\d+"[^}]*\} \d/m);
    expect(Number(/^tidemark_pipeline_latency_seconds_count\{[^}]*\} (\d+)/m.exec(text)?.[1])).toBeGreaterThan(0);
    expect(Number(/^tidemark_pipeline_latency_seconds_count\{[^}]*\} (\d+)/m.exec(await metricsOf('recommendation'))?.[1])).toBeGreaterThan(0);
  });
});
