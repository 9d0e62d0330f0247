/**
 * The fuzz suite (README "Limits"): seeded hostile input for a bounded time against real running ingestion,
 * dedup, aggregation, recommendation and alerting processes on real NATS and Redis. Every answer is a 2xx or a
 * 4xx (no outage is injected, so no 503), every NATS reply has a status below 500, no process dies, every service
 * is ready afterwards, and every valid event an answer accepted is in events.clean exactly once (no id twice,
 * none of those refused as a whole at all). Then `tidemark fuzz` itself, briefly.
 */
import { spawn } from 'node:child_process';
import * as path from 'node:path';
import type { NatsConnection } from '@nats-io/nats-core';
import { jetstreamManager } from '@nats-io/jetstream';
import { durables, streams } from '@tidemark/contracts';
import { FuzzTargets, formatReport, runFuzz } from '../apps/cli/src/fuzz';
import { waitForQuiescence } from './support/eventually';
import { freePort } from './support/free-port';
import { natsClient, readStream } from './support/jetstream-read';
import { ServerHandle, startNats, startRedis } from './support/servers';
import { ServiceProcess, serviceProcess } from './support/service-process';

jest.setTimeout(120_000);

const SEED = Number(process.env.FUZZ_SEED ?? 14);
const SECONDS = Number(process.env.FUZZ_SECONDS ?? 25); // bounded: the whole spec stays well under 90 s
const PARTITIONS = 2;
const BIN = path.resolve(__dirname, '..', 'bin', 'tidemark.js');

let nats: ServerHandle;
let redis: ServerHandle;
let nc: NatsConnection;
let services: ServiceProcess[];
let env: Record<string, string>;
let targets: FuzzTargets;

beforeAll(async () => {
  [nats, redis] = await Promise.all([startNats(), startRedis()]);
  const p = { ingestion: await freePort(), tcp: await freePort(), aggregation: await freePort(), dedup: await freePort(), recommendation: await freePort(), alerting: await freePort() };
  const url = (port: number) => `http://127.0.0.1:${port}`;
  env = {
    NATS_URL: nats.url,
    REDIS_URL: redis.url,
    PARTITIONS: String(PARTITIONS),
    INGESTION_PORT: String(p.ingestion),
    INGESTION_TCP_PORT: String(p.tcp),
    AGGREGATION_PORT: String(p.aggregation),
    DEDUP_PORT: String(p.dedup),
    RECOMMENDATION_PORT: String(p.recommendation),
    ALERTING_PORT: String(p.alerting),
    FIRE_INTERVAL_MS: '100',
  };
  services = [
    serviceProcess('ingestion', env, `${url(p.ingestion)}/health/ready`),
    serviceProcess('dedup', env, `${url(p.dedup)}/health/ready`),
    serviceProcess('aggregation', env, `${url(p.aggregation)}/health/ready`),
    serviceProcess('recommendation', env, `${url(p.recommendation)}/health/ready`),
    serviceProcess('alerting', env, `${url(p.alerting)}/health/ready`),
  ];
  // One after the other: the first provisions the streams.
  for (const s of services) await s.start();
  nc = await natsClient(nats.url);
  targets = {
    ingestion: url(p.ingestion),
    aggregation: url(p.aggregation),
    recommendation: url(p.recommendation),
    alerting: url(p.alerting),
    tcp: { host: '127.0.0.1', port: p.tcp },
    nats: nats.url,
  };
});

afterAll(async () => {
  await nc?.close().catch(() => undefined);
  await Promise.all((services ?? []).map((s) => s.stop()));
  await Promise.all([nats?.dispose(), redis?.dispose()]);
});

const alive = () => expect(services.filter((s) => s.exited()).map((s) => `${s.name} exited with ${s.exitCode()}:\n${s.output().slice(-3000)}`)).toEqual([]);

