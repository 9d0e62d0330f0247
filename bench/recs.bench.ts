/**
 * `tidemark bench recs`: the recommendation service against real servers and real processes (ingestion,
 * dedup, recommendation; private nats-server and redis-server on free ports).
 *   freshness: a shopper's product view is POSTed to ingestion; from its 202 (the event is accepted, durable)
 *              until the shopper's own recommendations show that product's known neighbour — the whole path
 *              ingestion → events.raw → dedup → events.clean → recommendation → Redis → the HTTP answer.
 *              Measured while simulated shop traffic (--load events/s) flows through the same pipeline.
 *   lookups:   concurrent HTTP clients (--concurrency) asking per-user, similar and trending answers, mixed,
 *              after the load stopped; client-side latency (includes the client's HTTP on the same 2 cores)
 *              and the service's own handling time (its tidemark_recs_query_seconds histogram).
 * Goals: freshness p99 ≤ 1 s; lookup p99 ≤ 5 ms.
 */
import * as http from 'node:http';
import { fmt, freePort, shopEvents, startBenchServers, startService, stopChild } from './support';
import { BENCH_NODE_ARGS, benchCli } from './usage';

const PARTITIONS = 8;

const CLI = benchCli({
  what: 'recs',
  options: {
    samples: { type: 'string', default: '300', value: 'N', help: 'freshness samples: shoppers whose product view must show up in their recommendations' },
    load: { type: 'string', default: '1000', value: 'R', help: 'simulated shop traffic, events/s, through the pipeline while freshness is measured' },
    lookups: { type: 'string', default: '20000', value: 'N', help: 'lookup requests (user / similar / trending mixed, k=10), after the load stopped' },
    concurrency: { type: 'string', default: '4', value: 'N', help: 'concurrent lookup clients' },
  },
  env: [BENCH_NODE_ARGS],
  about: `The recommendation service with ingestion and dedup as processes, ${PARTITIONS} partitions:
  freshness: a shopper's product view accepted by ingestion (202) → visible in the shopper's recommendations
             (p50, p99, max; goal p99 ≤ 1 s)
  lookups:   client-side latency and the service's own handling time (goal p99 ≤ 5 ms)
Starts its own nats-server and redis-server on free ports (nothing else is touched).`,
});

function pct(sorted: number[], q: number): number {
  return sorted[Math.min(sorted.length - 1, Math.ceil(q * sorted.length) - 1)];
}

/** p-quantile upper bound from a Prometheus histogram's cumulative buckets (all label sets summed). */
function histQuantile(text: string, name: string, q: number): number {
  const byLe = new Map<number, number>();
  for (const m of text.matchAll(new RegExp(`^${name}_bucket\\{[^}]*le="([^"]+)"[^}]*\\} (\\d+)`, 'gm'))) {
    const le = m[1] === '+Inf' ? Infinity : Number(m[1]);
    byLe.set(le, (byLe.get(le) ?? 0) + Number(m[2]));
  }
  const buckets = [...byLe].sort((a, b) => a[0] - b[0]);
  const total = buckets.length ? buckets[buckets.length - 1][1] : 0;
  return total ? buckets.find(([, n]) => n >= q * total)![0] : NaN;
}

/** GET over keep-alive sockets with node:http (lighter on the shared CPU than fetch): status and body. */
function httpGet(agent: http.Agent, url: string): Promise<{ status: number; body: string }> {
  return new Promise((resolve, reject) => {
    http
      .get(url, { agent }, (res) => {
        const chunks: Buffer[] = [];
        res.on('data', (c: Buffer) => chunks.push(c));
        res.on('end', () => resolve({ status: res.statusCode ?? 0, body: Buffer.concat(chunks).toString('utf8') }));
        res.on('error', reject);
      })
      .on('error', reject);
  });
}

async function post(url: string, events: object[]): Promise<void> {
  const res = await fetch(`${url}/v1/events`, { method: 'POST', headers: { 'content-type': 'application/x-ndjson' }, body: events.map((e) => JSON.stringify(e)).join('\n') });
  if (res.status !== 202) throw new Error(`ingestion answered ${res.status}: ${await res.text()}`);
  await res.arrayBuffer();
}

