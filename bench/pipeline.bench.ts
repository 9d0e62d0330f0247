/**
 * `tidemark bench pipeline`: the processing hops beside the one-hop limit, measured in the same run on
 * private servers.
 *   one-hop limit: consume a batch of a prefilled partitioned stream → one Redis call per batch → ack
 *                  (PartitionConsumer, the same transport the services use)
 *   (a) dedup:       the dedup service (its own process) draining a prefilled events.raw into events.clean
 *   (b) aggregation: the aggregation service draining a prefilled events.clean, all default metrics, on
 *                    simulated shop traffic (Zipf-popular products: what a shop sends). Uniformly random
 *                    products are the worst case: every product view touches 12 top_products windows.
 *   (c) end to end:  ingestion + dedup + aggregation as processes; events sent over HTTP until every window
 *                    they fill has fired (final results published)
 *   (d) latency:     under steady live traffic (event time = wall clock, `--rate` events/s for `--seconds`),
 *                    with one more metric, a 1-second tumbling count (METRICS_FILE), so that windows end
 *                    every second: p50/p99 from the watermark passing a window's end to its result being
 *                    received on results.<metric>. The watermark passes end E once an event with
 *                    ts ≥ E + MAX_OUT_OF_ORDERNESS_MS exists, i.e. at wall time E + 5 s: latency = received −
 *                    (E + 5 s), so it includes that event's way through ingestion, dedup and aggregation,
 *                    and the firer's polling (FIRE_INTERVAL_MS, default). Also the firer's own share (its
 *                    histogram: the firing round that saw the watermark pass → published).
 * Goals: each hop ≥ 0.5 × the one-hop limit; end to end ≥ 30 K events/s.
 */
import type { ChildProcess } from 'node:child_process';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { parseArgs } from 'node:util';
import { jetstream } from '@nats-io/jetstream';
import type { NatsConnection } from '@nats-io/nats-core';
import { connect } from '@nats-io/transport-node';
import { ALL_STREAMS, durables, partitionOf, streams, subjects } from '@tidemark/contracts';
import { JetStreamPublisher, PartitionConsumer, connectNats, ensureStreams } from '@tidemark/jetstream';
import { connectRedis } from '@tidemark/state';
import { fmt, freePort, rate, sampleEvent, shopEvents, startBenchServers, startService, stopChild } from './support';

const PARTITIONS = 8;

async function prefill(natsUrl: string, count: number, runId: string): Promise<void> {
  const conn = await connectNats({ servers: natsUrl, name: 'bench-prefill' });
  await ensureStreams(await conn.jsm(), ALL_STREAMS);
  const pub = new JetStreamPublisher(conn, { maxInFlight: 8192 });
  const now = Date.now();
  const chunk = 10_000;
  for (let i = 0; i < count; i += chunk) {
    const items = [];
    for (let j = i; j < Math.min(count, i + chunk); j++) {
      const e = sampleEvent(j, now, runId);
      items.push({ subject: subjects.raw(partitionOf(e.sessionId as string, PARTITIONS)), data: Buffer.from(JSON.stringify(e)), msgId: e.id as string });
    }
    await pub.publishBatch(items);
  }
  await pub.close();
  await conn.drain();
}

async function streamMessages(nc: NatsConnection, stream: string): Promise<number> {
  return (await (await jetstream(nc).jetstreamManager()).streams.info(stream)).state.messages;
}

/** consume → one Redis call per batch (an INCRBY of the batch size, i.e. one round trip) → ack, all partitions. */
async function oneHopLimit(natsUrl: string, redisUrl: string, count: number): Promise<number> {
  const conn = await connectNats({ servers: natsUrl, name: 'bench-one-hop' });
  const redis = await connectRedis(redisUrl, 'bench');
  let done = 0;
  let finish!: () => void;
  const finished = new Promise<void>((r) => (finish = r));
  const t0 = performance.now();
  const consumers = Array.from({ length: PARTITIONS }, (_, p) =>
    new PartitionConsumer(conn, {
      stream: streams.raw.name,
      durable: `bench-hop-p${p}`,
      filterSubject: subjects.raw(p),
      handler: async (batch) => {
        const ids = batch.map((m) => (JSON.parse(Buffer.from(m.data).toString()) as { id: string }).id);
        await redis.incrby('bench:hop', ids.length);
        done += batch.length;
        if (done >= count) finish();
      },
    }),
  );
  await Promise.all(consumers.map((c) => c.start()));
  await finished;
  const ms = performance.now() - t0;
  await Promise.all(consumers.map((c) => c.close()));
  await redis.quit();
  await conn.drain();
  return rate(count, ms);
}

