/**
 * API keys with scopes, as real processes (docs/security.md): every HTTP route of every service — found by
 * reading every controller in the source tree, so a new route is walked too — answers 401 without a key or
 * with an unknown one, 403 with a key that lacks its scope, and neither with one that has it; a route that
 * declares no scope fails here. TCP ingest wants `AUTH <key>` first; NATS request-reply wants an
 * `Authorization` header. The dashboard reads the other services with its own key. A service on a
 * reachable address without keys refuses to start.
 */
import { spawnSync } from 'node:child_process';
import * as net from 'node:net';
import * as path from 'node:path';
import { headers as natsHeaders, type NatsConnection } from '@nats-io/nats-core';
import { chromium } from 'playwright-core';
import { rpc, streams } from '@tidemark/contracts';
import { eventually } from './support/eventually';
import { freePort } from './support/free-port';
import { natsClient, streamEventCount } from './support/jetstream-read';
import { ServerHandle, startNats, startRedis } from './support/servers';
import { serviceProcess } from './support/service-process';
import { ALL_SERVICES, ServiceName, Stack, startStack } from './support/stack';
import { Route, routes } from './support/routes';

const ROOT = path.resolve(__dirname, '..');

jest.setTimeout(120_000);

const KEY = { ingest: 'ingest-key-000000001', read: 'read-key-0000000002', admin: 'admin-key-000000003', ops: 'ops-key-00000000004' };
const API_KEYS = `ingest:${KEY.ingest},read:${KEY.read},admin:${KEY.admin},admin+read:${KEY.ops}`;
const SERVICES = ALL_SERVICES;
type Service = ServiceName;

let nats: ServerHandle;
let redis: ServerHandle;
let nc: NatsConnection;
let stack: Stack;
let url: Record<Service, string>;
let tcpPort: number;

beforeAll(async () => {
  [nats, redis] = await Promise.all([startNats(), startRedis()]);
  nc = await natsClient(nats.url);
  stack = await startStack({ NATS_URL: nats.url, REDIS_URL: redis.url, PARTITIONS: '2', API_KEYS, DASHBOARD_REFRESH_MS: '200' });
  ({ url, tcpPort } = stack);
});

afterAll(async () => {
  await stack?.stop();
  await nc?.close();
  await Promise.all([nats?.dispose(), redis?.dispose()]);
});

/** Answers a route's status (the body of a stream is not awaited). */
async function call(base: string, r: Route, key?: string): Promise<number> {
  const ctl = new AbortController();
  const target = `${base}${r.path.replace(/:(\w+)/g, (_, p: string) => (p === 'name' ? 'events' : `x-${p}`))}`;
  const withBody = ['POST', 'PUT', 'PATCH'].includes(r.method);
  const headers: Record<string, string> = withBody ? { 'content-type': 'application/json' } : {};
  if (key) headers.authorization = `Bearer ${key}`;
  const res = await fetch(target, { method: r.method, headers, body: withBody ? '{}' : undefined, signal: ctl.signal });
  ctl.abort();
  return res.status;
}

const keyWith = (scope: string) => (scope === 'ingest' ? KEY.ingest : scope === 'read' ? KEY.read : KEY.admin);
const keyWithout = (scope: string) => (scope === 'ingest' ? KEY.read : scope === 'read' ? KEY.ingest : KEY.read);

