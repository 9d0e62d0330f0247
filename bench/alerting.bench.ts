/**
 * `tidemark bench alerting`: how fast alerting judges window results, and how soon a state change reaches a
 * webhook, on private servers.
 *   (a) engine alone: the default rules over a realistic mix of results, in process, one core
 *   (b) service: the alerting service (its own process) draining a prefilled RESULTS stream (results/s)
 *   (c) latency: a breaching result published → its webhook POST received (wall clock), one at a time
 */
import * as http from 'node:http';
import type { AddressInfo } from 'node:net';
import { jetstreamManager } from '@nats-io/jetstream';
import { AlertEngine, DEFAULT_RULES, WindowResult } from '@tidemark/alerting';
import { ALL_STREAMS, durables, streams, subjects } from '@tidemark/contracts';
import { JetStreamPublisher, connectNats, ensureStreams } from '@tidemark/jetstream';
import { fmt, freePort, rate, startBenchServers, startService, stopChild } from './support';
import { BENCH_NODE_ARGS, benchCli } from './usage';

const CLI = benchCli({
  what: 'alerting',
  options: {
    results: { type: 'string', default: '100000', value: 'N', help: 'window results, a realistic minute-by-minute mix, judged in (a) and drained in (b)' },
    samples: { type: 'string', default: '30', value: 'N', help: 'breaching results published one at a time in (c)' },
  },
  env: [BENCH_NODE_ARGS],
  about: `How fast alerting judges window results, and how soon a state change reaches a webhook:
  (a) engine alone: the default rules over the results, in process, one core (results/s)
  (b) service: the alerting service (its own process) draining the results prefilled into RESULTS (results/s)
  (c) latency: a breaching result published → its webhook POST received (p50, p99, max)
Starts its own nats-server and redis-server on free ports and a local webhook (nothing else is touched).`,
});

const MIN = 60_000;
const T0 = Date.UTC(2026, 0, 1);

/** Minute by minute: events by type, gmv, payment failure rate, orders per user (many users), late events. */
function results(count: number): WindowResult[] {
  const out: WindowResult[] = [];
  const w = (metric: string, key: string, m: number, value: unknown, size = 1): WindowResult => ({
    metric,
    key,
    windowStart: T0 + (m + 1 - size) * MIN,
    windowEnd: T0 + (m + 1) * MIN,
    value,
    final: true,
    version: 1,
  });
  for (let m = 0; out.length < count; m++) {
    for (const t of ['page_view', 'product_view', 'add_to_cart', 'order_placed', 'payment_succeeded']) out.push(w('events', t, m, 100 + (m % 7)));
    out.push(w('gmv', 'all', m, 10_000 + ((m * 37) % 900)));
    out.push(w('payment_failure_rate', 'all', m, { ratio: m % 50 < 3 ? 0.3 : 0.02, numerator: 2, denominator: 100 }, 5));
    out.push(w('late_events', 'page_view', m, m % 13));
    for (let u = 0; u < 40; u++) out.push(w('orders_per_user', `u-${(m * 40 + u) % 5000}`, m, (m + u) % 97 === 0 ? 7 : 1, 10));
  }
  return out.slice(0, count);
}

export async function main(argv: string[]): Promise<number> {
  const values = CLI.parse(argv);
  if (!values) return 0; // --help
  const n = Number(values.results);
  const rs = results(n);

  // (a) engine alone
  const engine = new AlertEngine(DEFAULT_RULES);
  let t = performance.now();
  let transitions = 0;
  for (const r of rs) transitions += engine.applyResult(r).length;
  const engineMs = performance.now() - t;
  console.log(`(a) engine alone: ${fmt(rate(n, engineMs))} results/s (${fmt(n)} results, ${transitions} state changes)`);

  const servers = await startBenchServers();
  let received = 0;
  let onHook: ((key: string) => void) | undefined;
  const hook = http.createServer((req, res) => {
    let body = '';
    req.on('data', (d) => (body += d));
    req.on('end', () => {
      received++;
      onHook?.((JSON.parse(body) as { labels: { key: string } }).labels.key);
      res.writeHead(200).end();
    });
  });
  await new Promise<void>((r) => hook.listen(0, '127.0.0.1', r));
  const conn = await connectNats({ servers: servers.natsUrl, name: 'bench-alerting' });
  try {
    await ensureStreams(await conn.jsm(), ALL_STREAMS);
    const pub = new JetStreamPublisher(conn, { maxInFlight: 8192 });
    for (let i = 0; i < n; i += 10_000)
      await pub.publishBatch(rs.slice(i, i + 10_000).map((r) => ({ subject: subjects.result(r.metric), data: Buffer.from(JSON.stringify(r)), msgId: `${r.metric}|${r.key}|${r.windowStart}|v1` })));

    // (b) the service draining the prefilled stream
    const port = await freePort();
    const env = {
      NATS_URL: servers.natsUrl,
      REDIS_URL: servers.redisUrl,
      ALERTING_PORT: String(port),
      ALERTING_WEBHOOK_URLS: `http://127.0.0.1:${(hook.address() as AddressInfo).port}/`,
      ALERTING_ABSENCE_WALLCLOCK: 'off',
    };
    const jsm = await jetstreamManager(conn.nc);
    t = performance.now();
    const child = await startService('alerting', env, `http://127.0.0.1:${port}/health/ready`);
    const readyMs = performance.now() - t;
    const lastSeq = (await jsm.streams.info(streams.results.name)).state.last_seq;
    for (;;) {
      const info = await jsm.consumers.info(streams.results.name, durables.alerting).catch(() => undefined);
      if (info && info.ack_floor.stream_seq >= lastSeq) break;
      await new Promise((r) => setTimeout(r, 20));
    }
    const serviceMs = performance.now() - t;
    console.log(`(b) alerting service draining RESULTS: ${fmt(rate(n, serviceMs))} results/s (${fmt(n)} results in ${Math.round(serviceMs)} ms, incl. ${Math.round(readyMs)} ms of start-up)`);
    // Let the backlog's notifications go out first.
    for (let quiet = 0; quiet < 10; ) {
      const before = received;
      await new Promise((r) => setTimeout(r, 100));
      quiet = received === before ? quiet + 1 : 0;
    }

    // (c) latency: result published → webhook received
    const samples: number[] = [];
    const samplesN = Number(values.samples);
    for (let i = 0; i < samplesN; i++) {
      const r: WindowResult = { metric: 'orders_per_user', key: `bench-${i}`, windowStart: T0 + 10 * MIN * 10_000, windowEnd: T0 + 10 * MIN * 10_000 + 10 * MIN, value: 50, final: true, version: 1 };
      const got = new Promise<void>((resolve) => (onHook = (key) => key === r.key && resolve()));
      const start = performance.now();
      await pub.publish(subjects.result(r.metric), Buffer.from(JSON.stringify(r)), { msgId: `lat-${i}` });
      await got;
      samples.push(performance.now() - start);
    }
    samples.sort((a, b) => a - b);
    const q = (p: number) => Math.round(samples[Math.min(samples.length - 1, Math.floor(p * samples.length))]);
    console.log(`(c) result published → webhook POST received: p50 ${q(0.5)} ms, p99 ${q(0.99)} ms, max ${q(1)} ms (${samplesN} samples)`);
    await pub.close();
    await stopChild(child);
    console.log(`webhook deliveries in total: ${received}`);
  } finally {
    await conn.drain();
    await new Promise((r) => hook.close(r));
    await servers.stop();
  }
  return 0;
}