async function dedupHop(natsUrl: string, redisUrl: string, count: number): Promise<number> {
  const port = await freePort();
  const nc = await connect({ servers: natsUrl });
  const before = await streamMessages(nc, streams.clean.name);
  const child = await startService('dedup', { NATS_URL: natsUrl, REDIS_URL: redisUrl, DEDUP_PORT: String(port), PARTITIONS: String(PARTITIONS) }, `http://127.0.0.1:${port}/health/ready`);
  // Clock from the first forwarded event: the service's start-up is not throughput.
  while ((await streamMessages(nc, streams.clean.name)) === before) await new Promise((r) => setTimeout(r, 5));
  const t0 = performance.now();
  const first = (await streamMessages(nc, streams.clean.name)) - before;
  for (;;) {
    if ((await streamMessages(nc, streams.clean.name)) - before >= count) break;
    await new Promise((r) => setTimeout(r, 20));
  }
  const ms = performance.now() - t0;
  await stopChild(child);
  await nc.close();
  return rate(count - first, ms);
}

async function consumersDrained(nc: NatsConnection, stream: string, durable: (p: number) => string): Promise<boolean> {
  const jsm = await jetstream(nc).jetstreamManager();
  for (let p = 0; p < PARTITIONS; p++) {
    const info = await jsm.consumers.info(stream, durable(p)).catch(() => null);
    if (!info || info.num_pending + info.num_ack_pending > 0) return false;
  }
  return true;
}

/** Copies the raw stream's events into events.clean (as dedup would), for the aggregation hop alone. */
async function prefillClean(natsUrl: string, count: number, runId: string): Promise<void> {
  const conn = await connectNats({ servers: natsUrl, name: 'bench-prefill-clean' });
  await ensureStreams(await conn.jsm(), ALL_STREAMS);
  const pub = new JetStreamPublisher(conn, { maxInFlight: 8192 });
  const events = shopEvents(count, runId, Date.UTC(2026, 0, 1));
  const chunk = 10_000;
  for (let i = 0; i < count; i += chunk) {
    await pub.publishBatch(
      events.slice(i, i + chunk).map((e) => ({ subject: subjects.clean(partitionOf(e.sessionId as string, PARTITIONS)), data: Buffer.from(JSON.stringify(e)), msgId: e.id as string })),
    );
  }
  await pub.close();
  await conn.drain();
}

async function aggregationHop(natsUrl: string, redisUrl: string, count: number): Promise<{ rate: number; batch: number; retries: number }> {
  const port = await freePort();
  const nc = await connect({ servers: natsUrl });
  const child = await startService(
    'aggregation',
    { NATS_URL: natsUrl, REDIS_URL: redisUrl, AGGREGATION_PORT: String(port), PARTITIONS: String(PARTITIONS), WATERMARK_IDLE_ADVANCE: 'off' },
    `http://127.0.0.1:${port}/health/ready`,
  );
  const t0 = performance.now();
  while (!(await consumersDrained(nc, streams.clean.name, durables.aggregation))) await new Promise((r) => setTimeout(r, 20));
  const ms = performance.now() - t0;
  const text = await (await fetch(`http://127.0.0.1:${port}/metrics`)).text();
  await stopChild(child);
  await nc.close();
  const retries = [...text.matchAll(/^tidemark_consumer_retries_total\{[^}]*\} (\d+)/gm)].reduce((a, m) => a + Number(m[1]), 0);
  return { rate: rate(count, ms), batch: meanBatch(text), retries };
}

interface EndToEnd {
  rate: number;
  fireP50: number;
  fireP99: number;
  /** Mean messages per consumed batch, by service. */
  batch: { dedup: number; aggregation: number };
}

