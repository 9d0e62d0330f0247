/**
 * The dashboard in a real browser (Debian's chromium driven by playwright-core) against a running system:
 * real NATS and Redis, ingestion, dedup, aggregation (and recommendation / alerting when this build has them)
 * and the dashboard as processes, fed with a known stream of events. The numbers the page shows must equal
 * the query APIs' (and those the known stream implies); a panel whose service does not answer says
 * "unavailable". A screenshot is kept in test-artifacts/dashboard.png.
 */
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { chromium, BrowserContext, Page } from 'playwright-core';
import type { WindowResultDto } from '@tidemark/contracts';
import { eventually } from './support/eventually';
import { freePort } from './support/free-port';
import { ServerHandle, startNats, startRedis } from './support/servers';
import { ServiceProcess, serviceProcess } from './support/service-process';

jest.setTimeout(180_000);

const ROOT = path.resolve(__dirname, '..');
const ARTIFACTS = path.join(ROOT, 'test-artifacts');
const CHROMIUM = '/usr/bin/chromium';
const built = (name: string) => fs.existsSync(path.join(ROOT, 'dist', 'apps', name, 'src', 'main.js'));
const MIN = 60_000;

// The page's formatting, applied to the APIs' numbers.
const money = (n: number) => n.toLocaleString('en-US', { minimumFractionDigits: 2, maximumFractionDigits: 2 });
const int = (n: number) => Math.round(n).toLocaleString('en-US');
const pct = (r: number | null) => (r === null ? '—' : `${(r * 100).toFixed(1)}%`);

let nats: ServerHandle;
let redis: ServerHandle;
const services: ServiceProcess[] = [];
let aggregation: ServiceProcess;
let browser: BrowserContext | undefined;
let userDataDir: string;
const url: Record<string, string> = {};

// ---- the known stream ---------------------------------------------------------------------------------------
// Two consecutive minutes a few minutes back (so the watermark, advancing with the clock once the partitions
// are idle, closes every window they touch).
const M0 = Math.floor(Date.now() / MIN) * MIN - 5 * MIN;
const M1 = M0 + MIN;
let seq = 0;
type Ev = Record<string, unknown> & { ts: number; type: string; userId: string; sessionId: string };
const ev = (type: string, ts: number, userId: string, sessionId: string, extra: Record<string, unknown> = {}): Ev => ({ id: `dash-${seq++}`, type, ts, userId, sessionId, ...extra });
const view = (ts: number, u: string, s: string, p: string) => ev('product_view', ts, u, s, { productId: p, categoryId: 'c-1', price: 10 });
const cart = (ts: number, u: string, s: string, p: string) => ev('add_to_cart', ts, u, s, { productId: p, categoryId: 'c-1', price: 10, quantity: 1 });
const checkout = (ts: number, u: string, s: string) => ev('checkout_started', ts, u, s);
const order = (ts: number, u: string, s: string, o: string, amount: number) =>
  ev('order_placed', ts, u, s, { orderId: o, amount, items: [{ productId: 'p-1', categoryId: 'c-1', price: amount, quantity: 1 }] });
const paid = (ts: number, u: string, s: string, o: string, amount: number) => ev('payment_succeeded', ts, u, s, { orderId: o, amount });
const failed = (ts: number, u: string, s: string, o: string, amount: number) => ev('payment_failed', ts, u, s, { orderId: o, amount, reason: 'card_declined' });
const s = 1000;
const STREAM: Ev[] = [
  view(M0 + 1 * s, 'u-1', 's-1', 'p-1'),
  view(M0 + 2 * s, 'u-1', 's-1', 'p-2'),
  cart(M0 + 3 * s, 'u-1', 's-1', 'p-1'),
  checkout(M0 + 4 * s, 'u-1', 's-1'),
  order(M0 + 5 * s, 'u-1', 's-1', 'o-1', 120.5),
  paid(M0 + 6 * s, 'u-1', 's-1', 'o-1', 120.5),
  view(M0 + 10 * s, 'u-2', 's-2', 'p-1'),
  cart(M0 + 11 * s, 'u-2', 's-2', 'p-1'),
  checkout(M0 + 12 * s, 'u-2', 's-2'),
  order(M0 + 13 * s, 'u-2', 's-2', 'o-2', 30.25),
  failed(M0 + 14 * s, 'u-2', 's-2', 'o-2', 30.25),
  paid(M0 + 40 * s, 'u-2', 's-2', 'o-2', 30.25),
  view(M0 + 20 * s, 'u-3', 's-3', 'p-3'),
  view(M0 + 21 * s, 'u-3', 's-3', 'p-1'),
  view(M0 + 30 * s, 'u-5', 's-5', 'p-1'),
  view(M1 + 1 * s, 'u-4', 's-4', 'p-2'),
  cart(M1 + 2 * s, 'u-4', 's-4', 'p-2'),
  checkout(M1 + 3 * s, 'u-4', 's-4'),
  order(M1 + 4 * s, 'u-4', 's-4', 'o-3', 99.99),
  view(M1 + 10 * s, 'u-1', 's-6', 'p-3'),
  cart(M1 + 11 * s, 'u-1', 's-6', 'p-3'),
  view(M1 + 20 * s, 'u-6', 's-7', 'p-1'),
];

