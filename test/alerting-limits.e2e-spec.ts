/**
 * Silences and rules from outsiders cannot cost more than linear time or grow without bound (docs/settings.md
 * "Limits"): the alerting service as a real process over real NATS and Redis.
 */
import * as net from 'node:net';
import type Redis from 'ioredis';
import { loadConfig } from '@tidemark/config';
import { connectRedis } from '@tidemark/state';
import { AlertStore, KEYS, OutboxEntry } from '../apps/alerting/src/alert-store';
import { eventually } from './support/eventually';
import { freePort } from './support/free-port';
import { ServerHandle, startNats, startRedis } from './support/servers';
import { ServiceProcess, serviceProcess } from './support/service-process';

jest.setTimeout(90_000);

let nats: ServerHandle;
let redis: ServerHandle;
let client: Redis;
let alerting: ServiceProcess;
let base: string;

beforeAll(async () => {
  [nats, redis] = await Promise.all([startNats(), startRedis()]);
  const port = await freePort();
  base = `http://127.0.0.1:${port}`;
  alerting = serviceProcess(
    'alerting',
    {
      NATS_URL: nats.url,
      REDIS_URL: redis.url,
      ALERTING_PORT: String(port),
      ALERTING_TICK_MS: '100',
      ALERTING_SEED_DEFAULT_RULES: 'off',
      ALERTING_MAX_SILENCES: '3',
      ALERTING_MAX_RULES: '2',
      SSE_MAX_CLIENTS: '2',
      HTTP_CONNECTION_TIMEOUT_MS: '1000',
    },
    `${base}/health/ready`,
  );
  await alerting.start();
  client = await connectRedis(redis.url, 'test');
});

afterAll(async () => {
  client?.disconnect();
  await alerting?.stop();
  await Promise.all([nats?.dispose(), redis?.dispose()]);
});

async function send(method: string, path: string, body?: unknown): Promise<{ status: number; body: { id?: string; error?: string; errors?: { field: string; reason: string }[]; silences?: { id: string }[] } }> {
  const res = await fetch(`${base}${path}`, { method, headers: body === undefined ? {} : { 'content-type': 'application/json' }, body: body === undefined ? undefined : JSON.stringify(body) });
  return { status: res.status, body: res.status === 204 ? {} : ((await res.json()) as never) };
}

describe('silences', () => {
  it('refuses a backtracking regex and a 100-year silence with a 400 naming the field', async () => {
    const evil = await send('POST', '/v1/silences', { matchers: [{ name: 'key', value: '(a+)+', isRegex: true }], duration: '1h' });
    expect(evil.status).toBe(400);
    expect(evil.body.errors?.map((e) => e.field)).toEqual(['matchers.0.value']);
    const long = await send('POST', '/v1/silences', { matchers: [{ name: 'key', value: 'x' }], duration: '36500d' });
    expect(long.status).toBe(400);
    expect(long.body.errors?.map((e) => e.field)).toEqual(['duration']);
    const longPattern = await send('POST', '/v1/silences', { matchers: [{ name: 'key', value: 'x'.repeat(300), isGlob: true }], duration: '1h' });
    expect(longPattern.body.errors?.map((e) => e.field)).toEqual(['matchers.0.value']);
  });

  it('accepts globs and simple regexes; beyond ALERTING_MAX_SILENCES a 400 naming silences', async () => {
    expect((await send('POST', '/v1/silences', { matchers: [{ name: 'key', value: 'u-*', isGlob: true }], duration: '1h' })).status).toBe(201);
    expect((await send('POST', '/v1/silences', { matchers: [{ name: 'severity', value: 'crit.*', isRegex: true }], duration: '1h' })).status).toBe(201);
    expect((await send('POST', '/v1/silences', { matchers: [{ name: 'key', value: 'x' }], duration: '90d' })).status).toBe(201);
    const over = await send('POST', '/v1/silences', { matchers: [{ name: 'key', value: 'y' }], duration: '1h' });
    expect(over.status).toBe(400);
    expect(over.body.errors?.map((e) => e.field)).toEqual(['silences']);
    // Deleting one makes room.
    const [first] = (await send('GET', '/v1/silences')).body.silences!;
    expect((await send('DELETE', `/v1/silences/${first.id}`)).status).toBe(204);
  });

  it('forgets a silence once it has ended, in the API and in Redis', async () => {
    const s = await send('POST', '/v1/silences', { matchers: [{ name: 'key', value: 'z' }], endsAt: Date.now() + 300 });
    expect(s.status).toBe(201);
    await eventually(async () => {
      expect((await send('GET', '/v1/silences')).body.silences!.map((x) => x.id)).not.toContain(s.body.id);
      expect(await client.hexists(KEYS.silences, s.body.id!)).toBe(0);
    });
  });
});