/** Mean batch size from the consumer metrics of a service's /metrics text. */
function meanBatch(metricsText: string): number {
  const sum = (re: RegExp) => [...metricsText.matchAll(re)].reduce((a, m) => a + Number(m[1]), 0);
  const batches = sum(/^tidemark_consumer_batch_seconds_count\{[^}]*\} (\d+)/gm);
  return batches === 0 ? NaN : sum(/^tidemark_consumer_messages_total\{[^}]*\} (\d+)/gm) / batches;
}

/** p-quantile upper bound from a Prometheus histogram's cumulative buckets. */
function quantile(metricsText: string, name: string, q: number): number {
  const buckets = [...metricsText.matchAll(new RegExp(`^${name}_bucket\\{[^}]*le="([^"]+)"[^}]*\\} (\\d+)`, 'gm'))].map((m) => ({ le: m[1] === '+Inf' ? Infinity : Number(m[1]), n: Number(m[2]) }));
  const total = buckets.length ? buckets[buckets.length - 1].n : 0;
  if (total === 0) return NaN;
  return buckets.find((b) => b.n >= q * total)!.le;
}

/** Ingestion, dedup and aggregation as processes on free ports, with `extra` settings; resolves once all are ready. */
async function startPipeline(natsUrl: string, redisUrl: string, extra: Record<string, string>): Promise<{ ports: { http: number; agg: number; dedup: number }; children: ChildProcess[] }> {
  const ports = { http: await freePort(), tcp: await freePort(), agg: await freePort(), dedup: await freePort() };
  const env = {
    NATS_URL: natsUrl,
    REDIS_URL: redisUrl,
    PARTITIONS: String(PARTITIONS),
    WATERMARK_IDLE_ADVANCE: 'off',
    INGESTION_PORT: String(ports.http),
    INGESTION_TCP_PORT: String(ports.tcp),
    AGGREGATION_PORT: String(ports.agg),
    DEDUP_PORT: String(ports.dedup),
    ...extra,
  };
  const children = await Promise.all([
    startService('ingestion', env, `http://127.0.0.1:${ports.http}/health/ready`),
    startService('dedup', env, `http://127.0.0.1:${ports.dedup}/health/ready`),
    startService('aggregation', env, `http://127.0.0.1:${ports.agg}/health/ready`),
  ]);
  return { ports, children };
}

async function endToEnd(natsUrl: string, redisUrl: string, count: number, runId: string): Promise<EndToEnd> {
  const { ports, children } = await startPipeline(natsUrl, redisUrl, { FIRE_INTERVAL_MS: '50' });
  const nc = await connect({ servers: natsUrl });
  const base = Date.UTC(2026, 1, 1);
  const events = shopEvents(count, runId, base);
  const lastTs = events.reduce((m, e) => Math.max(m, e.ts as number), -Infinity);
  const bodies: string[] = [];
  for (let i = 0; i < count; i += 1000) bodies.push(events.slice(i, i + 1000).map((e) => JSON.stringify(e)).join('\n'));
  // The last event pushes every partition's watermark past every window the others filled.
  const end = lastTs + 2 * 3_600_000;
  const flush = Array.from({ length: 64 }, (_, i) => JSON.stringify({ id: `${runId}-flush-${i}`, type: 'page_view', ts: end, userId: 'f', sessionId: `flush-${i}` })).join('\n');
  const t0 = performance.now();
  let next = 0;
  await Promise.all(
    Array.from({ length: 8 }, async () => {
      while (next < bodies.length) {
        const res = await fetch(`http://127.0.0.1:${ports.http}/v1/events`, { method: 'POST', headers: { 'content-type': 'application/x-ndjson' }, body: bodies[next++] });
        if (res.status !== 202) throw new Error(`ingestion answered ${res.status}`);
        await res.arrayBuffer();
      }
    }),
  );
  await fetch(`http://127.0.0.1:${ports.http}/v1/events`, { method: 'POST', headers: { 'content-type': 'application/x-ndjson' }, body: flush });
  // Done when every event went through both hops and the last data window has fired.
  const lastWindowEnd = Math.floor(lastTs / 60_000) * 60_000 + 60_000;
  for (;;) {
    const drained = (await consumersDrained(nc, streams.raw.name, durables.dedup)) && (await consumersDrained(nc, streams.clean.name, durables.aggregation));
    if (drained) {
      const r = (await (await fetch(`http://127.0.0.1:${ports.agg}/v1/metrics/orders?from=${lastWindowEnd - 60_000}&to=${lastWindowEnd}`)).json()) as { final: boolean }[];
      const gmv = (await (await fetch(`http://127.0.0.1:${ports.agg}/v1/metrics/events?from=${lastWindowEnd - 60_000}&to=${lastWindowEnd}`)).json()) as { final: boolean }[];
      if (gmv.length > 0 && gmv.every((x) => x.final) && r.every((x) => x.final)) break;
    }
    await new Promise((res) => setTimeout(res, 20));
  }
  const ms = performance.now() - t0;
  const metricsText = await (await fetch(`http://127.0.0.1:${ports.agg}/metrics`)).text();
  const dedupText = await (await fetch(`http://127.0.0.1:${ports.dedup}/metrics`)).text();
  for (const c of children) await stopChild(c);
  await nc.close();
  return {
    rate: rate(count, ms),
    fireP50: quantile(metricsText, 'tidemark_fire_delay_seconds', 0.5),
    fireP99: quantile(metricsText, 'tidemark_fire_delay_seconds', 0.99),
    batch: { dedup: meanBatch(dedupText), aggregation: meanBatch(metricsText) },
  };
}