async function api<T>(u: string): Promise<T> {
  const r = await fetch(u);
  if (r.status !== 200) throw new Error(`${u}: ${r.status} ${await r.text()}`);
  return (await r.json()) as T;
}

/** Sum of a metric's samples in Prometheus text. */
const promSum = (prom: string, metric: string) =>
  prom
    .split('\n')
    .filter((l) => l.startsWith(metric + '{') || l.startsWith(metric + ' '))
    .reduce((t, l) => t + Number(l.trim().split(/\s+/).at(-1)), 0);

const text = (page: Page, id: string) => page.getByTestId(id).textContent({ timeout: 5000 }).then((t) => (t ?? '').trim());

beforeAll(async () => {
  if (!fs.existsSync(CHROMIUM)) throw new Error(`${CHROMIUM} is missing: scripts/ensure.sh installs it (apt-get install chromium)`);
  [nats, redis] = await Promise.all([startNats(), startRedis()]);
  const names = ['ingestion', 'dedup', 'aggregation', 'recommendation', 'alerting', 'dashboard'] as const;
  const ports: Record<string, number> = {};
  for (const n of [...names, 'tcp']) ports[n] = await freePort();
  for (const n of names) url[n] = `http://127.0.0.1:${ports[n]}`;
  const env = {
    NATS_URL: nats.url,
    REDIS_URL: redis.url,
    PARTITIONS: '4',
    INGESTION_PORT: String(ports.ingestion),
    INGESTION_TCP_PORT: String(ports.tcp),
    DEDUP_PORT: String(ports.dedup),
    AGGREGATION_PORT: String(ports.aggregation),
    RECOMMENDATION_PORT: String(ports.recommendation),
    ALERTING_PORT: String(ports.alerting),
    DASHBOARD_PORT: String(ports.dashboard),
    // every partition idle for 3 s → the watermark moves with the clock and closes the known stream's windows
    IDLE_TIMEOUT_MS: '3000',
    DASHBOARD_REFRESH_MS: '500',
  };
  for (const n of names) {
    if (n === 'dashboard' || built(n)) services.push(serviceProcess(n, env, `${url[n]}/health/ready`));
  }
  aggregation = services.find((p) => p.name === 'aggregation')!;
  await Promise.all(services.map((p) => p.start()));
  userDataDir = fs.mkdtempSync(path.join(os.tmpdir(), 'tidemark-chromium-'));
});

afterAll(async () => {
  await browser?.close();
  await Promise.all(services.map((p) => p.stop()));
  await Promise.all([nats?.dispose(), redis?.dispose()]);
  if (userDataDir) fs.rmSync(userDataDir, { recursive: true, force: true });
});

