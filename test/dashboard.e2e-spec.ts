/**
 * The dashboard in a real browser: Debian's chromium driven by playwright-core loads the page of a running
 * system (real NATS and Redis; ingestion, dedup, aggregation, recommendation, alerting and the dashboard as
 * processes) fed with a known stream, and the numbers it shows must equal the query APIs' answers. A
 * screenshot is kept in test-artifacts/dashboard.png.
 */
import * as fs from 'node:fs';
import * as path from 'node:path';
import { Browser, Page, chromium } from 'playwright-core';
import type { TidemarkEvent, WindowResultDto } from '@tidemark/contracts';
import { eventually } from './support/eventually';
import { freePort } from './support/free-port';
import { heartbeats } from './support/reference';
import { ServerHandle, startNats, startRedis } from './support/servers';
import { ServiceProcess, serviceProcess } from './support/service-process';

jest.setTimeout(180_000);

const PARTITIONS = 2;
const BOUND = 5_000;
const MIN = 60_000;
const T0 = Date.UTC(2026, 10, 3, 10, 0, 0);
const ARTIFACT = path.resolve(__dirname, '..', 'test-artifacts', 'dashboard.png');

let nats: ServerHandle;
let redis: ServerHandle;
let services: ServiceProcess[] = [];
let browser: Browser | undefined;
const url: Record<string, string> = {};

beforeAll(async () => {
  [nats, redis] = await Promise.all([startNats(), startRedis()]);
  const ports = {
    INGESTION_PORT: await freePort(),
    INGESTION_TCP_PORT: await freePort(),
    DEDUP_PORT: await freePort(),
    AGGREGATION_PORT: await freePort(),
    RECOMMENDATION_PORT: await freePort(),
    ALERTING_PORT: await freePort(),
    DASHBOARD_PORT: await freePort(),
  };
  const env = {
    NATS_URL: nats.url,
    REDIS_URL: redis.url,
    PARTITIONS: String(PARTITIONS),
    MAX_OUT_OF_ORDERNESS_MS: String(BOUND),
    IDLE_TIMEOUT_MS: '3600000',
    WATERMARK_IDLE_ADVANCE: 'off',
    FIRE_INTERVAL_MS: '50',
    DASHBOARD_REFRESH_MS: '200',
    ...Object.fromEntries(Object.entries(ports).map(([k, v]) => [k, String(v)])),
  };
  for (const name of ['ingestion', 'dedup', 'aggregation', 'recommendation', 'alerting', 'dashboard']) {
    const port = ports[`${name.toUpperCase()}_PORT` as keyof typeof ports];
    url[name] = `http://127.0.0.1:${port}`;
    services.push(serviceProcess(name, env, `${url[name]}/health/ready`));
  }
  await Promise.all(services.map((s) => s.start()));
});

afterAll(async () => {
  await browser?.close();
  await Promise.all(services.map((s) => s.stop()));
  await Promise.all([nats?.dispose(), redis?.dispose()]);
});

async function send(events: TidemarkEvent[]): Promise<void> {
  const res = await fetch(`${url.ingestion}/v1/events`, { method: 'POST', headers: { 'content-type': 'application/x-ndjson' }, body: events.map((e) => JSON.stringify(e)).join('\n') });
  expect(res.status).toBe(202);
}

async function api<T>(service: string, p: string): Promise<T> {
  const res = await fetch(`${url[service]}${p}`);
  expect(res.status).toBe(200);
  return (await res.json()) as T;
}

/** Two minutes of a small shop: known views, carts, orders and payments. */
function knownStream(): TidemarkEvent[] {
  const out: TidemarkEvent[] = [];
  let n = 0;
  const ev = (minute: number, s: number, type: TidemarkEvent['type'], extra: Partial<TidemarkEvent> = {}): void => {
    out.push({ id: `d-${n++}`, type, ts: T0 + minute * MIN + s * 1000, userId: `u-${s % 4}`, sessionId: `s-${minute}-${s % 4}`, ...extra } as TidemarkEvent);
  };
  const view = (productId: string) => ({ productId, categoryId: 'shoes', price: 10 });
  const order = (orderId: string, amount: number) => ({ orderId, amount, items: [{ productId: 'p-1', categoryId: 'shoes', price: amount, quantity: 1 }] });
  for (const minute of [0, 1]) {
    for (let s = 0; s < 8; s++) ev(minute, s, 'product_view', view(s < 5 ? 'p-1' : s < 7 ? 'p-2' : 'p-3'));
    ev(minute, 10, 'add_to_cart', view('p-1'));
    ev(minute, 11, 'add_to_cart', view('p-2'));
    ev(minute, 12, 'checkout_started');
    ev(minute, 13, 'order_placed', order(`o-${minute}-1`, 12.5 + minute));
    ev(minute, 14, 'order_placed', order(`o-${minute}-2`, 30));
    ev(minute, 20, 'payment_succeeded', { orderId: `o-${minute}-1`, amount: 12.5 + minute });
    ev(minute, 21, 'payment_failed', { orderId: `o-${minute}-2`, amount: 30 });
  }
  return out;
}

