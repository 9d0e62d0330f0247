/**
 * The alerting service as a real process over real NATS and Redis, with a real local webhook receiver that
 * fails the first two attempts of every notification. Window results are published straight into the RESULTS
 * stream (the service's input contract), including duplicates and re-publications.
 */
import * as http from 'node:http';
import type { AddressInfo } from 'node:net';
import type { NatsConnection } from '@nats-io/nats-core';
import { jetstream } from '@nats-io/jetstream';
import { durables, streams, subjects } from '@tidemark/contracts';
import { eventually, waitForQuiescence } from './support/eventually';
import { freePort } from './support/free-port';
import { localReceiversFile } from './support/receivers';
import { natsClient, readStream } from './support/jetstream-read';
import { ServerHandle, startNats, startRedis } from './support/servers';
import { ServiceProcess, serviceProcess } from './support/service-process';

jest.setTimeout(120_000);

interface Received {
  key: string;
  attempt: number;
  status: number;
  body: { rule: string; notification: string; state: string; fingerprint: string; labels: Record<string, string>; idempotencyKey: string };
}

const MIN = 60_000;
const T0 = Date.UTC(2026, 10, 24, 10, 0, 0);
let nats: ServerHandle;
let redis: ServerHandle;
let nc: NatsConnection;
let alerting: ServiceProcess;
let base: string;
let hook: http.Server;
const received: Received[] = [];
const attemptsByKey = new Map<string, number>();
let msgCounter = 0;
/** While true, the receiver answers 503 to everything. */
let webhookDown = false;

