/**
 * Alerting fed by the real pipeline: simulated shop traffic with a payment outage goes through ingestion,
 * dedup and aggregation (real processes, real NATS and Redis); the alerting service fires the payment failure
 * alert once during the outage and resolves it once after recovery, delivered to a real local webhook; the
 * per-order info alerts of the unpaid orders the outage leaves reach NATS but not the shop-wide webhook.
 */
import * as http from 'node:http';
import type { AddressInfo } from 'node:net';
import { TidemarkEvent, streams, subjects } from '@tidemark/contracts';
import { ShopSimulator } from '@tidemark/simulator';
import { eventually } from './support/eventually';
import { localReceiversFile } from './support/receivers';
import { freePort } from './support/free-port';
import { natsClient, readStream } from './support/jetstream-read';
import { ServerHandle, startNats, startRedis } from './support/servers';
import { ServiceProcess, serviceProcess } from './support/service-process';

jest.setTimeout(240_000);

const MIN = 60_000;
const T0 = Date.UTC(2026, 10, 2, 9, 0, 0);
let nats: ServerHandle;
let redis: ServerHandle;
let services: ServiceProcess[] = [];
let hook: http.Server;
let httpUrl: string;
let alertUrl: string;
const received: { key: string; status: number; body: { rule: string; severity: string; notification: string; startsAt: number; endsAt: number | null; value: number } }[] = [];

beforeAll(async () => {
  [nats, redis] = await Promise.all([startNats(), startRedis()]);
  hook = http.createServer((req, res) => {
    let body = '';
    req.on('data', (d) => (body += d));
    req.on('end', () => {
      received.push({ key: String(req.headers['idempotency-key']), status: 200, body: JSON.parse(body) });
      res.writeHead(200).end();
    });
  });
  await new Promise<void>((r) => hook.listen(0, '127.0.0.1', r));
  const ports = { http: await freePort(), tcp: await freePort(), agg: await freePort(), dedup: await freePort(), alert: await freePort() };
  httpUrl = `http://127.0.0.1:${ports.http}`;
  alertUrl = `http://127.0.0.1:${ports.alert}`;
  const env = {
    NATS_URL: nats.url,
    REDIS_URL: redis.url,
    PARTITIONS: '2',
    IDLE_TIMEOUT_MS: '3600000',
    WATERMARK_IDLE_ADVANCE: 'off',
    FIRE_INTERVAL_MS: '50',
    INGESTION_PORT: String(ports.http),
    INGESTION_TCP_PORT: String(ports.tcp),
    AGGREGATION_PORT: String(ports.agg),
    DEDUP_PORT: String(ports.dedup),
    ALERTING_PORT: String(ports.alert),
    // A local receiver: loopback is refused unless the receiver allows private targets (docs/security.md).
    ALERTING_RECEIVERS_FILE: localReceiversFile((hook.address() as AddressInfo).port),
    ALERTING_DEFAULT_RECEIVERS: 'local',
    ALERTING_ABSENCE_WALLCLOCK: 'off',
  };
  services = [
    serviceProcess('ingestion', env, `${httpUrl}/health/ready`),
    serviceProcess('dedup', env, `http://127.0.0.1:${ports.dedup}/health/ready`),
    serviceProcess('aggregation', env, `http://127.0.0.1:${ports.agg}/health/ready`),
    serviceProcess('alerting', env, `${alertUrl}/health/ready`),
  ];
  await Promise.all(services.map((s) => s.start()));
});

afterAll(async () => {
  await Promise.all(services.map((s) => s.stop()));
  await new Promise((r) => hook?.close(r));
  await Promise.all([nats?.dispose(), redis?.dispose()]);
});

async function send(events: TidemarkEvent[]): Promise<void> {
  const body = events.map((e) => JSON.stringify(e)).join('\n');
  await eventually(
    async () => {
      const res = await fetch(`${httpUrl}/v1/events`, { method: 'POST', headers: { 'content-type': 'application/x-ndjson' }, body });
      expect(res.status).toBe(202);
    },
    { timeoutMs: 60_000, intervalMs: 200 },
  );
}

it('a payment outage in generated traffic fires the alert once and resolves it once after recovery; unpaid orders stay off the shop-wide webhook', async () => {
  const sim = new ShopSimulator({ seed: 3, sessionsPerSecond: 3, products: 60, users: 300 });
  const events: TidemarkEvent[] = [];
  for (let t = T0; t < T0 + 28 * MIN; t += 250) {
    const m = (t - T0) / MIN;
    sim.incidents = m >= 6 && m < 10 ? { paymentFailureRate: 0.6 } : {};
    events.push(...sim.tick(t));
  }
  for (let i = 0; i < events.length; i += 2000) await send(events.slice(i, i + 2000));

  await eventually(
    () => expect(received.filter((r) => r.body.rule === 'payment_failure_rate').map((r) => r.body.notification)).toEqual(['firing', 'resolved']),
    { timeoutMs: 120_000, intervalMs: 250 },
  );
  const [fired, resolved] = received.filter((r) => r.body.rule === 'payment_failure_rate');
  // It began inside the outage and ended after it (sliding 5-minute windows trail the recovery).
  expect(fired.body.startsAt).toBeGreaterThan(T0 + 6 * MIN);
  expect(fired.body.startsAt).toBeLessThanOrEqual(T0 + 10 * MIN);
  expect(fired.body.value).toBeGreaterThan(0.05);
  expect(resolved.body.endsAt).toBeGreaterThan(T0 + 10 * MIN);
  expect(resolved.key).not.toBe(fired.key);
  const alerts = (await (await fetch(`${alertUrl}/v1/alerts?state=resolved`)).json()) as { alerts: { rule: string }[] };
  expect(alerts.alerts.filter((a) => a.rule === 'payment_failure_rate')).toHaveLength(1);
  // Unpaid orders (payments failed in the outage) raise per-order info alerts: listed, not POSTed to the
  // shop-wide webhook (ALERTING_WEBHOOK_MIN_SEVERITY defaults to warning).
  await eventually(
    async () => {
      const all = (await (await fetch(`${alertUrl}/v1/alerts?state=firing`)).json()) as { alerts: { rule: string; severity: string }[] };
      expect(all.alerts.filter((a) => a.rule === 'unpaid_orders' && a.severity === 'info').length).toBeGreaterThan(0);
    },
    { timeoutMs: 60_000, intervalMs: 250 },
  );
  // Their NATS notifications went out (the same delivery round as any webhook POST would have)…
  const nc = await natsClient(nats.url);
  try {
    await eventually(async () => expect((await readStream(nc, streams.alerts.name, subjects.alert('unpaid_orders'))).length).toBeGreaterThan(0));
  } finally {
    await nc.close();
  }
  // …and the webhook got none of them.
  expect(received.filter((r) => r.body.rule === 'unpaid_orders')).toEqual([]);
});