async function shown(page: Page, testid: string): Promise<string> {
  return (await page.locator(`[data-testid="${testid}"]`).first().textContent())?.trim() ?? '';
}

async function cells(page: Page, testid: string): Promise<string[]> {
  return page.locator(`[data-testid="${testid}"] td`).allTextContents();
}

const money = (v: number) => new Intl.NumberFormat('en-US', { minimumFractionDigits: 2, maximumFractionDigits: 2 }).format(v);
const pct = (r: number) => `${(r * 100).toFixed(2)} %`;

it('shows what the query APIs answer, live', async () => {
  await send(knownStream());
  // Move every partition's watermark to T0 + 10 min − 5 s: both minutes (and the first funnel window) fire.
  await send(heartbeats(T0 + 10 * MIN, 'd', PARTITIONS));
  const wm = T0 + 10 * MIN - BOUND;
  await eventually(async () => expect((await api<{ watermark: number }>('aggregation', '/v1/watermark')).watermark).toBe(wm), { timeoutMs: 60_000 });
  // One view far too late for its minute: late output, counted in late_events.
  await send([{ id: 'd-late', type: 'product_view', ts: T0 + MIN + 30_000, userId: 'u-late', sessionId: 's-late', productId: 'p-9', categoryId: 'shoes', price: 1 }]);

  const minute1 = await eventually(async () => {
    const [gmv] = await api<WindowResultDto[]>('aggregation', `/v1/metrics/gmv?from=${T0 + MIN}&to=${T0 + MIN + 1}`);
    expect(gmv).toMatchObject({ final: true, value: 43.5 });
    return gmv;
  });
  const [orders] = await api<WindowResultDto[]>('aggregation', `/v1/metrics/orders?from=${T0 + MIN}&to=${T0 + MIN + 1}`);
  const [visitors] = await api<WindowResultDto[]>('aggregation', `/v1/metrics/unique_visitors?from=${T0 + MIN}&to=${T0 + MIN + 1}`);
  const [funnel] = await api<WindowResultDto[]>('aggregation', `/v1/metrics/funnel?from=${T0}&to=${T0 + 1}`);
  const failures = await api<WindowResultDto[]>('aggregation', `/v1/metrics/payment_failure_rate?from=${wm - 30 * MIN}`);
  const latestFailure = failures.filter((r) => r.final).sort((a, b) => b.windowStart - a.windowStart)[0];
  const top = await api<{ items: { key: string; value: number }[] }>('aggregation', '/v1/metrics/top_products/top?k=10');
  const late = await eventually(async () => {
    const rs = await api<WindowResultDto[]>('aggregation', `/v1/metrics/late_events?from=${wm - 60 * MIN}`);
    expect(rs.reduce((a, r) => a + (r.value as number), 0)).toBe(1);
    return rs;
  });
  const recs = await eventually(async () => {
    const body = await api<{ items: { productId: string }[] }>('recommendation', '/v1/recommendations/users/u-1?k=5');
    expect(body.items.length).toBeGreaterThan(0);
    return body;
  });
  const alerts = (await api<{ alerts: { state: string }[] }>('alerting', '/v1/alerts')).alerts.filter((a) => a.state !== 'resolved');

  browser = await chromium.launch({
    executablePath: process.env.CHROMIUM_PATH ?? '/usr/bin/chromium',
    // Playwright gives it a fresh, empty profile of its own.
    args: ['--headless', '--no-sandbox', '--disable-gpu', '--disable-quic', '--no-first-run', '--disable-background-networking', '--disable-component-update', '--disable-sync'],
  });
  const page = await browser.newPage({ viewport: { width: 1440, height: 1000 } });
  const errors: string[] = [];
  page.on('pageerror', (e) => errors.push(e.message));
  await page.goto(`${url.dashboard}/?user=u-1`);
  // The first render can take long on a loaded 2-core machine (Chromium starting beside the whole stack): wait
  // for the page itself longer than for what it shows.
  await page.locator('[data-testid="connection"]').first().waitFor({ timeout: 90_000 });

  await eventually(async () => expect(await shown(page, 'connection')).toBe('live'), { timeoutMs: 30_000, intervalMs: 100 });
  await eventually(async () => expect(await shown(page, 'gmv')).toBe(money(minute1.value as number)), { timeoutMs: 30_000, intervalMs: 100 });
  expect(await shown(page, 'orders')).toBe(String(orders.value));
  expect(await shown(page, 'unique-visitors')).toBe(String(visitors.value));
  expect(await shown(page, 'minute')).toBe('10:01–10:02 UTC');
  expect(await shown(page, 'watermark')).toBe(new Date(wm).toISOString().replace('T', ' ').slice(0, 19));
  expect(await shown(page, 'payment-failure-rate')).toBe(pct((latestFailure.value as { ratio: number }).ratio));
  await eventually(async () => expect(await shown(page, 'late-events')).toBe(String(late.reduce((a, r) => a + (r.value as number), 0))), { timeoutMs: 10_000, intervalMs: 100 });
  const stages = (funnel.value as { stages: { name: string; sessions: number }[] }).stages;
  for (const st of stages) expect((await cells(page, `funnel-${st.name}`)).slice(0, 2)).toEqual([st.name, String(st.sessions)]);
  for (const [i, item] of top.items.entries()) expect(await cells(page, `top-${i + 1}`)).toEqual([`${i + 1}.`, item.key, String(item.value)]);
  expect(await shown(page, 'alert-count')).toBe(String(alerts.length));
  // Recommendations read checkpointed state (at most one checkpoint interval behind): compare with what the API
  // answers now, not with an answer from before the last checkpoint.
  await eventually(
    async () => {
      const now = await api<{ items: { productId: string }[] }>('recommendation', '/v1/recommendations/users/u-1?k=5');
      expect(await page.locator('[data-testid="recommendations"] li strong').allTextContents()).toEqual(now.items.map((i) => i.productId));
    },
    { timeoutMs: 10_000, intervalMs: 100 },
  );
  expect(recs.items.length).toBeGreaterThan(0);
  for (const name of ['ingestion', 'dedup', 'aggregation', 'recommendation', 'alerting']) {
    await expect(page.locator(`[data-testid="service-${name}"]`).getAttribute('class')).resolves.toContain('ready');
  }

  // Live: a new order in minute 2, then the watermark past it: the tiles move on without a reload.
  await send([{ id: 'd-new', type: 'order_placed', ts: T0 + 10 * MIN + 1000, userId: 'u-9', sessionId: 's-new', orderId: 'o-new', amount: 99.99, items: [{ productId: 'p-2', categoryId: 'shoes', price: 99.99, quantity: 1 }] }]);
  await send(heartbeats(T0 + 12 * MIN, 'e', PARTITIONS));
  await eventually(async () => expect(await shown(page, 'gmv')).toBe(money(99.99)), { timeoutMs: 30_000, intervalMs: 100 });
  expect(await shown(page, 'orders')).toBe('1');

  fs.mkdirSync(path.dirname(ARTIFACT), { recursive: true });
  await page.screenshot({ path: ARTIFACT, fullPage: true });

  // A service that stops answering: its tiles say so, the rest of the page goes on.
  await services.find((p) => p.name === 'aggregation')!.kill();
  await eventually(async () => expect(await shown(page, 'gmv')).toBe('unavailable'), { timeoutMs: 30_000, intervalMs: 100 });
  await eventually(async () => {
    const active = (await api<{ alerts: { state: string }[] }>('alerting', '/v1/alerts')).alerts.filter((a) => a.state !== 'resolved');
    expect(await shown(page, 'alert-count')).toBe(String(active.length));
  });

  // Stopping the dashboard while the page is open ends its stream: the process exits (an open stream used to
  // hold the HTTP server's close forever) and the page says it lost the feed.
  const dashboard = services.find((p) => p.name === 'dashboard')!;
  await dashboard.stop();
  await eventually(async () => expect(await shown(page, 'connection')).toBe('reconnecting'), { timeoutMs: 30_000, intervalMs: 100 });
  expect(errors).toEqual([]);
});