describe('API keys on HTTP routes', () => {
  const all = routes();

  it('finds the routes of every service', () => {
    expect(all.length).toBeGreaterThan(20);
    for (const s of ['ingestion', 'aggregation', 'recommendation', 'alerting', 'dashboard', 'every']) expect(all.some((r) => r.service === s)).toBe(true);
  });

  it('every route declares a scope or says it is public', () => {
    expect(all.filter((r) => r.scope === undefined).map((r) => `${r.method} ${r.path} (${r.where})`)).toEqual([]);
  });

  it('answers 401 / 403 / neither, on every service', async () => {
    const seen: string[] = [];
    for (const r of all) {
      const bases = r.service === 'every' ? SERVICES.map((s) => url[s]) : [url[r.service as Service]];
      for (const base of bases) {
        const label = `${r.method} ${base}${r.path} [${r.scope}]`;
        if (r.scope === 'public') {
          expect([label, await call(base, r)]).not.toEqual([label, 401]);
          continue;
        }
        expect([label, await call(base, r)]).toEqual([label, 401]);
        expect([label, await call(base, r, 'an-unknown-key-0000000')]).toEqual([label, 401]);
        expect([label, await call(base, r, keyWithout(r.scope!))]).toEqual([label, 403]);
        const ok = await call(base, r, keyWith(r.scope!));
        expect([label, ok === 401 || ok === 403 ? ok : 'allowed']).toEqual([label, 'allowed']);
        seen.push(label);
      }
    }
    expect(seen.length).toBeGreaterThan(20);
  });

  it('keeps the health checks open and says how to authenticate', async () => {
    for (const s of SERVICES) expect((await fetch(`${url[s]}/health/live`)).status).toBe(200);
    const res = await fetch(`${url.aggregation}/v1/watermark`);
    expect(res.status).toBe(401);
    expect(res.headers.get('www-authenticate')).toMatch(/^Bearer/);
    expect(await res.text()).not.toContain(KEY.read);
  });

  it('lets the dashboard read the other services with its own key', async () => {
    await eventually(async () => {
      const res = await fetch(`${url.dashboard}/v1/snapshot`, { headers: { authorization: `Bearer ${KEY.read}` } });
      expect(res.status).toBe(200);
      const s = (await res.json()) as { services: { name: string; ready: boolean }[]; watermark: unknown };
      expect(s.services.filter((x) => !x.ready).map((x) => x.name)).toEqual([]);
    });
  });
});

/** Sends lines over TCP and collects every reply line until the server closes or `expect` lines came. */
function tcp(lines: string[], expectLines: number): Promise<string[]> {
  return new Promise((resolve, reject) => {
    const socket = net.connect(tcpPort, '127.0.0.1');
    let buf = '';
    const done = () => resolve(buf.split('\n').filter(Boolean));
    socket.on('data', (d) => {
      buf += d;
      if (buf.split('\n').filter(Boolean).length >= expectLines) {
        socket.end();
        done();
      }
    });
    socket.on('end', done);
    socket.on('error', reject);
    socket.write(lines.join('\n') + '\n');
  });
}

const event = (id: string) => JSON.stringify({ id, type: 'page_view', ts: Date.now(), userId: 'u', sessionId: `s-${id}` });

describe('API keys on TCP ingest', () => {
  it('wants AUTH <key> with the ingest scope first; otherwise one error line, the connection closed, nothing stored', async () => {
    const before = await streamEventCount(nc, streams.raw.name);
    expect((await tcp([event('tcp-none')], 5)).map((l) => JSON.parse(l))).toEqual([{ line: 1, status: 'unauthorized', error: expect.stringMatching(/AUTH <key>/) }]);
    expect((await tcp([`AUTH ${'x'.repeat(20)}`, event('tcp-bad')], 5)).map((l) => JSON.parse(l))).toEqual([{ line: 1, status: 'unauthorized', error: 'unknown API key' }]);
    expect((await tcp([`AUTH ${KEY.read}`, event('tcp-read')], 5)).map((l) => JSON.parse(l))).toEqual([{ line: 1, status: 'forbidden', error: expect.stringMatching(/ingest/) }]);
    expect(await streamEventCount(nc, streams.raw.name)).toBe(before);
    expect((await tcp([`AUTH ${KEY.ingest}`, event('tcp-ok-1'), event('tcp-ok-2')], 3)).map((l) => JSON.parse(l))).toEqual([
      { line: 1, status: 'authenticated' },
      { line: 2, status: 'accepted' },
      { line: 3, status: 'accepted' },
    ]);
    expect(await streamEventCount(nc, streams.raw.name)).toBe(before + 2);
  });
});

