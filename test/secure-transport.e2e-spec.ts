/**
 * Secure transport against real servers (docs/security.md "Transport"): nats-server runs the shipped
 * deploy/nats/nats-server.conf (one user per service, least-privilege permissions) and redis-server the shipped
 * deploy/redis/users.acl. Every service works with its own credentials (ingestion → dedup → aggregation with an
 * exact count, recommendation and alerting ready); a service with another's credentials is refused what it
 * needs; a client without permission cannot publish to events.clean.> or results.>; the Redis user cannot
 * FLUSHALL, touch a key outside Tidemark's prefixes or run CONFIG; no password shows in logs or /health/ready.
 */
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import Redis from 'ioredis';
import { connect } from '@nats-io/transport-node';
import type { NatsConnection } from '@nats-io/nats-core';
import { jetstream, jetstreamManager } from '@nats-io/jetstream';
import { durables, streams, subjects } from '@tidemark/contracts';
import { eventually, waitForQuiescence } from './support/eventually';
import { freePort } from './support/free-port';
import { NatsServerHandle, RedisServerHandle, startNats, startRedis } from './support/servers';
import { ServiceProcess, serviceProcess } from './support/service-process';

jest.setTimeout(240_000);

const ROOT = path.resolve(__dirname, '..');
const USERS = ['ingestion', 'dedup', 'aggregation', 'recommendation', 'alerting', 'producer', 'reader', 'admin'] as const;
const natsPassword = (u: string) => `nats-${u}-pw-${process.pid}`;
const REDIS_PASSWORD = `redis-tidemark-pw-${process.pid}`;
const REDIS_ADMIN_PASSWORD = `redis-admin-pw-${process.pid}`;
const T = Date.UTC(2026, 10, 3, 10, 0, 0);

let dir: string;
let nats: NatsServerHandle;
let redis: RedisServerHandle;
let admin: NatsConnection;
let redisAdmin: Redis;
let services: ServiceProcess[] = [];
let urls: Record<string, string> = {};
let common: Record<string, string>;

const natsAs = (user: string, password = natsPassword(user)) =>
  connect({ servers: nats.url, user, pass: password, reconnect: false, timeout: 2000, noAsyncTraces: true });

beforeAll(async () => {
  dir = fs.mkdtempSync(path.join(os.tmpdir(), 'tidemark-secure-'));
  // The shipped ACL file with this run's passwords in place of the placeholders.
  const acl = fs
    .readFileSync(path.join(ROOT, 'deploy/redis/users.acl'), 'utf8')
    .replace('>CHANGE-ME-tidemark', `>${REDIS_PASSWORD}`)
    .replace('>CHANGE-ME-admin', `>${REDIS_ADMIN_PASSWORD}`);
  fs.writeFileSync(path.join(dir, 'users.acl'), acl);
  const env = Object.fromEntries(USERS.map((u) => [`TIDEMARK_NATS_${u.toUpperCase()}_PASSWORD`, natsPassword(u)]));
  [nats, redis] = await Promise.all([
    startNats({ configFile: path.join(ROOT, 'deploy/nats/nats-server.conf'), env, probeAuth: { user: 'admin', pass: natsPassword('admin') } }),
    startRedis({ aclFile: path.join(dir, 'users.acl'), probeAuth: { user: 'tidemark', password: REDIS_PASSWORD } }),
  ]);
  admin = await natsAs('admin');
  redisAdmin = new Redis(redis.port, '127.0.0.1', { username: 'admin', password: REDIS_ADMIN_PASSWORD, lazyConnect: true });
  await redisAdmin.connect();

  const ports = { http: await freePort(), tcp: await freePort(), dedup: await freePort(), agg: await freePort(), recs: await freePort(), alert: await freePort() };
  urls = {
    ingestion: `http://127.0.0.1:${ports.http}`,
    dedup: `http://127.0.0.1:${ports.dedup}`,
    aggregation: `http://127.0.0.1:${ports.agg}`,
    recommendation: `http://127.0.0.1:${ports.recs}`,
    alerting: `http://127.0.0.1:${ports.alert}`,
  };
  common = {
    NATS_URL: nats.url,
    REDIS_URL: `redis://tidemark:${REDIS_PASSWORD}@127.0.0.1:${redis.port}`,
    PARTITIONS: '2',
    WATERMARK_IDLE_ADVANCE: 'off',
    ALERTING_ABSENCE_WALLCLOCK: 'off',
    INGESTION_PORT: String(ports.http),
    INGESTION_TCP_PORT: String(ports.tcp),
    DEDUP_PORT: String(ports.dedup),
    AGGREGATION_PORT: String(ports.agg),
    RECOMMENDATION_PORT: String(ports.recs),
    ALERTING_PORT: String(ports.alert),
  };
  const asUser = (u: string) => ({ NATS_USER: u, NATS_PASSWORD: natsPassword(u) });
  services = [
    // ingestion carries its credentials in NATS_URL, the others in NATS_USER / NATS_PASSWORD
    serviceProcess('ingestion', { ...common, NATS_URL: `nats://ingestion:${natsPassword('ingestion')}@127.0.0.1:${nats.port}` }, `${urls.ingestion}/health/ready`),
    serviceProcess('dedup', { ...common, ...asUser('dedup') }, `${urls.dedup}/health/ready`),
    serviceProcess('aggregation', { ...common, ...asUser('aggregation') }, `${urls.aggregation}/health/ready`),
    serviceProcess('recommendation', { ...common, ...asUser('recommendation') }, `${urls.recommendation}/health/ready`),
    serviceProcess('alerting', { ...common, ...asUser('alerting') }, `${urls.alerting}/health/ready`),
  ];
  // ingestion first: it provisions the streams the others then find
  await services[0].start();
  await Promise.all(services.slice(1).map((s) => s.start()));
});