describe('rules', () => {
  const rule = (id: string, extra: Record<string, unknown> = {}) => ({ id, kind: 'threshold', metric: 'gmv', op: '>', value: 1, ...extra });

  it('caps their size and number with a 400 naming the field', async () => {
    const big = await send('POST', '/v1/alert-rules', rule('big', { description: 'd'.repeat(5000) }));
    expect(big.status).toBe(400);
    expect(big.body.errors?.map((e) => e.field)).toEqual(['description']);
    expect((await send('POST', '/v1/alert-rules', rule('r1'))).status).toBe(201);
    expect((await send('PUT', '/v1/alert-rules/r2', rule('r2'))).status).toBe(201);
    const third = await send('POST', '/v1/alert-rules', rule('r3'));
    expect(third.status).toBe(400);
    expect(third.body.errors?.map((e) => e.field)).toEqual(['rules']);
    // Replacing an existing rule is not a new one.
    expect((await send('PUT', '/v1/alert-rules/r2', rule('r2', { value: 2 }))).status).toBe(200);
  });
});

describe('alerting:failed', () => {
  it('keeps only the newest ALERTING_FAILED_MAX given-up deliveries', async () => {
    const store = new AlertStore(client, loadConfig({ ALERTING_FAILED_MAX: '5' }));
    const entry = (i: number) => ({ id: `k${i}`, seq: i, notification: {}, nats: {}, webhooks: {} }) as unknown as OutboxEntry;
    await client.del(KEYS.failed);
    await store.saveProgress([], [{ entry: entry(1), failures: ['a', 'b', 'c'] }]);
    await store.saveProgress([], [{ entry: entry(2), failures: ['a', 'b', 'c', 'd'] }]);
    const kept = (await client.lrange(KEYS.failed, 0, -1)).map((j) => JSON.parse(j) as { id: string; target: string });
    expect(kept.map((k) => `${k.id}:${k.target}`)).toEqual(['k1:b', 'k1:c', 'k2:a', 'k2:b', 'k2:c', 'k2:d'].slice(1));
  });
});

describe('HTTP connections', () => {
  it('SSE: beyond SSE_MAX_CLIENTS a 429; the streams admitted outlive the idle timeout', async () => {
    const controllers = [new AbortController(), new AbortController()];
    const open = await Promise.all(controllers.map((c) => fetch(`${base}/v1/alerts/stream`, { signal: c.signal })));
    expect(open.map((r) => r.status)).toEqual([200, 200]);
    const third = await fetch(`${base}/v1/alerts/stream`);
    expect(third.status).toBe(429);
    // An admitted stream is not cut by HTTP_CONNECTION_TIMEOUT_MS (1 s): it still reads after 1.5 s.
    const reader = open[0].body!.getReader();
    const first = new TextDecoder().decode((await reader.read()).value);
    expect(first).toContain(': connected');
    await new Promise((r) => setTimeout(r, 1500));
    // A closed stream frees its place.
    controllers[1].abort();
    await eventually(async () => {
      const c = new AbortController();
      const r = await fetch(`${base}/v1/alerts/stream`, { signal: c.signal });
      c.abort();
      expect(r.status).toBe(200);
    });
    controllers[0].abort();
  });

  it('closes a connection that sends half a request and stalls (HTTP_CONNECTION_TIMEOUT_MS)', async () => {
    const port = Number(new URL(base).port);
    const closed = await new Promise<boolean>((resolve) => {
      const s = net.connect({ host: '127.0.0.1', port }, () => s.write('GET /v1/silences HTTP/1.1\r\nHost: x\r\n'));
      s.on('close', () => resolve(true));
      s.on('error', () => undefined);
    });
    expect(closed).toBe(true);
  });
});