describe('API keys on NATS request-reply', () => {
  const ask = async (subject: string, body: unknown, key?: string) => {
    const h = natsHeaders();
    if (key) h.set('Authorization', `Bearer ${key}`);
    const m = await nc.request(subject, Buffer.from(JSON.stringify(body)), { timeout: 5000, headers: h });
    return m.json<{ status?: number; error?: string }>();
  };

  it('answers 401 / 403 in the reply, and serves the right key', async () => {
    const ingest = { id: 'nats-auth-1', type: 'page_view', ts: Date.now(), userId: 'u', sessionId: 's' };
    expect(await ask(rpc.ingest, ingest)).toMatchObject({ status: 401 });
    expect(await ask(rpc.ingest, ingest, KEY.read)).toMatchObject({ status: 403 });
    expect(await ask(rpc.ingest, ingest, KEY.ingest)).toMatchObject({ status: 202 });
    expect(await ask(rpc.metricsQuery, { op: 'watermark' })).toMatchObject({ status: 401 });
    expect((await ask(rpc.metricsQuery, { op: 'watermark' }, KEY.read)).status).not.toBe(401);
    for (const subject of [rpc.recsTrending, rpc.recsUser, rpc.recsSimilar, rpc.alertsList]) {
      expect([subject, (await ask(subject, {}, KEY.ingest)).status]).toEqual([subject, 403]);
      expect([subject, [401, 403].includes((await ask(subject, { userId: 'u', productId: 'p' }, KEY.read)).status ?? 0)]).toEqual([subject, false]);
    }
    expect(await ask('tidemark.alerts.rules', { op: 'list' }, KEY.read)).toMatchObject({ status: 403 });
    expect(await ask('tidemark.alerts.rules', { op: 'list' }, KEY.admin)).toMatchObject({ status: 200 });
  });
});

describe('the command line with keys', () => {
  it('tidemark simulate sends with the first ingest key of API_KEYS', async () => {
    const before = await streamEventCount(nc, streams.raw.name);
    const r = spawnSync(process.execPath, [path.join(ROOT, 'bin/tidemark.js'), 'simulate', '--url', url.ingestion, '--duration', '1', '--quiet'], {
      env: { ...process.env, API_KEYS },
      encoding: 'utf8',
      timeout: 30_000,
    });
    expect([r.status, r.stderr]).toEqual([0, '']);
    expect(await streamEventCount(nc, streams.raw.name)).toBeGreaterThan(before);
  });
});

describe('the dashboard page with keys', () => {
  it('asks for a key, refuses one that cannot read, and goes live with a read key', async () => {
    const browser = await chromium.launch({
      executablePath: process.env.CHROMIUM_PATH ?? '/usr/bin/chromium',
      args: ['--headless', '--no-sandbox', '--disable-gpu', '--disable-quic', '--no-first-run', '--disable-background-networking', '--disable-component-update', '--disable-sync'],
    });
    try {
      const page = await browser.newPage();
      await page.goto(url.dashboard);
      await page.getByTestId('key-form').waitFor({ state: 'visible' });
      await eventually(async () => expect(await page.getByTestId('connection').textContent()).toBe('API key needed'));
      await page.getByTestId('key').fill(KEY.ingest);
      await page.getByTestId('key').press('Enter');
      await eventually(async () => expect(await page.getByTestId('connection').textContent()).toBe('this key cannot read'));
      await page.getByTestId('key').fill(KEY.read);
      await page.getByTestId('key').press('Enter');
      await eventually(async () => expect(await page.getByTestId('connection').textContent()).toBe('live'));
      await expect(page.getByTestId('key-form').isHidden()).resolves.toBe(true);
    } finally {
      await browser.close();
    }
  });
});

describe('protected mode', () => {
  it('a service on a reachable address without keys refuses to start, naming API_KEYS; AUTH=off starts it', async () => {
    const port = await freePort();
    const open = serviceProcess('aggregation', { NATS_URL: nats.url, REDIS_URL: redis.url, AGGREGATION_PORT: String(port), HOST: '0.0.0.0' }, `http://127.0.0.1:${port}/health/ready`);
    await expect(open.start()).rejects.toThrow(/API_KEYS/);
    const off = serviceProcess('aggregation', { NATS_URL: nats.url, REDIS_URL: redis.url, AGGREGATION_PORT: String(port), HOST: '0.0.0.0', AUTH: 'off' }, `http://127.0.0.1:${port}/health/ready`);
    await off.start();
    expect((await fetch(`http://127.0.0.1:${port}/v1/watermark`)).status).toBe(200);
    await off.stop();
  });
});