afterAll(async () => {
  await Promise.all(services.map((s) => s.stop()));
  await admin?.close().catch(() => undefined);
  redisAdmin?.disconnect();
  await Promise.all([nats?.dispose(), redis?.dispose()]);
  if (dir) fs.rmSync(dir, { recursive: true, force: true });
});

const view = (id: string, productId: string, sessionId: string) => ({ id, type: 'product_view', ts: T, userId: `u-${sessionId}`, sessionId, productId, categoryId: 'c1', price: 10 });

async function send(events: object[]): Promise<void> {
  const res = await fetch(`${urls.ingestion}/v1/events`, { method: 'POST', headers: { 'content-type': 'application/x-ndjson' }, body: events.map((e) => JSON.stringify(e)).join('\n') });
  expect(res.status).toBe(202);
}

const natsLog = () => fs.readFileSync(path.join(nats.dir, 'nats-server.log'), 'utf8');
const messages = async (stream: string) => (await (await jetstreamManager(admin)).streams.info(stream)).state.messages;

it('runs the pipeline with one NATS user per service and the Redis ACL user: an exact count, no permission refused', async () => {
  const events = Array.from({ length: 60 }, (_, i) => view(`sec-${i}`, i % 3 === 0 ? 'P1' : 'P2', `s${i % 7}`));
  await send(events);
  await send(events.slice(0, 15)); // duplicates, dropped by ingestion's or dedup's checks
  for (const p of [0, 1]) {
    await waitForQuiescence(admin, streams.raw.name, durables.dedup(p), { timeoutMs: 60_000 });
    await waitForQuiescence(admin, streams.clean.name, durables.aggregation(p), { timeoutMs: 60_000 });
    await waitForQuiescence(admin, streams.clean.name, durables.recommendation(p), { timeoutMs: 60_000 });
  }
  await eventually(async () => {
    const rows = (await (await fetch(`${urls.aggregation}/v1/metrics/product_views?from=${T - 60_000}&to=${T + 60_000}`)).json()) as { key: string; value: number }[];
    expect(rows.map((x) => [x.key, x.value]).sort()).toEqual([
      ['P1', 20],
      ['P2', 40],
    ]);
  });
  const similar = (await (await fetch(`${urls.recommendation}/v1/recommendations/products/P1/similar?k=5`)).json()) as { items: { productId: string }[] };
  expect(similar.items.map((i) => i.productId)).toContain('P2');
  const rules = await fetch(`${urls.alerting}/v1/alert-rules`);
  expect(rules.status).toBe(200);

  // Request-reply on the services' own subjects works for the outside users the sample defines.
  const producer = await natsAs('producer');
  const reader = await natsAs('reader');
  try {
    const reply = await producer.request('tidemark.ingest', JSON.stringify(view('sec-rpc', 'P3', 's1')), { timeout: 5000 });
    expect(JSON.parse(new TextDecoder().decode(reply.data))).toMatchObject({ status: 202, body: { accepted: 1 } });
    const alerts = await reader.request('tidemark.alerts.list', '{}', { timeout: 5000 });
    expect(JSON.parse(new TextDecoder().decode(alerts.data))).toBeDefined();
  } finally {
    await producer.close();
    await reader.close();
  }

  // Nothing was refused on the way: no permissions violation in NATS, nothing in Redis' ACL log.
  expect(natsLog()).not.toMatch(/Violation/i);
  expect(await redisAdmin.call('ACL', 'LOG')).toEqual([]);
  // The state is where the ACL allows it.
  const keys = (await redisAdmin.keys('*')) as string[];
  expect(keys.length).toBeGreaterThan(0);
  expect(keys.filter((k) => !/^(tm|recs|alerting):/.test(k))).toEqual([]);
});

it('never shows a password: not in /health/ready, not in the logs', async () => {
  for (const [name, url] of Object.entries(urls)) {
    const body = await (await fetch(`${url}/health/ready`)).text();
    expect(body).not.toContain(REDIS_PASSWORD);
    expect(body).not.toContain(natsPassword(name));
  }
  for (const s of services) {
    expect(s.output()).not.toContain(REDIS_PASSWORD);
    for (const u of USERS) expect(s.output()).not.toContain(natsPassword(u));
  }
});