beforeAll(async () => {
  [nats, redis] = await Promise.all([startNats(), startRedis({ persistence: true })]);
  nc = await natsClient(nats.url);
  hook = http.createServer((req, res) => {
    let body = '';
    req.on('data', (d) => (body += d));
    req.on('end', () => {
      const key = String(req.headers['idempotency-key']);
      const n = (attemptsByKey.get(key) ?? 0) + 1;
      attemptsByKey.set(key, n);
      const status = webhookDown || n <= 2 ? 503 : 200; // the first two attempts of every notification fail
      received.push({ key, attempt: Number(req.headers['x-tidemark-attempt']), status, body: JSON.parse(body) });
      res.writeHead(status).end();
    });
  });
  await new Promise<void>((r) => hook.listen(0, '127.0.0.1', r));
  const port = await freePort();
  base = `http://127.0.0.1:${port}`;
  alerting = serviceProcess(
    'alerting',
    {
      NATS_URL: nats.url,
      REDIS_URL: redis.url,
      ALERTING_PORT: String(port),
      // A local receiver: loopback is refused unless the receiver allows private targets (docs/security.md).
      ALERTING_RECEIVERS_FILE: localReceiversFile((hook.address() as AddressInfo).port),
      ALERTING_DEFAULT_RECEIVERS: 'local',
      ALERTING_WEBHOOK_BACKOFF_MS: '50',
      ALERTING_WEBHOOK_MIN_SEVERITY: 'info',
      ALERTING_TICK_MS: '100',
      ACK_WAIT_MS: '2000',
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

const window = (metric: string, key: string, i: number, value: unknown, sizeMin = 1, version = 1) => ({
  metric,
  key,
  windowStart: T0 + (i + 1 - sizeMin) * MIN,
  windowEnd: T0 + (i + 1) * MIN,
  value,
  final: true,
  version,
});
const pfr = (i: number, ratio: number) => window('payment_failure_rate', 'all', i, { ratio, numerator: Math.round(ratio * 200), denominator: 200 }, 5);

type Result = ReturnType<typeof window>;

/** Publishes results into RESULTS; `sameId` re-sends with the aggregation's id (a duplicate JetStream drops). */
async function publish(results: Result[], opts: { freshIds?: boolean } = {}) {
  const js = jetstream(nc);
  for (const r of results) {
    const id = `${r.metric}|${r.key}|${r.windowStart}|${r.windowEnd}|v${r.version}`;
    await js.publish(subjects.result(r.metric), Buffer.from(JSON.stringify(r)), { msgID: opts.freshIds ? `${id}#${++msgCounter}` : id });
  }
}

const quiescent = () => waitForQuiescence(nc, streams.results.name, durables.alerting, { timeoutMs: 30_000 });

async function json(path: string, init?: RequestInit): Promise<{ status: number; body: any }> {
  const r = await fetch(`${base}${path}`, { ...init, headers: init?.body ? { 'content-type': 'application/json' } : {} });
  const text = await r.text();
  return { status: r.status, body: text ? JSON.parse(text) : undefined };
}

const delivered = (rule: string) => received.filter((r) => r.status === 200 && r.body.rule === rule);
const natsNotifications = async (rule: string) => (await readStream<Received['body']>(nc, streams.alerts.name, subjects.alert(rule))).map((m) => m.data);

/** Reads SSE `event: alert` messages from /v1/alerts/stream into `into` until `stop()`. */
function sse(into: { state: string; rule: string }[]) {
  const ctl = new AbortController();
  const done = (async () => {
    const res = await fetch(`${base}/v1/alerts/stream`, { signal: ctl.signal });
    const reader = res.body!.getReader();
    let buf = '';
    for (;;) {
      const { value, done: end } = await reader.read();
      if (end) return;
      buf += Buffer.from(value).toString('utf8');
      let i: number;
      while ((i = buf.indexOf('\n\n')) >= 0) {
        const frame = buf.slice(0, i);
        buf = buf.slice(i + 2);
        const data = frame.split('\n').find((l) => l.startsWith('data: '));
        if (frame.includes('event: alert') && data) into.push(JSON.parse(data.slice(6)));
      }
    }
  })().catch(() => undefined);
  return { stop: async () => (ctl.abort(), await done) };
}

describe('alerting service', () => {
  it('seeds the default rules and rejects bad rules with an error per field (HTTP and NATS); a malformed result is dead-lettered', async () => {
    const list = await json('/v1/alert-rules');
    expect(list.body.rules.map((r: { id: string }) => r.id)).toEqual(['gmv_drop', 'late_events_spike', 'no_events', 'orders_per_user', 'payment_failure_rate', 'unpaid_orders']);

    const bad = await json('/v1/alert-rules', { method: 'POST', body: JSON.stringify({ id: 'x', kind: 'threshold', metric: 'gmv', op: '>>', value: 'lots', for: 'soon' }) });
    expect(bad.status).toBe(400);
    expect(bad.body.errors.map((e: { field: string }) => e.field).sort()).toEqual(['for', 'op', 'value']);
    expect(bad.body.error).toContain('op is required: one of > >= < <= == !=');

    expect((await json('/v1/alert-rules', { method: 'POST', body: '{"id":' })).status).toBe(400);
    expect((await json('/v1/alert-rules/payment_failure_rate', { method: 'PUT', body: JSON.stringify({ id: 'other', kind: 'absence', metric: 'events', for: '1m' }) })).body.errors).toEqual([
      { field: 'id', reason: 'must match the id in the path ("payment_failure_rate")' },
    ]);
    expect((await json('/v1/alert-rules/nope')).status).toBe(404);
    expect((await json('/v1/alert-rules/nope', { method: 'DELETE' })).status).toBe(404);
    expect((await json('/v1/alerts?state=burning')).status).toBe(400);
    const dup = await json('/v1/alert-rules', { method: 'POST', body: JSON.stringify((await json('/v1/alert-rules/gmv_drop')).body) });
    expect(dup.status).toBe(409);

    // A custom rule: create, read, replace, delete — also over NATS.
    const rule = { id: 'big_orders', kind: 'threshold', severity: 'info', metric: 'orders', op: '>', value: 1000 };
    expect((await json('/v1/alert-rules', { method: 'POST', body: JSON.stringify(rule) })).status).toBe(201);
    expect((await json('/v1/alert-rules/big_orders')).body).toEqual(rule);
    const put = await json('/v1/alert-rules/big_orders', { method: 'PUT', body: JSON.stringify({ ...rule, id: undefined, value: 2000 }) });
    expect(put).toEqual({ status: 200, body: { ...rule, value: 2000 } });
    const natsBad = JSON.parse(Buffer.from((await nc.request('tidemark.alerts.rules', Buffer.from(JSON.stringify({ op: 'create', rule: { id: 'y', kind: 'anomaly', metric: 'gmv', method: 'ewma' } })))).data).toString());
    expect(natsBad.status).toBe(400);
    expect(natsBad.errors).toEqual([{ field: 'threshold', reason: 'is required' }]);
    const natsDel = JSON.parse(Buffer.from((await nc.request('tidemark.alerts.rules', Buffer.from(JSON.stringify({ op: 'delete', id: 'big_orders' })))).data).toString());
    expect(natsDel).toEqual({ status: 204 });
    expect((await json('/v1/alert-rules/big_orders')).status).toBe(404);

    // A message on results.> that is not a window result goes to the dead letters; the stream goes on.
    await jetstream(nc).publish(subjects.result('gmv'), Buffer.from(JSON.stringify({ metric: 'gmv', value: 3 })));
    await quiescent();
    const dead = await readStream<{ metric: string }>(nc, streams.dlq.name, subjects.dlq(streams.results.name, durables.alerting));
    expect(dead.map((d) => d.data)).toEqual([{ metric: 'gmv', value: 3 }]);
  });

  it('a payment outage fires once and resolves after recovery; each change is delivered once, retries keep the key', async () => {
    const live: { state: string; rule: string }[] = [];
    const stream = sse(live);
    await eventually(async () => expect((await fetch(`${base}/metrics`).then((r) => r.text())).includes('tidemark_alerts')).toBe(true));
    const normal = [0, 1, 2].map((i) => pfr(i, 0.01));
    const outage = [3, 4, 5, 6].map((i) => pfr(i, 0.4));
    const recovery = [7, 8].map((i) => pfr(i, 0.01));
    await publish([...normal, ...outage.slice(0, 1)]);
    await quiescent();
    expect((await json('/v1/alerts?state=pending')).body.alerts).toHaveLength(1);
    await publish(outage.slice(1));
    await publish(outage, { freshIds: true }); // redelivered copies past JetStream's duplicate check
    await quiescent();
    const firing = (await json('/v1/alerts?state=firing')).body.alerts;
    expect(firing).toHaveLength(1);
    expect(firing[0]).toMatchObject({ rule: 'payment_failure_rate', severity: 'critical', state: 'firing', value: 0.4, startsAt: T0 + 4 * MIN, endsAt: null });
    const natsList = JSON.parse(Buffer.from((await nc.request('tidemark.alerts.list', Buffer.from(JSON.stringify({ state: 'firing' })))).data).toString());
    expect(natsList.alerts).toEqual(firing);

    await publish(recovery);
    await quiescent();
    await eventually(() => expect(delivered('payment_failure_rate').map((r) => r.body.notification)).toEqual(['firing', 'resolved']));
    const [fired, resolved] = delivered('payment_failure_rate');
    expect(fired.key).not.toBe(resolved.key);
    for (const d of [fired, resolved]) {
      const tries = received.filter((r) => r.key === d.key);
      expect(tries.map((t) => [t.attempt, t.status])).toEqual([
        [1, 503],
        [2, 503],
        [3, 200],
      ]);
      expect(tries.every((t) => t.body.idempotencyKey === d.key)).toBe(true);
    }
    expect(resolved.body).toMatchObject({ state: 'resolved', endsAt: T0 + 8 * MIN, startsAt: T0 + 4 * MIN });
    await eventually(async () => expect((await natsNotifications('payment_failure_rate')).map((n) => [n.notification, n.idempotencyKey])).toEqual([
      ['firing', fired.key],
      ['resolved', resolved.key],
    ]));
    await eventually(() => expect(live.filter((a) => a.rule === 'payment_failure_rate').map((a) => a.state)).toEqual(['pending', 'firing', 'resolved']));
    await stream.stop();
    expect((await json('/v1/alerts?state=resolved')).body.alerts.map((a: { rule: string }) => a.rule)).toEqual(['payment_failure_rate']);
  });

  it('a silence mutes the notifications of the alerts it matches, not their state', async () => {
    const bad = await json('/v1/silences', { method: 'POST', body: JSON.stringify({ matchers: [{ name: 'alertname' }] }) });
    expect(bad.status).toBe(400);
    expect(bad.body.errors.map((e: { field: string }) => e.field).sort()).toEqual(['endsAt', 'matchers.0.value']);
    const created = await json('/v1/silences', { method: 'POST', body: JSON.stringify({ matchers: [{ name: 'alertname', value: 'orders_per_user' }, { name: 'key', value: 'u-silenced' }], duration: '1h', comment: 'test' }) });
    expect(created.status).toBe(201);
    expect((await json('/v1/silences')).body.silences.map((s: { id: string }) => s.id)).toEqual([created.body.id]);

    await publish([window('orders_per_user', 'u-silenced', 9, 9, 10), window('orders_per_user', 'u-loud', 9, 8, 10)]);
    await quiescent();
    const firing = (await json('/v1/alerts?state=firing')).body.alerts.map((a: { labels: { key: string } }) => a.labels.key).sort();
    expect(firing).toEqual(['u-loud', 'u-silenced']);
    // The unsilenced twin, committed in the same batch, is delivered; the silenced one never is.
    await eventually(() => expect(delivered('orders_per_user').map((r) => r.body.labels.key)).toEqual(['u-loud']));
    await eventually(async () => expect((await natsNotifications('orders_per_user')).map((n) => n.labels.key)).toEqual(['u-loud']));
    expect(received.filter((r) => r.body.labels.key === 'u-silenced')).toEqual([]);
    expect(await fetch(`${base}/metrics`).then((r) => r.text())).toMatch(/tidemark_alert_silenced_total\{[^}]*rule="orders_per_user"[^}]*\} 1/);
    expect((await json(`/v1/silences/${created.body.id}`, { method: 'DELETE' })).status).toBe(204);
  });

  it('a kill -9 mid-incident neither re-fires nor forgets', async () => {
    await publish([window('orders_per_user', 'u-fraud', 10, 7, 10)]);
    await quiescent();
    await eventually(() => expect(delivered('orders_per_user').filter((r) => r.body.labels.key === 'u-fraud').map((r) => r.body.notification)).toEqual(['firing']));
    await alerting.kill();
    // While it is down: the same window again (a redelivery), a newer window still breaching.
    await publish([window('orders_per_user', 'u-fraud', 10, 7, 10)], { freshIds: true });
    await publish([window('orders_per_user', 'u-fraud', 11, 8, 10)]);
    await alerting.start();
    await quiescent();
    const after = (await json('/v1/alerts?state=firing')).body.alerts.filter((a: { labels: { key: string } }) => a.labels.key === 'u-fraud');
    expect(after).toHaveLength(1);
    expect(after[0]).toMatchObject({ value: 8, startsAt: T0 + 11 * MIN, updatedAt: T0 + 12 * MIN });
    await publish([window('orders_per_user', 'u-fraud', 12, 2, 10)]);
    await quiescent();
    await eventually(() => expect(delivered('orders_per_user').filter((r) => r.body.labels.key === 'u-fraud').map((r) => r.body.notification)).toEqual(['firing', 'resolved']));
    await eventually(async () =>
      expect((await natsNotifications('orders_per_user')).filter((n) => n.labels.key === 'u-fraud').map((n) => n.notification)).toEqual(['firing', 'resolved']),
    );
  });

  it('a notification whose delivery was cut by a kill -9 is delivered after the restart, once, with the same key', async () => {
    webhookDown = true;
    const order = window('unpaid_orders', 'o-crash', 20, { status: 'unmatched', leftId: 'e-1', leftTs: T0, matchedTs: null, fields: { userId: 'u-1' } }, 15);
    await publish([order]);
    await quiescent();
    const key = await eventually(() => {
      const tries = received.filter((r) => r.body.rule === 'unpaid_orders' && r.body.labels.key === 'o-crash');
      expect(tries.length).toBeGreaterThanOrEqual(3);
      return tries[0].key;
    });
    await alerting.kill();
    webhookDown = false;
    await alerting.start();
    await eventually(() => expect(received.filter((r) => r.key === key && r.status === 200)).toHaveLength(1));
    const tries = received.filter((r) => r.body.rule === 'unpaid_orders');
    expect(new Set(tries.map((t) => t.key))).toEqual(new Set([key]));
    expect(tries.map((t) => t.attempt)).toEqual(tries.map((_, i) => i + 1)); // attempts counted across the restart
    expect((await natsNotifications('unpaid_orders')).map((n) => n.idempotencyKey)).toEqual([key]);
    expect((await json('/v1/alerts?state=firing')).body.alerts.filter((a: { rule: string }) => a.rule === 'unpaid_orders')).toHaveLength(1);
  });

  it('an absence rule fires on the wall clock, resolves when a window arrives, and resolves when deleted', async () => {
    const rule = { id: 'heartbeat_gone', kind: 'absence', severity: 'critical', metric: 'heartbeat', for: '1s' };
    expect((await json('/v1/alert-rules', { method: 'POST', body: JSON.stringify(rule) })).status).toBe(201);
    const notes = () => delivered('heartbeat_gone').map((r) => r.body.notification);
    await eventually(() => expect(notes()).toEqual(['firing']));
    await publish([window('heartbeat', 'all', 30, 1)]);
    await eventually(() => expect(notes().slice(0, 2)).toEqual(['firing', 'resolved']));
    await eventually(() => expect(notes().slice(0, 3)).toEqual(['firing', 'resolved', 'firing'])); // nothing for 1 s again
    expect((await json('/v1/alert-rules/heartbeat_gone', { method: 'DELETE' })).status).toBe(204);
    await eventually(() => expect(notes()).toEqual(['firing', 'resolved', 'firing', 'resolved']));
    expect(new Set(delivered('heartbeat_gone').map((r) => r.key)).size).toBe(4);
    expect((await json('/v1/alerts')).body.alerts.filter((a: { rule: string }) => a.rule === 'heartbeat_gone')).toEqual([]);
  });

  it('results arriving while Redis is down are judged once it is back: one notification, nothing lost', async () => {
    await redis.kill();
    await publish([window('orders_per_user', 'u-redis', 40, 9, 10)]);
    await eventually(async () => expect((await fetch(`${base}/health/ready`)).status).toBe(503));
    // The batch was applied in memory and its checkpoint refused (held, not acked), not merely not yet fetched.
    await eventually(async () => expect(await fetch(`${base}/metrics`).then((r) => r.text())).toMatch(/tidemark_checkpoint_duration_seconds_count\{[^}]*outcome="error"[^}]*\} [1-9]/), {
      timeoutMs: 30_000,
    });
    await redis.start();
    await quiescent();
    await eventually(() => expect(delivered('orders_per_user').filter((r) => r.body.labels.key === 'u-redis').map((r) => r.body.notification)).toEqual(['firing']));
    await publish([window('orders_per_user', 'u-redis', 41, 1, 10)]);
    await quiescent();
    await eventually(() => expect(delivered('orders_per_user').filter((r) => r.body.labels.key === 'u-redis').map((r) => r.body.notification)).toEqual(['firing', 'resolved']));
    expect((await json('/v1/alerts')).body.alerts.filter((a: { labels: { key: string } }) => a.labels.key === 'u-redis')).toMatchObject([{ state: 'resolved' }]);
  });
});