interface SteadyLatency {
  windows: number;
  sent: number;
  p50: number;
  p99: number;
  fireP50: number;
  fireP99: number;
}

const BOUND_MS = 5_000;

async function steadyLatency(natsUrl: string, redisUrl: string, ratePerSecond: number, seconds: number, runId: string): Promise<SteadyLatency> {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'tidemark-bench-metrics-'));
  const metricsFile = path.join(dir, 'metrics.json');
  fs.writeFileSync(metricsFile, JSON.stringify([{ name: 'bench_events_1s', description: 'events by type, 1-second windows (bench)', key: 'type', aggregation: { type: 'count' }, window: { type: 'tumbling', size: '1s' } }]));
  const { ports, children } = await startPipeline(natsUrl, redisUrl, { MAX_OUT_OF_ORDERNESS_MS: String(BOUND_MS), METRICS_FILE: metricsFile });
  const nc = await connect({ servers: natsUrl });
  const latencies: number[] = [];
  const started = Date.now();
  const sub = nc.subscribe(subjects.result('bench_events_1s'), {
    callback: (_err, msg) => {
      const r = msg.json<{ windowEnd: number; version: number; key: string }>();
      // Every key (event type) of every window wholly inside the traffic.
      if (r.version === 1 && r.windowEnd > started + 2_000) latencies.push(Date.now() - (r.windowEnd + BOUND_MS));
    },
  });
  const tickMs = 20;
  const perTick = Math.max(1, Math.round((ratePerSecond * tickMs) / 1000));
  const template = shopEvents(perTick * 50, runId, 0);
  let sent = 0;
  const end = started + seconds * 1000;
  for (let tick = 0; Date.now() < end; tick++) {
    const now = Date.now();
    const body = template
      .slice((tick % 50) * perTick, (tick % 50 + 1) * perTick)
      .map((e, i) => JSON.stringify({ ...e, id: `${runId}-${tick}-${i}`, ts: now }))
      .join('\n');
    const res = await fetch(`http://127.0.0.1:${ports.http}/v1/events`, { method: 'POST', headers: { 'content-type': 'application/x-ndjson' }, body });
    if (res.status !== 202) throw new Error(`ingestion answered ${res.status}`);
    await res.arrayBuffer();
    sent += perTick;
    const wait = started + (tick + 1) * tickMs - Date.now();
    if (wait > 0) await new Promise((r) => setTimeout(r, wait));
  }
  // Let the last windows that the traffic closed come out.
  await new Promise((r) => setTimeout(r, 2_000));
  const metricsText = await (await fetch(`http://127.0.0.1:${ports.agg}/metrics`)).text();
  sub.unsubscribe();
  for (const c of children) await stopChild(c);
  await nc.close();
  fs.rmSync(dir, { recursive: true, force: true });
  latencies.sort((a, b) => a - b);
  const at = (q: number) => (latencies.length ? latencies[Math.min(latencies.length - 1, Math.floor(q * latencies.length))] : NaN);
  return { windows: latencies.length, sent, p50: at(0.5), p99: at(0.99), fireP50: quantile(metricsText, 'tidemark_fire_delay_seconds', 0.5), fireP99: quantile(metricsText, 'tidemark_fire_delay_seconds', 0.99) };
}

