/**
 * Webhook receivers the operator defines (docs/security.md "Webhooks"), against the real alerting process:
 * rules name receivers and a raw URL is refused with a 400 naming the field; a receiver on loopback without
 * `allowPrivate` is refused after resolution (SSRF), a redirect is not followed, and a signed delivery
 * verifies with the standardwebhooks package. Neither the rules API nor the logs show a secret.
 */
import * as http from 'node:http';
import type { AddressInfo } from 'node:net';
import type { NatsConnection } from '@nats-io/nats-core';
import { jetstream } from '@nats-io/jetstream';
import { Webhook } from 'standardwebhooks';
import { durables, streams, subjects } from '@tidemark/contracts';
import { eventually, waitForQuiescence } from './support/eventually';
import { freePort } from './support/free-port';
import { natsClient } from './support/jetstream-read';
import { receiversFile } from './support/receivers';
import { ServerHandle, startNats, startRedis } from './support/servers';
import { ServiceProcess, serviceProcess } from './support/service-process';

jest.setTimeout(120_000);

const MIN = 60_000;
const T0 = Date.UTC(2026, 10, 4, 8, 0, 0);
const SECRET = 'whsec_' + Buffer.alloc(32, 42).toString('base64');
const HEADER_SECRET = 'Bearer receiver-own-token-123';
let nats: ServerHandle;
let redis: ServerHandle;
let nc: NatsConnection;
let hook: http.Server;
let hookPort: number;
let alerting: ServiceProcess;
let base: string;
const hits: { path: string; headers: http.IncomingHttpHeaders; body: string }[] = [];

beforeAll(async () => {
  [nats, redis] = await Promise.all([startNats(), startRedis()]);
  nc = await natsClient(nats.url);
  hook = http.createServer((req, res) => {
    let body = '';
    req.on('data', (d) => (body += d));
    req.on('end', () => {
      hits.push({ path: req.url ?? '', headers: req.headers, body });
      if (req.url === '/redirect') res.writeHead(302, { location: `http://127.0.0.1:${hookPort}/target` }).end();
      else res.writeHead(200).end();
    });
  });
  await new Promise<void>((r) => hook.listen(0, '127.0.0.1', r));
  hookPort = (hook.address() as AddressInfo).port;
  const port = await freePort();
  base = `http://127.0.0.1:${port}`;
  const file = receiversFile({
    signed: { url: `http://127.0.0.1:${hookPort}/signed`, secret: SECRET, headers: { Authorization: HEADER_SECRET }, allowPrivate: true },
    // the same loopback target without allowPrivate: refused after resolution (localhost → 127.0.0.1 / ::1)
    guarded: { url: `http://localhost:${hookPort}/guarded` },
    literal: { url: `http://127.0.0.1:${hookPort}/literal` },
    metadata: { url: 'http://169.254.169.254/latest/meta-data/' },
    redirector: { url: `http://127.0.0.1:${hookPort}/redirect`, allowPrivate: true },
  });
  alerting = serviceProcess(
    'alerting',
    {
      NATS_URL: nats.url,
      REDIS_URL: redis.url,
      ALERTING_PORT: String(port),
      ALERTING_RECEIVERS_FILE: file,
      ALERTING_WEBHOOK_ALLOWLIST: 'https://hooks.example.com/tidemark/',
      ALERTING_SEED_DEFAULT_RULES: 'off',
      ALERTING_ABSENCE_WALLCLOCK: 'off',
      ALERTING_WEBHOOK_BACKOFF_MS: '50',
      ALERTING_WEBHOOK_MAX_ATTEMPTS: '3',
      ALERTING_WEBHOOK_TIMEOUT_MS: '1000',
      LOG_LEVEL: 'info',
    },
    `${base}/health/ready`,
  );
  await alerting.start();
});

afterAll(async () => {
  await alerting?.stop();
  await nc?.close();
  await new Promise((r) => hook?.close(r));
  await Promise.all([nats?.dispose(), redis?.dispose()]);
});

async function json(path: string, init?: RequestInit): Promise<{ status: number; body: any }> {
  const r = await fetch(`${base}${path}`, { ...init, headers: init?.body ? { 'content-type': 'application/json' } : {} });
  const text = await r.text();
  return { status: r.status, body: text ? JSON.parse(text) : undefined };
}