it('refuses a client without permission to publish to events.clean.> or results.>: nothing stored, a violation logged', async () => {
  // What earlier tests sent is forwarded first (dedup waits CONSUMER_LINGER_MS to fill a batch): the counts
  // below then change only if a forged message gets in.
  for (const p of [0, 1]) await waitForQuiescence(admin, streams.raw.name, durables.dedup(p), { timeoutMs: 60_000 });
  const [clean, results] = [await messages(streams.clean.name), await messages(streams.results.name)];
  for (const user of ['ingestion', 'producer', 'reader', 'recommendation']) {
    const nc = await natsAs(user);
    try {
      const js = jetstream(nc, { timeout: 1500 });
      await expect(js.publish(subjects.clean(0), '{"forged":true}')).rejects.toThrow();
      await expect(js.publish(subjects.result('product_views'), '{"forged":true}')).rejects.toThrow();
      // A plain publish is dropped by the server as well.
      nc.publish(subjects.clean(1), '{"forged":true}');
      nc.publish(subjects.result('orders'), '{"forged":true}');
      await nc.flush().catch(() => undefined);
    } finally {
      await nc.close().catch(() => undefined);
    }
  }
  expect(await messages(streams.clean.name)).toBe(clean);
  expect(await messages(streams.results.name)).toBe(results);
  await eventually(() => expect(natsLog()).toMatch(/Publish Violation.*"ingestion".*events\.clean\.0/));
  expect(natsLog()).toMatch(/Publish Violation.*"producer".*results\.product_views/);
});

it("refuses a service another's credentials for what it needs: dedup as ingestion cannot reach events.raw's consumers", async () => {
  const nc = await natsAs('ingestion');
  try {
    const jsm = await jetstreamManager(nc, { timeout: 1500 });
    await expect(jsm.consumers.info(streams.raw.name, durables.dedup(0))).rejects.toThrow();
    await expect(jsm.streams.delete(streams.raw.name)).rejects.toThrow();
    await expect(jsm.streams.purge(streams.clean.name)).rejects.toThrow();
  } finally {
    await nc.close().catch(() => undefined);
  }
  expect(await messages(streams.raw.name)).toBeGreaterThan(0);
  expect(await messages(streams.clean.name)).toBeGreaterThan(0);
  // The dedup process started with ingestion's user never becomes ready.
  const port = await freePort();
  const impostor = serviceProcess('dedup', { ...common, DEDUP_PORT: String(port), NATS_USER: 'ingestion', NATS_PASSWORD: natsPassword('ingestion') }, `http://127.0.0.1:${port}/health/ready`);
  try {
    await expect(impostor.start()).rejects.toThrow();
  } finally {
    await impostor.kill();
  }
  // A wrong password is refused at connect, naming the server but not the password.
  const wrong = serviceProcess('dedup', { ...common, DEDUP_PORT: String(port), NATS_USER: 'dedup', NATS_PASSWORD: 'not-the-password' }, `http://127.0.0.1:${port}/health/ready`);
  try {
    await expect(wrong.start()).rejects.toThrow(/Authorization Violation|authorization|AUTHORIZATION/);
    expect(wrong.output()).not.toContain('not-the-password');
  } finally {
    await wrong.kill();
  }
});

it('refuses the Redis user FLUSHALL, keys outside the prefixes and CONFIG', async () => {
  const r = new Redis(redis.port, '127.0.0.1', { username: 'tidemark', password: REDIS_PASSWORD, lazyConnect: true, maxRetriesPerRequest: 0 });
  await r.connect();
  try {
    await expect(r.flushall()).rejects.toThrow(/NOPERM/);
    await expect(r.flushdb()).rejects.toThrow(/NOPERM/);
    await expect(r.set('other:key', '1')).rejects.toThrow(/NOPERM/);
    await expect(r.get('session:1')).rejects.toThrow(/NOPERM/);
    await expect(r.call('CONFIG', 'GET', '*')).rejects.toThrow(/NOPERM/);
    await expect(r.call('CONFIG', 'SET', 'dir', '/tmp')).rejects.toThrow(/NOPERM/);
    await expect(r.keys('*')).rejects.toThrow(/NOPERM/);
    await expect(r.call('SCRIPT', 'FLUSH')).rejects.toThrow(/NOPERM/);
    await expect(r.call('ACL', 'LIST')).rejects.toThrow(/NOPERM/);
    // A script reaching outside the prefixes is refused too.
    await expect(r.eval("return redis.call('SET', 'other:x', '1')", 0)).rejects.toThrow(/NOPERM|can't access/i);
    // Inside the prefixes it may work.
    await r.set('tm:secure-test', '1');
    expect(await r.get('tm:secure-test')).toBe('1');
  } finally {
    r.disconnect();
  }
  expect(await redisAdmin.dbsize()).toBeGreaterThan(0);
});