it('shows the numbers of the query APIs for a known stream, live, and "unavailable" for a service that does not answer', async () => {
  // -- feed the known stream and let the watermark pass it
  const res = await fetch(`${url.ingestion}/v1/events`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify(STREAM) });
  expect(await res.json()).toEqual({ accepted: STREAM.length, duplicates: 0, rejected: [] });
  const agg = url.aggregation;
  await eventually(
    async () => {
      const gmv = await api<WindowResultDto[]>(`${agg}/v1/metrics/gmv`);
      expect(gmv.map((w) => [w.windowStart, w.value, w.final])).toEqual([
        [M0, 150.75, true],
        [M1, 99.99, true],
      ]);
    },
    { timeoutMs: 60_000, intervalMs: 250 },
  );
  // a product view ten minutes older than the stream: too late for its windows
  const late = await fetch(`${url.ingestion}/v1/events`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify(view(M0 - 10 * MIN, 'u-9', 's-9', 'p-9')) });
  expect(late.status).toBe(202);
  await eventually(async () => {
    const lateWindows = await api<WindowResultDto[]>(`${agg}/v1/metrics/late_events?from=${M0 - 30 * MIN}`);
    expect(lateWindows.reduce((t, w) => t + (w.value as number), 0)).toBeGreaterThan(0);
  });

  // -- what the APIs say (and what the known stream implies)
  const [gmv, orders, visitors, pfr, funnel, top, lateWindows] = await Promise.all([
    api<WindowResultDto[]>(`${agg}/v1/metrics/gmv`),
    api<WindowResultDto[]>(`${agg}/v1/metrics/orders`),
    api<WindowResultDto[]>(`${agg}/v1/metrics/unique_visitors`),
    api<WindowResultDto[]>(`${agg}/v1/metrics/payment_failure_rate`),
    api<WindowResultDto[]>(`${agg}/v1/metrics/funnel`),
    api<{ items: { key: string; value: number }[] }>(`${agg}/v1/metrics/top_products/top?k=10`),
    api<WindowResultDto[]>(`${agg}/v1/metrics/late_events?from=${M0 - 30 * MIN}`),
  ]);
  const lastFinal = (ws: WindowResultDto[]) => ws.filter((w) => w.final).sort((a, b) => a.windowStart - b.windowStart).at(-1)!;
  expect(lastFinal(gmv)).toMatchObject({ windowStart: M1, value: 99.99 });
  expect(orders.map((w) => w.value)).toEqual([2, 1]);
  expect(lastFinal(orders)).toMatchObject({ windowStart: M1, value: 1 });
  expect(lastFinal(visitors)).toMatchObject({ windowStart: M1, value: 3 }); // u-4, u-1, u-6
  const pfrWindow = lastFinal(pfr);
  expect(pfrWindow.value).toMatchObject({ numerator: 1, denominator: 3 }); // o-2 failed once, then o-2 and o-1 were paid
  expect((pfrWindow.value as { ratio: number }).ratio).toBeCloseTo(1 / 3, 12);
  const funnelWindow = funnel.sort((a, b) => a.windowStart - b.windowStart).at(-1)!;
  const fv = funnelWindow.value as { stages: { name: string; sessions: number }[]; rates: { from: string; to: string; rate: number | null }[] };
  expect(fv.stages.map((x) => x.name)).toEqual(['view', 'cart', 'checkout', 'order']);
  expect(fv.stages[0].sessions).toBeGreaterThan(0);
  expect(top.items.length).toBeGreaterThan(0);
  const lateTotal = lateWindows.reduce((t, w) => t + (w.value as number), 0);

  // -- the page
  browser = await chromium.launchPersistentContext(userDataDir, {
    executablePath: CHROMIUM,
    headless: true,
    args: ['--headless', '--no-sandbox', '--disable-gpu', '--disable-quic', '--no-first-run', '--disable-background-networking', '--disable-component-update', '--disable-sync'],
    viewport: { width: 1440, height: 1100 },
  });
  const page = browser.pages()[0] ?? (await browser.newPage());
  const errors: string[] = [];
  page.on('pageerror', (e) => errors.push(e.message));
  await page.goto(`${url.dashboard}/?user=u-5`);

  await eventually(
    async () => {
      expect(await text(page, 'connection')).toBe('live');
      expect(await text(page, 'kpi-gmv')).toBe(money(99.99));
      expect(await text(page, 'kpi-gmv-total')).toBe(money(gmv.reduce((t, w) => t + (w.value as number), 0)));
      expect(await text(page, 'kpi-orders')).toBe(int(1));
      expect(await text(page, 'kpi-orders-total')).toBe(int(3));
      expect(await text(page, 'kpi-visitors')).toBe(int(lastFinal(visitors).value as number));
      expect(await text(page, 'kpi-payment-failure')).toBe(pct(1 / 3));
      expect(await text(page, 'kpi-payment-failure-counts')).toBe('1 of 3 failed');
      expect(await text(page, 'kpi-late')).toBe(int(lateTotal));
      for (const st of fv.stages) expect(await text(page, `funnel-${st.name}`)).toBe(int(st.sessions));
      for (const r of fv.rates) expect(await text(page, `funnel-rate-${r.from}-${r.to}`)).toBe(pct(r.rate));
      for (const [i, item] of top.items.entries()) {
        expect(await text(page, `top-product-${i}-id`)).toBe(item.key);
        expect(await text(page, `top-product-${i}-views`)).toBe(int(item.value));
      }
      for (const n of ['ingestion', 'dedup', 'aggregation']) expect(await text(page, `service-${n}-status`)).toBe('ready');
      const aggLag = promSum(await (await fetch(`${agg}/metrics`)).text(), 'tidemark_consumer_lag');
      expect(await text(page, 'service-aggregation-lag')).toBe(int(aggLag));
      expect(await text(page, 'ingest-accepted')).toBe(int(STREAM.length + 1));
    },
    { timeoutMs: 30_000, intervalMs: 250 },
  );
  // the unpaid-orders join, when this aggregation keeps it: the page counts its unmatched orders
  const unpaid = await fetch(`${agg}/v1/metrics/unpaid_orders?from=${M0 - 45 * MIN}`);
  if (unpaid.status === 200) {
    const results = (await unpaid.json()) as WindowResultDto[];
    const count = results.filter((w) => w.final && (w.value as { status: string }).status === 'unmatched').length;
    await eventually(async () => expect(await text(page, 'kpi-unpaid')).toBe(int(count)));
  } else {
    expect(unpaid.status).toBe(404);
    await eventually(async () => expect(await text(page, 'unpaidOrders-unavailable')).toMatch(/HTTP 404/));
  }

  // -- recommendations for the chosen user (u-5 viewed p-1, which other visits viewed with p-2 and p-3)
  if (built('recommendation')) {
    let expected: { productId: string; score: number }[] = [];
    await eventually(async () => {
      expected = (await api<{ items: { productId: string; score: number }[] }>(`${url.recommendation}/v1/recommendations/users/u-5?k=10`)).items;
      expect(expected.length).toBeGreaterThan(0);
    });
    await eventually(async () => {
      const shown = await page.locator('[data-testid^="rec-"][data-testid$="-product"]').allTextContents();
      expect(shown).toEqual(expected.map((i) => i.productId));
    });
  } else {
    await eventually(async () => expect(await text(page, 'recs-status')).toMatch(/^unavailable · recommendation service unavailable/));
  }

  // -- alerts: the alerting service's active alerts, or "unavailable" when it is not running
  if (built('alerting')) {
    const [firing, pending] = await Promise.all(['firing', 'pending'].map((st) => api<{ alerts: unknown[] }>(`${url.alerting}/v1/alerts?state=${st}`)));
    await eventually(async () => expect(await text(page, 'kpi-alerts')).toBe(int(firing.alerts.length + pending.alerts.length)));
  } else {
    await eventually(async () => expect(await text(page, 'alerts-unavailable')).toMatch(/ECONNREFUSED|refused/));
  }

  // -- charts are drawn by Chart.js from the served file
  expect(await page.evaluate('typeof window.Chart')).toBe('function');
  expect(await page.evaluate(`document.querySelector('[data-testid="chart-gmv"]').width`)).toBeGreaterThan(0);
  expect(await page.evaluate(`Chart.getChart(document.querySelector('[data-testid="chart-gmv"]')).data.datasets[0].data.map((d) => d.y).reduce((a, b) => a + b, 0)`)).toBeCloseTo(250.74, 9);

  fs.mkdirSync(ARTIFACTS, { recursive: true });
  await page.screenshot({ path: path.join(ARTIFACTS, 'dashboard.png'), fullPage: true });

  // -- live: an order now (an open window) changes the page without a reload
  const now = order(Date.now(), 'u-7', 's-8', 'o-4', 10);
  expect((await fetch(`${url.ingestion}/v1/events`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify(now) })).status).toBe(202);
  await eventually(async () => {
    const windows = await api<WindowResultDto[]>(`${agg}/v1/metrics/gmv?from=${M0}`);
    expect(windows.reduce((t, w) => t + (w.value as number), 0)).toBeCloseTo(260.74, 9);
    expect(await text(page, 'kpi-gmv-total')).toBe(money(260.74));
    expect(await text(page, 'kpi-orders-total')).toBe(int(4));
  });

  // -- a service that stops answering: its panels say so, the rest goes on
  await aggregation.kill();
  await eventually(async () => {
    expect(await text(page, 'gmv-unavailable')).toMatch(/ECONNREFUSED|refused/);
    expect(await text(page, 'service-aggregation-status')).toBe('unavailable');
    expect(await text(page, 'service-ingestion-status')).toBe('ready');
  });
  expect(errors).toEqual([]);

  // -- stopping the dashboard ends the open stream (a clean exit, not a hang) and the page says it lost the feed
  const dashboard = services.find((p) => p.name === 'dashboard')!;
  await dashboard.stop(); // SIGTERM; resolves once the process exited (a stream held open would hang it)
  await eventually(async () => expect(await text(page, 'connection')).toBe('reconnecting'));
});