export async function main(args: string[]): Promise<number> {
  const { values } = parseArgs({
    args,
    options: { events: { type: 'string', default: '200000' }, parts: { type: 'string', default: 'abcd' }, rate: { type: 'string', default: '2000' }, seconds: { type: 'string', default: '30' } },
  });
  const count = Number(values.events);
  const parts = new Set(values.parts.split(''));
  const ms = (s: number) => (Number.isFinite(s) ? `≤ ${Math.round(s * 1000)} ms` : 'n/a');
  console.log(`tidemark bench pipeline: ${fmt(count)} events over ${PARTITIONS} partitions, NATS and Redis on this machine; (b) and (c) on simulated shop traffic`);
  const runId = Date.now().toString(36);
  if (parts.has('a') || parts.has('b')) {
    const servers = await startBenchServers();
    let limit: number;
    try {
      await prefill(servers.natsUrl, count, runId);
      limit = await oneHopLimit(servers.natsUrl, servers.redisUrl, count);
      console.log(`  one-hop limit (batch consume → one Redis call → ack):   ${fmt(limit)} events/s`);
      if (parts.has('a')) {
        const dedup = await dedupHop(servers.natsUrl, servers.redisUrl, count);
        console.log(`  (a) dedup (service process, raw → clean):              ${fmt(dedup)} events/s  ratio ${(dedup / limit).toFixed(2)}  (goal ≥ 0.50)`);
      }
    } finally {
      await servers.stop();
    }
    if (parts.has('b')) {
      // On servers of their own: nothing left over from (a) in their streams or in Redis.
      const forB = await startBenchServers();
      try {
        await prefillClean(forB.natsUrl, count, `${runId}-clean`);
        const aggregation = await aggregationHop(forB.natsUrl, forB.redisUrl, count);
        console.log(`  (b) aggregation (service process, all 13 metrics):     ${fmt(aggregation.rate)} events/s  ratio ${(aggregation.rate / limit).toFixed(2)}  (goal ≥ 0.50); mean batch ${aggregation.batch.toFixed(0)}, batches retried ${aggregation.retries}`);
      } finally {
        await forB.stop();
      }
    }
  }
  if (parts.has('c')) {
    const forC = await startBenchServers();
    try {
      const e2e = await endToEnd(forC.natsUrl, forC.redisUrl, count, `${runId}-e2e`);
      console.log(`  (c) end to end, HTTP ingest → final results:           ${fmt(e2e.rate)} events/s  (goal ≥ 30,000); mean batch: dedup ${e2e.batch.dedup.toFixed(0)}, aggregation ${e2e.batch.aggregation.toFixed(0)}`);
      console.log(`      firer, whole backlog at once: round → published  p50 ${ms(e2e.fireP50)}, p99 ${ms(e2e.fireP99)}`);
    } finally {
      await forC.stop();
    }
  }
  if (parts.has('d')) {
    const forD = await startBenchServers();
    try {
      const d = await steadyLatency(forD.natsUrl, forD.redisUrl, Number(values.rate), Number(values.seconds), `${runId}-steady`);
      console.log(`  (d) steady ${fmt(Number(values.rate))} events/s for ${values.seconds} s (${fmt(d.sent)} sent), ${d.windows} results of one-second windows:`);
      console.log(`      watermark past a window end → result received:     p50 ${d.p50} ms, p99 ${d.p99} ms (incl. ingest → dedup → aggregation and FIRE_INTERVAL_MS polling)`);
      console.log(`      firer's share (round → published):                  p50 ${ms(d.fireP50)}, p99 ${ms(d.fireP99)}`);
    } finally {
      await forD.stop();
    }
  }
  return 0;
}