it(`hostile input for ${SECONDS} s (seed ${SEED}): only 2xx/4xx, nothing dies, every accepted valid event counted exactly once`, async () => {
  const report = await runFuzz(targets, { seed: SEED, seconds: SECONDS, runId: `fz${SEED}` });
  console.log(formatReport(report));
  alive();
  expect(report.broken).toEqual([]);
  expect(report.notReady).toEqual([]);
  // It really tried every endpoint, and some valid events got through.
  expect(Object.keys(report.perEndpoint).length).toBeGreaterThanOrEqual(10);
  expect(report.accepted.size).toBeGreaterThan(50);

  // Quiescence: dedup has read every raw event, aggregation and recommendation every clean one.
  for (let i = 0; i < PARTITIONS; i++) {
    await waitForQuiescence(nc, streams.raw.name, durables.dedup(i), { timeoutMs: 30_000 });
    await waitForQuiescence(nc, streams.clean.name, durables.aggregation(i), { timeoutMs: 30_000 });
    await waitForQuiescence(nc, streams.clean.name, durables.recommendation(i), { timeoutMs: 30_000 });
  }
  const counts = new Map<string, number>();
  for (const m of await readStream<{ id: string; sessionId: string }>(nc, streams.clean.name)) counts.set(m.data.id, (counts.get(m.data.id) ?? 0) + 1);
  // An id is one id in every partition (docs/semantics.md "Exactly-once: dedup"): never twice in the clean stream.
  const doubled = [...counts].filter(([, n]) => n > 1);
  const lost = [...report.accepted].filter((id) => counts.get(id) !== 1).map((id) => `${id} ×${counts.get(id) ?? 0} (accepted by ${report.acceptedVia.get(id)})`);
  const stored = [...report.refused].filter((id) => counts.has(id)).map((id) => `${id} (refused by ${report.refusedVia.get(id)})`);
  if (lost.length > 0) console.log(`lost: ${lost.length} of ${report.accepted.size}:\n${lost.slice(0, 30).join('\n')}`);
  expect({ doubled, lost, storedThoughRefused: stored }).toEqual({ doubled: [], lost: [], storedThoughRefused: [] });
  console.log(`fuzz: ${report.accepted.size} accepted valid events each once in events.clean (${counts.size} ids in all), ${report.refused.size} refused ones absent, ${report.unknown.size} unknown`);

  // Nothing was dead-lettered: a poison message would mean an event got past validation that a consumer cannot take.
  const jsm = await jetstreamManager(nc);
  const dlq = await jsm.streams.info(streams.dlq.name).catch(() => undefined);
  expect(dlq?.state.messages ?? 0).toBe(0);
  alive();
});

it('found by fuzzing: a deeply nested op, metric, id, k or state on the NATS APIs is a 400, not a 500 (stack overflow turning it into text)', async () => {
  const deep = '['.repeat(20_000) + ']'.repeat(20_000);
  const ask = async (subject: string, text: string) => JSON.parse(Buffer.from((await nc.request(subject, Buffer.from(text), { timeout: 10_000 })).data).toString('utf8')) as { status?: number; error?: string };
  for (const [subject, text] of [
    ['tidemark.metrics.query', `{"op":${deep}}`],
    ['tidemark.metrics.query', `{"op":"range","metric":${deep}}`],
    ['tidemark.metrics.query', `{"op":"top","metric":${deep}}`],
    ['tidemark.alerts.rules', `{"op":${deep}}`],
    ['tidemark.alerts.rules', `{"op":"get","id":${deep}}`],
    ['tidemark.alerts.rules', `{"op":"delete","id":${deep}}`],
    ['tidemark.recs.user', `{"userId":${deep}}`],
    ['tidemark.recs.similar', `{"productId":${deep},"k":${deep}}`],
    ['tidemark.recs.similar', `{"productId":"p1","k":${deep}}`],
    ['tidemark.recs.user', `{"userId":"u1","k":${deep}}`],
    ['tidemark.recs.trending', `{"k":${deep}}`],
  ]) {
    const reply = await ask(subject, text);
    expect([subject, text.slice(0, 30), reply.status]).toEqual([subject, text.slice(0, 30), 400]);
  }
  const list = await ask('tidemark.alerts.list', `{"state":${deep}}`);
  expect(list.error).toMatch(/state/);
  alive();
});

describe('tidemark fuzz', () => {
  const cli = (args: string[]) =>
    new Promise<{ code: number | null; out: string }>((resolve) => {
      const child = spawn(process.execPath, [BIN, 'fuzz', ...args], { env: { ...process.env, ...env, LOG_LEVEL: 'warn' }, stdio: ['ignore', 'pipe', 'pipe'] });
      let out = '';
      child.stdout.on('data', (d) => (out += d));
      child.stderr.on('data', (d) => (out += d));
      child.on('exit', (code) => resolve({ code, out }));
    });

  it('runs against the services (defaults from the environment) and prints its table; exit 0', async () => {
    const { code, out } = await cli(['--seconds', '3', '--seed', '5']);
    expect(out).toMatch(/endpoint\s+tried\s+2xx\s+4xx\s+5xx\s+timeouts\s+errors/);
    expect(out).toMatch(/POST \/v1\/events\s+\d+/);
    expect(out).toMatch(/tcp ingest\s+\d+/);
    expect(out).toContain('broken: nothing');
    expect(code).toBe(0);
    alive();
  });

  it('--help exits 0; a usage error exits 2', async () => {
    expect(await cli(['--help'])).toEqual({ code: 0, out: expect.stringContaining('Usage: tidemark fuzz --seconds N') });
    expect((await cli([])).code).toBe(2);
    expect((await cli(['--seconds', 'abc'])).code).toBe(2);
  });
});