const rule = { id: 'big_gmv', kind: 'threshold', metric: 'gmv', field: 'sum', op: '>', value: 100, severity: 'critical' };

it('refuses a rule with a raw URL off the allow-list or an unknown receiver, naming the field', async () => {
  const raw = await json('/v1/alert-rules', { method: 'POST', body: JSON.stringify({ ...rule, webhooks: [`http://127.0.0.1:${hookPort}/raw`] }) });
  expect(raw.status).toBe(400);
  expect(JSON.stringify(raw.body)).toContain('webhooks.0');
  const meta = await json('/v1/alert-rules', { method: 'POST', body: JSON.stringify({ ...rule, webhooks: ['https://hooks.example.com.evil.test/tidemark/x'] }) });
  expect(meta.status).toBe(400);
  const unknown = await json('/v1/alert-rules', { method: 'POST', body: JSON.stringify({ ...rule, receivers: ['signed', 'nobody'] }) });
  expect(unknown.status).toBe(400);
  expect(JSON.stringify(unknown.body)).toContain('receivers.1');
  const allowed = await json('/v1/alert-rules/allowed', { method: 'PUT', body: JSON.stringify({ ...rule, id: 'allowed', webhooks: ['https://hooks.example.com/tidemark/ops'], enabled: false }) });
  expect(allowed.status).toBeLessThan(300);
  await json('/v1/alert-rules/allowed', { method: 'DELETE' });
});

it('delivers a signed notification, refuses loopback and metadata targets without allowPrivate, and follows no redirect', async () => {
  const put = await json(`/v1/alert-rules/${rule.id}`, { method: 'PUT', body: JSON.stringify({ ...rule, receivers: ['signed', 'guarded', 'literal', 'metadata', 'redirector'] }) });
  expect(put.status).toBeLessThan(300);
  const shown = JSON.stringify((await json('/v1/alert-rules')).body);
  expect(shown).not.toContain(SECRET.slice(6, 20));
  expect(shown).not.toContain(HEADER_SECRET);

  const w = { metric: 'gmv', key: 'all', windowStart: T0, windowEnd: T0 + MIN, value: { sum: 500 }, final: true, version: 1 };
  await jetstream(nc).publish(subjects.result('gmv'), Buffer.from(JSON.stringify(w)), { msgID: 'gmv-1' });
  await waitForQuiescence(nc, streams.results.name, durables.alerting, { timeoutMs: 30_000 });

  await eventually(() => expect(hits.filter((h) => h.path === '/signed')).toHaveLength(1), { timeoutMs: 30_000 });
  const signed = hits.find((h) => h.path === '/signed')!;
  const verified = new Webhook(SECRET).verify(signed.body, {
    'webhook-id': String(signed.headers['webhook-id']),
    'webhook-timestamp': String(signed.headers['webhook-timestamp']),
    'webhook-signature': String(signed.headers['webhook-signature']),
  }) as { rule: string; notification: string };
  expect(verified).toMatchObject({ rule: 'big_gmv', notification: 'firing' });
  expect(signed.headers['webhook-id']).toBe(signed.headers['idempotency-key']);
  expect(signed.headers.authorization).toBe(HEADER_SECRET);

  // The redirect answered once, was not followed and not retried; the refused targets were never reached.
  await eventually(() => expect(alerting.output()).toMatch(/receiver:metadata: gave up/), { timeoutMs: 30_000 });
  await eventually(() => expect(alerting.output()).toMatch(/receiver:redirector: gave up.*redirects are not followed/));
  expect(alerting.output()).toMatch(/receiver:guarded: gave up.*localhost resolves to (127\.0\.0\.1|::1) \((loopback)\); refused/);
  expect(alerting.output()).toMatch(/receiver:literal: gave up.*127\.0\.0\.1 \(loopback\); refused/);
  expect(alerting.output()).toMatch(/169\.254\.169\.254 \(link-local\); refused/);
  expect(hits.filter((h) => h.path === '/redirect')).toHaveLength(1);
  expect(hits.filter((h) => ['/target', '/guarded', '/literal'].includes(h.path))).toEqual([]);
  // No secret in any log line.
  expect(alerting.output()).not.toContain(SECRET.slice(6, 20));
  expect(alerting.output()).not.toContain(HEADER_SECRET);
});