export async function main(args: string[]): Promise<number> {
  const values = CLI.parse(args);
  if (!values) return 0; // --help
  const samples = Number(values.samples);
  const load = Number(values.load);
  const lookups = Number(values.lookups);
  const concurrency = Number(values.concurrency);
  const runId = Date.now().toString(36);
  const servers = await startBenchServers();
  const ports = { http: await freePort(), tcp: await freePort(), dedup: await freePort(), recs: await freePort() };
  const env = {
    NATS_URL: servers.natsUrl,
    REDIS_URL: servers.redisUrl,
    PARTITIONS: String(PARTITIONS),
    INGESTION_PORT: String(ports.http),
    INGESTION_TCP_PORT: String(ports.tcp),
    DEDUP_PORT: String(ports.dedup),
    RECOMMENDATION_PORT: String(ports.recs),
  };
  const ingest = `http://127.0.0.1:${ports.http}`;
  const recs = `http://127.0.0.1:${ports.recs}`;
  const children = await Promise.all([
    startService('ingestion', env, `${ingest}/health/ready`),
    startService('dedup', env, `http://127.0.0.1:${ports.dedup}/health/ready`),
    startService('recommendation', env, `${recs}/health/ready`),
  ]);
  try {
    const now = Date.now();
    // Known neighbours: in visit seed-i, products bp-i and bn-i were viewed together.
    const seed: object[] = [];
    for (let i = 0; i < samples; i++) {
      for (const p of [`bp-${i}`, `bn-${i}`]) seed.push({ id: `${runId}-seed-${i}-${p}`, type: 'product_view', ts: now - 60_000, userId: `seeder-${i}`, sessionId: `seed-${i}`, productId: p, categoryId: `bench-${i % 20}` });
    }
    for (let i = 0; i < seed.length; i += 1000) await post(ingest, seed.slice(i, i + 1000));
    for (;;) {
      const r = (await (await fetch(`${recs}/v1/recommendations/products/bp-${samples - 1}/similar?k=1`)).json()) as { items: { productId: string }[] };
      if (r.items[0]?.productId === `bn-${samples - 1}`) break;
      await new Promise((res) => setTimeout(res, 20));
    }

    // Background shop traffic at `load` events/s while freshness is measured.
    const traffic = shopEvents(Math.max(1, load * 120), `${runId}-load`, now - 3_600_000);
    let stop = false;
    let sent = 0;
    const background = (async () => {
      const t0 = performance.now();
      while (!stop && sent < traffic.length) {
        const due = Math.floor(((performance.now() - t0) / 1000) * load);
        if (due > sent) {
          const chunk = traffic.slice(sent, Math.min(due, sent + 1000));
          sent += chunk.length;
          await post(ingest, chunk);
        } else await new Promise((res) => setTimeout(res, 10));
      }
    })();

    const fresh: number[] = [];
    const t0 = performance.now();
    let next = 0;
    // 2 shoppers at a time, each polling every 10 ms (resolution ~10 ms; more polling would load the service we measure)
    await Promise.all(
      Array.from({ length: 2 }, async () => {
        while (next < samples) {
          const i = next++;
          const user = `${runId}-shopper-${i}`;
          await post(ingest, [{ id: `${runId}-fresh-${i}`, type: 'product_view', ts: Date.now(), userId: user, sessionId: `${runId}-fs-${i}`, productId: `bp-${i}`, categoryId: `bench-${i % 20}` }]);
          const accepted = performance.now();
          for (;;) {
            const r = (await (await fetch(`${recs}/v1/recommendations/users/${user}?k=5`)).json()) as { items: { productId: string }[] };
            if (r.items.some((x) => x.productId === `bn-${i}`)) break;
            await new Promise((res) => setTimeout(res, 10));
          }
          fresh.push(performance.now() - accepted);
        }
      }),
    );
    const freshSecs = (performance.now() - t0) / 1000;
    stop = true;
    await background;
    const loadRate = Math.round(sent / freshSecs);

    // Lookups, mixed, concurrent.
    const paths = (i: number) => {
      const j = i % samples;
      switch (i % 3) {
        case 0:
          return `/v1/recommendations/users/${runId}-shopper-${j}?k=10`;
        case 1:
          return `/v1/recommendations/products/bp-${j}/similar?k=10`;
        default:
          return `/v1/trending?categoryId=bench-${j % 20}&k=10`;
      }
    };
    const agent = new http.Agent({ keepAlive: true, maxSockets: concurrency });
    for (let i = 0; i < 300; i++) await httpGet(agent, `${recs}${paths(i)}`); // warm up
    const lat: number[] = [];
    let n = 0;
    const l0 = performance.now();
    await Promise.all(
      Array.from({ length: concurrency }, async () => {
        while (n < lookups) {
          const path = paths(n++);
          const s = performance.now();
          const res = await httpGet(agent, `${recs}${path}`);
          if (res.status !== 200) throw new Error(`${path}: ${res.status} ${res.body}`);
          lat.push(performance.now() - s);
        }
      }),
    );
    const lookupSecs = (performance.now() - l0) / 1000;
    agent.destroy();
    const after = await (await fetch(`${recs}/metrics`)).text();
    fresh.sort((a, b) => a - b);
    lat.sort((a, b) => a - b);
    const ms = (x: number) => `${x.toFixed(1)} ms`;
    const svc = (q: number) => `≤ ${(histQuantile(after, 'tidemark_recs_query_seconds', q) * 1000).toFixed(1)} ms`;
    console.log(`tidemark bench recs: ingestion + dedup + recommendation as processes, ${PARTITIONS} partitions, NATS and Redis on this machine`);
    console.log(`  freshness (202 from ingestion → visible in the shopper's recommendations), ${fmt(samples)} samples under ~${fmt(loadRate)} events/s of shop traffic:`);
    console.log(`      p50 ${ms(pct(fresh, 0.5))}, p99 ${ms(pct(fresh, 0.99))}, max ${ms(fresh[fresh.length - 1])}  (goal p99 ≤ 1000 ms)`);
    console.log(`  lookups (user / similar / trending mixed, k=10), ${fmt(lookups)} requests from ${concurrency} concurrent clients: ${fmt(Math.round(lookups / lookupSecs))}/s`);
    console.log(`      client-side p50 ${ms(pct(lat, 0.5))}, p99 ${ms(pct(lat, 0.99))}  (goal p99 ≤ 5 ms)`);
    console.log(`      in the service (tidemark_recs_query_seconds, bucket bounds, incl. warm-up): p50 ${svc(0.5)}, p99 ${svc(0.99)}`);
  } finally {
    for (const c of children) await stopChild(c);
    await servers.stop();
  }
  return 0;
}
