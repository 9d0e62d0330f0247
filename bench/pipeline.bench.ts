/**
 * `tidemark bench pipeline`: the processing hops beside the limits they are compared with, measured in the
 * same run on private servers (docs/benchmarks.md).
 *   framed publish ceiling: one process doing ingestion's least work — NDJSON bodies of 1,000 events: parse
 *                  each line, serialise it again, frame per partition, publish, wait for the PubAcks — with no
 *                  HTTP and no validation; ingestion alone (HTTP NDJSON, 1,000 a request, 4 connections)
 *                  against it, and each hop
 *   one-hop limit: consume a batch of a prefilled partitioned stream of frames → one Redis call per batch → ack
 *                  (PartitionConsumer, the same transport the services use)
 *   (a) dedup:       the dedup service (its own process), ready, then draining events.raw into events.clean as
 *                    it is filled, with its CPU µs, Redis commands and NATS messages per event
 *   (b) aggregation: the aggregation service, ready, then draining events.clean as it is filled, all default
 *                    metrics, on simulated shop traffic (Zipf-popular products: what a shop sends); its CPU
 *                    µs per event (no window result is published in this run)
 *   (c) end to end:  ingestion + dedup + aggregation as processes; events sent over HTTP until every window
 *                    they fill has fired (final results published)
 *   (d) latency:     under steady live traffic (event time = wall clock, `--rate` events/s for `--seconds`),
 *                    with one more metric, a 1-second tumbling count (METRICS_FILE): p50/p99 from the
 *                    watermark passing a window's end to its result being received on results.<metric>
 *   (e) the full pipeline from outside: all five services, 120,000 shop events posted as NDJSON batches of
 *                    1,000 over 4 connections, until every window is final and every consumer drained: CPU µs
 *                    per event of every process (from /proc, inside the timed window), NATS messages per event
 *                    (nats-server /varz in + out), Redis commands per event (INFO commandstats); the median of
 *                    `--runs` runs (default 3), beside the per-event path measured before frames. Each run first
 *                    sends `--warmup` events of another day (default 60,000) and waits for them to drain,
 *                    untimed: steady work is measured, not the JIT compiling the services (`--warmup 0`: from cold).
 *   (g) live:        the full pipeline (all five services, default metrics) under steady shop traffic whose
 *                    event time is the wall clock, `--rate` events/s for `--seconds`: CPU µs per event of every
 *                    process, Redis commands (by command) and bytes sent to Redis per event, NATS messages per
 *                    event by service connection and events per stored frame, from the first request until
 *                    every consumer drained. `--request-ms` (default 20): the time between ingest requests. Unlike (e), which posts minutes of event time in seconds, windows
 *                    stay open as long as they do in a shop, so each checkpoint covers the events of one interval.
 *   (r) recommendation: the recommendation service, ready, then draining events.clean as it is filled: its
 *                    CPU µs, Redis commands and bytes sent to Redis per event; after `--warmup` events of
 *                    another day drained untimed, as (e)
 *   (s) recommendation live: the same service fed clean frames as dedup forwards them live — every 20 ms a
 *                    frame a partition — at `--rate` for `--seconds`: CPU µs per event, user and kernel apart,
 *                    and bytes sent to Redis; what one service costs under live traffic, without four others beside it
 *   (f) memory:      one partition's operator (in this process) holding `--open` open (pane, key) cells of a
 *                    keyed count (product_views-like): heap bytes per million cells; then its checkpoint written
 *                    to a private Redis: Redis bytes (INFO used_memory) per million cells.
 * Goals (issue "Throughput I"): NATS messages per event ≤ 0.1; dedup ≤ 1 Redis command and ≤ 8 µs per event;
 * ingestion ≤ 10 µs; nats-server ≤ 5 µs; ingestion ≥ 0.8 × the framed publish ceiling, each hop ≥ 0.5 × it.
 */
import type { ChildProcess } from 'node:child_process';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import * as v8 from 'node:v8';
import * as vm from 'node:vm';
import { jetstream } from '@nats-io/jetstream';
import type { NatsConnection } from '@nats-io/nats-core';
import { connect } from '@nats-io/transport-node';
import { ALL_STREAMS, chunkFrames, durables, encodeFrame, partitionOf, streams, subjects } from '@tidemark/contracts';
import { JetStreamPublisher, PartitionConsumer, connectNats, decodeFrames, ensureStreams } from '@tidemark/jetstream';
import { connectRedis } from '@tidemark/state';
import { MetricSet, PartitionOperator } from '@tidemark/streaming';
import { RedisAggregationStore } from '../apps/aggregation/src/redis-aggregation.store';
import { UsageError } from '../apps/cli/src/usage';
import { BenchServers, cpuMicros, cpuOfAll, cpuSince, cpuSplitMicros, fmt, freePort, median, natsMessages, natsMessagesByClient, rate, redisCommandCalls, redisCommands, redisInputBytes, sampleEvent, shopEvents, startBenchServers, startService, stopChild } from './support';
import { BENCH_NODE_ARGS, benchCli } from './usage';

const PARTITIONS = 8;
/** At most this many of `--events` go to the framed publish ceiling and to ingestion alone. */
const CEILING_EVENTS = 100_000;

/** What `--parts` picks from, by letter (how each is measured: the header above); lines for the usage. */
const PARTS: Record<string, string> = {
  a: 'dedup alone: the dedup service (its own process) draining events.raw into\nevents.clean as it is filled: events/s; CPU µs, Redis commands, NATS messages per event',
  b: 'aggregation alone: the aggregation service draining events.clean, all default\nmetrics, simulated shop traffic: events/s, CPU µs per event, mean batch',
  c: "end to end: ingestion + dedup + aggregation as processes, events sent over HTTP\nuntil every window they fill is final: events/s, the firer's delay",
  d: "latency under steady live traffic (--rate for --seconds), a 1-second metric\nadded: the watermark passing a window's end → its result received, p50/p99",
  e: 'the full pipeline from outside, all five services, --full-events shop events,\nmedian of --runs: events/s; CPU µs per event of every process, NATS messages\nand Redis commands per event',
  f: "memory (not in the default): one partition's operator, in this process, holding\n--open open (pane, key) cells: heap and Redis bytes per million cells, the time\nof a checkpoint",
  g: 'the full pipeline live (not in the default): all five services, default metrics,\nshop traffic at --rate events/s for --seconds, event time = wall clock: CPU µs per\nevent of every process, Redis commands and bytes sent to Redis per event, NATS\nmessages per event by connection, events per frame',
  r: 'recommendation alone (not in the default): the recommendation service draining\nevents.clean: events/s; CPU µs, Redis commands and bytes sent to Redis per event',
  s: 'recommendation alone, live (not in the default): clean frames at --rate events/s\nfor --seconds, a frame a partition every 20 ms: CPU µs (user and kernel) and bytes\nsent to Redis per event',
};

/** Live traffic's tick: each tick sends what arrived in it, stamped with the wall clock ((g) by default, (s)). */
const LIVE_TICK_MS = 20;

const CLI = benchCli({
  what: 'pipeline',
  options: {
    events: {
      type: 'string',
      default: '200000',
      value: 'N',
      help: `events through (a), (b), (c), (r) and the one-hop limit\n(the framed publish ceiling and ingestion alone take at most ${fmt(CEILING_EVENTS)} of them)`,
    },
    parts: {
      type: 'string',
      default: 'abcde',
      value: 'LETTERS',
      help: `which parts run, any of these letters\n${Object.entries(PARTS)
        .map(([letter, what]) => `${letter}  ${what.replace(/\n/g, '\n   ')}`)
        .join('\n')}\n(a) or (b) first measure the framed publish ceiling, the one-hop limit and\ningestion alone: the limits the hops are compared with`,
    },
    rate: { type: 'string', default: '2000', value: 'R', help: '(d), (g), (s) live events per second' },
    'request-ms': { type: 'string', default: String(LIVE_TICK_MS), value: 'T', help: '(g) milliseconds between ingest requests (each holds the events of T ms)' },
    seconds: { type: 'string', default: '30', value: 'S', help: '(d), (g), (s) seconds of live traffic' },
    'full-events': { type: 'string', default: '120000', value: 'N', help: '(e) shop events posted in each run' },
    runs: { type: 'string', default: '3', value: 'N', help: '(e) runs, each on servers of its own; the median is printed' },
    warmup: { type: 'string', default: '60000', value: 'N', help: '(e), (r) shop events (another day) each run sends and drains before its timed window; 0: none, services measured from cold' },
    open: { type: 'string', default: '1000000', value: 'N', help: '(f) open (pane, key) cells the operator holds' },
  },
  env: [BENCH_NODE_ARGS],
  about: `The processing hops beside the limits they are compared with, measured in the same run, ${PARTITIONS} partitions
(docs/benchmarks.md). Every part starts its own nats-server and redis-server on free ports (nothing else is touched).`,
});

/** Events as frames of up to 1,000 per partition, in order, on `subject(p)` (what ingestion or dedup would store). */
function framesOf(events: Record<string, unknown>[], subject: (p: number) => string): { subject: string; data: Buffer }[] {
  const byPartition = new Map<number, { id: Buffer; body: Buffer }[]>();
  for (const e of events) {
    const p = partitionOf(e.sessionId as string, PARTITIONS);
    if (!byPartition.has(p)) byPartition.set(p, []);
    byPartition.get(p)!.push({ id: Buffer.from(e.id as string), body: Buffer.from(JSON.stringify(e)) });
  }
  const out: { subject: string; data: Buffer }[] = [];
  for (const [p, entries] of byPartition) for (const f of chunkFrames(entries)) out.push({ subject: subject(p), data: encodeFrame(f) });
  return out;
}

/** Publishes frames as fast as JetStream takes them (8,192 in flight); resolves with the time it took, ms. */
async function publishFrames(natsUrl: string, frames: { subject: string; data: Buffer }[]): Promise<number> {
  const conn = await connectNats({ servers: natsUrl, name: 'bench-prefill' });
  await ensureStreams(await conn.jsm(), ALL_STREAMS);
  const pub = new JetStreamPublisher(conn, { maxInFlight: 8192 });
  const t0 = performance.now();
  await pub.publishBatch(frames);
  const ms = performance.now() - t0;
  await pub.close();
  await conn.drain();
  return ms;
}

/** The framed publish ceiling (see the header): events/s. */
async function framedPublishCeiling(natsUrl: string, count: number, runId: string): Promise<number> {
  const now = Date.now();
  const bodies: Buffer[] = [];
  for (let i = 0; i < count; i += 1000) {
    bodies.push(Buffer.from(Array.from({ length: Math.min(1000, count - i) }, (_, j) => JSON.stringify(sampleEvent(i + j, now, `${runId}-ceiling`))).join('\n')));
  }
  const conn = await connectNats({ servers: natsUrl, name: 'bench-ceiling' });
  await ensureStreams(await conn.jsm(), ALL_STREAMS);
  const pub = new JetStreamPublisher(conn, { maxInFlight: 1024 });
  const acks: Promise<unknown>[] = [];
  const t0 = performance.now();
  for (const body of bodies) {
    const byPartition = new Map<number, { id: Buffer; body: Buffer }[]>();
    for (const line of body.toString('utf8').split('\n')) {
      const e = JSON.parse(line) as { id: string; sessionId: string };
      const p = partitionOf(e.sessionId, PARTITIONS);
      if (!byPartition.has(p)) byPartition.set(p, []);
      byPartition.get(p)!.push({ id: Buffer.from(e.id), body: Buffer.from(JSON.stringify(e)) });
    }
    for (const [p, entries] of byPartition) for (const f of chunkFrames(entries)) acks.push(pub.publish(subjects.raw(p), encodeFrame(f)));
  }
  await Promise.all(acks);
  const ms = performance.now() - t0;
  await pub.close();
  await conn.drain();
  return rate(count, ms);
}

/** Empties events.raw. */
async function purgeRaw(natsUrl: string): Promise<void> {
  const purger = await connectNats({ servers: natsUrl, name: 'bench-purge' });
  await (await purger.jsm()).streams.purge(streams.raw.name);
  await purger.drain();
}

async function prefill(natsUrl: string, count: number, runId: string): Promise<number> {
  const now = Date.now();
  const events = Array.from({ length: count }, (_, j) => sampleEvent(j, now, runId));
  return publishFrames(natsUrl, framesOf(events, subjects.raw));
}

/** Ingestion alone: NDJSON requests of 1,000 events over 4 connections, until JetStream acknowledged all. */
async function ingestionAlone(natsUrl: string, count: number, runId: string): Promise<{ rate: number; cpuPerEvent: number }> {
  const ports = { http: await freePort(), tcp: await freePort() };
  const child = await startService(
    'ingestion',
    { NATS_URL: natsUrl, PARTITIONS: String(PARTITIONS), INGESTION_PORT: String(ports.http), INGESTION_TCP_PORT: String(ports.tcp) },
    `http://127.0.0.1:${ports.http}/health/ready`,
  );
  const now = Date.now();
  const bodies: string[] = [];
  for (let i = 0; i < count; i += 1000) bodies.push(Array.from({ length: Math.min(1000, count - i) }, (_, j) => JSON.stringify(sampleEvent(i + j, now, `${runId}-ingest`))).join('\n'));
  const cpu0 = cpuMicros(child.pid!);
  const t0 = performance.now();
  await postAll(ports.http, bodies, 4);
  const ms = performance.now() - t0;
  const cpu = cpuMicros(child.pid!) - cpu0;
  await stopChild(child);
  return { rate: rate(count, ms), cpuPerEvent: cpu / count };
}

/** POSTs every body (NDJSON) over `connections` concurrent clients; throws on anything but 202. */
async function postAll(port: number, bodies: string[], connections: number): Promise<void> {
  let next = 0;
  await Promise.all(
    Array.from({ length: connections }, async () => {
      while (next < bodies.length) {
        const res = await fetch(`http://127.0.0.1:${port}/v1/events`, { method: 'POST', headers: { 'content-type': 'application/x-ndjson' }, body: bodies[next++] });
        if (res.status !== 202) throw new Error(`ingestion answered ${res.status}: ${await res.text()}`);
        await res.arrayBuffer();
      }
    }),
  );
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
      maxBytes: 1024 * 1024,
      handler: async (batch) => {
        const { events } = decodeFrames(batch);
        await redis.incrby('bench:hop', events.length);
        done += events.length;
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

/** One service as its own process on the bench servers, ready, with a NATS and a Redis connection to read counters; `stop` ends all three. */
async function startHop(servers: BenchServers, name: string, portVar: string, extra: Record<string, string> = {}) {
  const port = await freePort();
  const nc = await connect({ servers: servers.natsUrl });
  const redis = await connectRedis(servers.redisUrl, 'bench');
  const env = { NATS_URL: servers.natsUrl, REDIS_URL: servers.redisUrl, [portVar]: String(port), PARTITIONS: String(PARTITIONS), ...extra };
  const child = await startService(name, env, `http://127.0.0.1:${port}/health/ready`);
  const stop = async () => {
    await stopChild(child);
    await redis.quit();
    await nc.close();
  };
  return { port, nc, redis, child, stop };
}

/**
 * (a) The dedup service alone: ready on an empty events.raw, then `count` events published into it as ingestion
 * would (frames of up to 1,000), drained into events.clean. Its CPU, Redis commands and its own connection's
 * NATS messages per event, from its ready until drained (a backlog there before it started would be drained
 * during its start-up, out of the count).
 */
async function dedupHop(servers: BenchServers, count: number, runId: string): Promise<{ rate: number; cpuPerEvent: number; redisPerEvent: number; natsPerEvent: number }> {
  const { nc, redis, child, stop } = await startHop(servers, 'dedup', 'DEDUP_PORT');
  const dedupMessages = async () => (await natsMessagesByClient(servers.natsMonitorUrl))['tidemark-dedup'] ?? 0;
  const [cpu0, cmd0, msg0] = [cpuMicros(child.pid!), await redisCommands(redis), await dedupMessages()];
  const t0 = performance.now();
  await prefill(servers.natsUrl, count, runId);
  while (!(await consumersDrained(nc, streams.raw.name, durables.dedup))) await new Promise((r) => setTimeout(r, 10));
  const ms = performance.now() - t0;
  const [cpu, cmds, msgs] = [cpuMicros(child.pid!) - cpu0, (await redisCommands(redis)) - cmd0, (await dedupMessages()) - msg0];
  await stop();
  return { rate: rate(count, ms), cpuPerEvent: cpu / count, redisPerEvent: cmds / count, natsPerEvent: msgs / count };
}

/**
 * (r) The recommendation service alone: started and ready on empty streams, then shop traffic is published
 * into events.clean as dedup would (frames of up to 1,000) and the service drains it. Its CPU, the Redis
 * commands and the bytes it sends Redis (its checkpoints, almost all) per event, from its ready until drained.
 * With `warmup` > 0, that many events of another shop day (days earlier, another seed) are published and
 * drained first, untimed, as in (e).
 */
async function recommendationHop(servers: BenchServers, count: number, runId: string, warmup: number): Promise<{ rate: number; cpuPerEvent: number; redisPerEvent: number; redisBytesPerEvent: number }> {
  const { nc, redis, child, stop } = await startHop(servers, 'recommendation', 'RECOMMENDATION_PORT');
  if (warmup > 0) {
    await publishFrames(servers.natsUrl, framesOf(shopEvents(warmup, `${runId}-warm`, Date.UTC(2025, 11, 20), 7), subjects.clean));
    while (!(await consumersDrained(nc, streams.clean.name, durables.recommendation))) await new Promise((r) => setTimeout(r, 10));
  }
  const [cpu0, cmd0, bytes0] = [cpuMicros(child.pid!), await redisCommands(redis), await redisInputBytes(redis)];
  const t0 = performance.now();
  await prefillClean(servers.natsUrl, count, runId);
  while (!(await consumersDrained(nc, streams.clean.name, durables.recommendation))) await new Promise((r) => setTimeout(r, 10));
  const ms = performance.now() - t0;
  const [cpu, cmds, bytes] = [cpuMicros(child.pid!) - cpu0, (await redisCommands(redis)) - cmd0, (await redisInputBytes(redis)) - bytes0];
  await stop();
  return { rate: rate(count, ms), cpuPerEvent: cpu / count, redisPerEvent: cmds / count, redisBytesPerEvent: bytes / count };
}

const livePerTick = (ratePerSecond: number, tickMs = LIVE_TICK_MS) => Math.max(1, Math.round((ratePerSecond * tickMs) / 1000));

/**
 * Shop events as live traffic: every `tickMs` (LIVE_TICK_MS) the next tick's share of `ratePerSecond`, stamped with
 * the wall clock when it goes, handed to `send` (awaited), while `more(tick)` holds and events last. The events sent.
 */
async function sendLive(events: readonly Record<string, unknown>[], ratePerSecond: number, more: (tick: number) => boolean, send: (batch: Record<string, unknown>[], tick: number) => Promise<void>, tickMs = LIVE_TICK_MS): Promise<number> {
  const perTick = livePerTick(ratePerSecond, tickMs);
  const t0 = performance.now();
  let sent = 0;
  for (let tick = 0; more(tick) && sent + perTick <= events.length; tick++) {
    const wait = t0 + tick * tickMs - performance.now();
    if (wait > 0) await new Promise((r) => setTimeout(r, wait));
    const now = Date.now();
    await send(events.slice(sent, sent + perTick).map((e) => ({ ...e, ts: now })), tick);
    sent += perTick;
  }
  return sent;
}

/**
 * (s) The recommendation service alone under live traffic: ready on empty streams, then shop events stamped with
 * the wall clock published into events.clean as dedup would forward them live — every 20 ms a frame per
 * partition of what arrived — at `ratePerSecond` for `seconds` after 5 s of warm-up. Its CPU (user and kernel,
 * from /proc) and the bytes it sent Redis per event over the timed seconds.
 */
async function recommendationLive(servers: BenchServers, ratePerSecond: number, seconds: number, runId: string): Promise<{ sent: number; user: number; kernel: number; redisBytesPerEvent: number }> {
  const { redis, child, stop } = await startHop(servers, 'recommendation', 'RECOMMENDATION_PORT');
  const conn = await connectNats({ servers: servers.natsUrl, name: 'bench-live-clean' });
  const pub = new JetStreamPublisher(conn, { maxInFlight: 1024 });
  const warmTicks = Math.round(5_000 / LIVE_TICK_MS);
  const ticks = warmTicks + Math.round((seconds * 1000) / LIVE_TICK_MS);
  const events = shopEvents(livePerTick(ratePerSecond) * ticks, runId, Date.now());
  const times = () => cpuSplitMicros(child.pid!);
  let start = times();
  let bytes0 = 0;
  let sent = 0;
  const publishing: Promise<unknown>[] = [];
  try {
    await sendLive(events, ratePerSecond, (tick) => tick < ticks, async (batch, tick) => {
      if (tick === warmTicks) [start, bytes0, sent] = [times(), await redisInputBytes(redis), 0];
      sent += batch.length;
      publishing.push(pub.publishBatch(framesOf(batch, subjects.clean))); // not awaited: frames go as dedup's would
    });
    await Promise.all(publishing);
    await new Promise((r) => setTimeout(r, 2 * LIVE_TICK_MS + 500)); // the last frames applied and checkpointed
    const end = times();
    const bytes = (await redisInputBytes(redis)) - bytes0;
    return { sent, user: (end.user - start.user) / sent, kernel: (end.kernel - start.kernel) / sent, redisBytesPerEvent: bytes / sent };
  } finally {
    await pub.close();
    await conn.drain();
    await stop();
  }
}

async function consumersDrained(nc: NatsConnection, stream: string, durable: (p: number) => string): Promise<boolean> {
  const jsm = await jetstream(nc).jetstreamManager();
  for (let p = 0; p < PARTITIONS; p++) {
    const info = await jsm.consumers.info(stream, durable(p)).catch(() => null);
    if (!info || info.num_pending + info.num_ack_pending > 0) return false;
  }
  return true;
}

/** Shop events as clean frames (as dedup would store them), for the aggregation hop alone. */
async function prefillClean(natsUrl: string, count: number, runId: string): Promise<void> {
  await publishFrames(natsUrl, framesOf(shopEvents(count, runId, Date.UTC(2026, 0, 1)), subjects.clean));
}

/**
 * (b) The aggregation service alone: ready on an empty events.clean, then shop traffic published into it as
 * dedup would, drained. Its rate and CPU per event from its ready until drained, the mean batch, retries.
 */
async function aggregationHop(servers: BenchServers, count: number, runId: string): Promise<{ rate: number; cpuPerEvent: number; batch: number; retries: number }> {
  const { port, nc, child, stop } = await startHop(servers, 'aggregation', 'AGGREGATION_PORT', { WATERMARK_IDLE_ADVANCE: 'off' });
  const cpu0 = cpuMicros(child.pid!);
  const t0 = performance.now();
  await prefillClean(servers.natsUrl, count, runId);
  while (!(await consumersDrained(nc, streams.clean.name, durables.aggregation))) await new Promise((r) => setTimeout(r, 20));
  const ms = performance.now() - t0;
  const cpu = cpuMicros(child.pid!) - cpu0;
  const text = await (await fetch(`http://127.0.0.1:${port}/metrics`)).text();
  await stop();
  const retries = [...text.matchAll(/^tidemark_consumer_retries_total\{[^}]*\} (\d+)/gm)].reduce((a, m) => a + Number(m[1]), 0);
  return { rate: rate(count, ms), cpuPerEvent: cpu / count, batch: meanBatch(text), retries };
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
  // the events' requests, then the flush: every partition's watermark past every window the others filled
  const { bodies, lastWindowEnd } = fullBodies(shopEvents(count, runId, Date.UTC(2026, 1, 1)), runId);
  const t0 = performance.now();
  await postAll(ports.http, bodies.slice(0, -1), 8);
  await postAll(ports.http, bodies.slice(-1), 1);
  // Done when every event went through both hops and the last data window has fired.
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

/** (f) Heap and Redis bytes of open (pane, key) cells: one partition's operator, one checkpoint. */
async function operatorMemory(cells: number): Promise<{ cells: number; heapPerMillion: number; redisPerMillion: number; checkpointMs: number }> {
  const set = new MetricSet([{ name: 'views', source: { types: ['product_view'] }, key: 'productId', aggregation: { type: 'count' }, window: { type: 'tumbling', size: '1m' } }]);
  // A real gc() for the heap figures (no --expose-gc on the command line needed).
  v8.setFlagsFromString('--expose-gc');
  const gc = vm.runInNewContext('gc') as () => void;
  gc();
  const heap0 = process.memoryUsage().heapUsed;
  const op = new PartitionOperator(set, 0, {});
  const base = Date.UTC(2026, 0, 1);
  const servers = await startBenchServers();
  try {
    const redis = await connectRedis(servers.redisUrl, 'bench');
    const used = async () => Number(/used_memory:(\d+)/.exec(await redis.info('memory'))![1]);
    const before = await used();
    const store = new RedisAggregationStore(redis, set);
    let checkpointMs = 0;
    // Batches of 10,000 events, a checkpoint after each (CHECKPOINT_MAX_EVENTS caps a real one at 20,000).
    for (let i = 0, seq = 1; i < cells; i += 10_000, seq++) {
      const batch = Array.from({ length: Math.min(10_000, cells - i) }, (_, k) => ({ seq, event: { id: `m${i + k}`, type: 'product_view', ts: base, userId: 'u', sessionId: 's', productId: `product-${i + k}` } as never }));
      op.apply(batch, 0);
      const t0 = performance.now();
      const { checkpoint } = op.prepare(seq - 1, seq);
      const r = await store.checkpoint(0, checkpoint);
      if (r.status !== 'ok') throw new Error('checkpoint conflict');
      op.committed(r.watermark, r.horizon);
      checkpointMs += performance.now() - t0;
    }
    gc();
    const heap = process.memoryUsage().heapUsed - heap0;
    const after = await used();
    await redis.quit();
    return { cells: op.size, heapPerMillion: (heap / op.size) * 1e6, redisPerMillion: ((after - before) / op.size) * 1e6, checkpointMs: checkpointMs / Math.ceil(cells / 10_000) };
  } finally {
    await servers.stop();
  }
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

interface FullRun {
  rate: number;
  /** CPU µs per event, by process. */
  cpu: Record<string, number>;
  natsPerEvent: number;
  /** NATS messages per event by client (service), from nats-server's /connz. */
  natsByClient: Record<string, number>;
  /** Window results published per event (each a message on results.<metric>: the results contract). */
  resultsPerEvent: number;
  redisPerEvent: number;
  /** Redis commands per event, by command. */
  redisByCommand: Record<string, number>;
  redisBytesPerEvent: number;
  /** Bytes all clients sent Redis per event (commands and their arguments). */
  redisInPerEvent: number;
  /** JetStream bytes stored per event, by stream (file storage; raw and clean frames, results). */
  streamBytesPerEvent: Record<string, number>;
}

const FULL_SERVICES = ['ingestion', 'dedup', 'aggregation', 'recommendation', 'alerting'] as const;

/** Private servers and all five services on free ports ((e), (g)); `env` adds settings. `stop` ends it all. */
async function startFullStack(env: Record<string, string>) {
  const servers = await startBenchServers();
  const redis = await connectRedis(servers.redisUrl, 'bench');
  const nc = await connect({ servers: servers.natsUrl });
  const ports = { ingestion: await freePort(), tcp: await freePort(), dedup: await freePort(), aggregation: await freePort(), recommendation: await freePort(), alerting: await freePort() };
  const all = {
    NATS_URL: servers.natsUrl,
    REDIS_URL: servers.redisUrl,
    PARTITIONS: String(PARTITIONS),
    ...env,
    INGESTION_PORT: String(ports.ingestion),
    INGESTION_TCP_PORT: String(ports.tcp),
    DEDUP_PORT: String(ports.dedup),
    AGGREGATION_PORT: String(ports.aggregation),
    RECOMMENDATION_PORT: String(ports.recommendation),
    ALERTING_PORT: String(ports.alerting),
  };
  const children = await Promise.all(FULL_SERVICES.map((name) => startService(name, all, `http://127.0.0.1:${ports[name]}/health/ready`)));
  const pids: Record<string, number> = { 'nats-server': servers.natsPid, 'redis-server': servers.redisPid };
  FULL_SERVICES.forEach((name, i) => (pids[name] = children[i].pid!));
  const stop = async () => {
    for (const c of children) await stopChild(c);
    await redis.quit();
    await nc.close();
    await servers.stop();
  };
  return { servers, redis, nc, ports, pids, stop };
}

/** Redis commands per event by command since `before` (INFO commandstats snapshots), the ones that ran. */
function commandsPerEvent(before: Record<string, number>, after: Record<string, number>, per: number): Record<string, number> {
  return Object.fromEntries(Object.entries(after).map(([k, v]) => [k, (v - (before[k] ?? 0)) / per]).filter(([, v]) => (v as number) > 0));
}

/** NATS messages per event by service connection (`tidemark-<service>`) since `before` (connz snapshots). */
function serviceMessagesPerEvent(before: Record<string, number>, after: Record<string, number>, per: number): Record<string, number> {
  return Object.fromEntries(Object.entries(after).filter(([k]) => k.startsWith('tidemark-')).map(([k, v]) => [k.replace(/^tidemark-/, ''), (v - (before[k] ?? 0)) / per]));
}

/** The "by command" line: the 12 most used commands, most used first. */
function printByCommand(perEvent: Iterable<readonly [string, number]>): void {
  const commands = [...perEvent].sort((a, b) => b[1] - a[1]);
  console.log(`        by command: ${commands.slice(0, 12).map(([c, v]) => `${c} ${v.toFixed(2)}`).join(', ')}`);
}

interface LiveRun {
  /** Events sent, and the rate achieved (the sender waits for each request's answer). */
  sent: number;
  rate: number;
  /** CPU µs per event, by process. */
  cpu: Record<string, number>;
  /** CPU µs per second of the same processes idle (no traffic, measured before it), by process. */
  idle: Record<string, number>;
  /** The traffic's duration, ms (the sending until every consumer drained). */
  ms: number;
  redisPerEvent: number;
  redisInPerEvent: number;
  /** Redis commands per event, by command. */
  redisByCommand: Record<string, number>;
  /** NATS messages (in + out) per event, all of nats-server and by service connection. */
  natsPerEvent: number;
  natsByClient: Record<string, number>;
  /** Events per stored message (frame) of events.raw and of events.clean. */
  eventsPerFrame: { raw: number; clean: number };
}

/** (g) The full pipeline under steady live traffic: shop events re-timed to the wall clock, `rate` a second. */
async function livePipeline(ratePerSecond: number, seconds: number, runId: string, requestMs = LIVE_TICK_MS): Promise<LiveRun> {
  const { servers, redis, nc, ports, pids, stop } = await startFullStack({});
  try {
    // The simulator's shop, in its order (sessions as a shop has them), each event stamped with the wall clock
    // when it is sent (sendLive).
    const events = shopEvents(Math.ceil((ratePerSecond * seconds * 11) / 10), runId, 0);
    // What the processes cost with no traffic at all (timers, idle pulls, leases), to tell apart from per-event work.
    const idle0 = cpuOfAll(pids);
    const idleStart = performance.now();
    await new Promise((r) => setTimeout(r, 5_000));
    const idleSeconds = (performance.now() - idleStart) / 1000;
    const idle = cpuSince(pids, idle0, idleSeconds);
    const cpu0 = cpuOfAll(pids);
    const [cmd0, in0] = [await redisCommands(redis), await redisInputBytes(redis)];
    const [calls0, msg0, byClient0] = [await redisCommandCalls(redis), await natsMessages(servers.natsMonitorUrl), await natsMessagesByClient(servers.natsMonitorUrl)];
    const jsm = await jetstream(nc).jetstreamManager();
    const framesOf = async () => Promise.all([streams.raw.name, streams.clean.name].map(async (name) => (await jsm.streams.info(name)).state.messages));
    const frames0 = await framesOf();
    const t0 = performance.now();
    const end = Date.now() + seconds * 1000;
    const sent = await sendLive(events, ratePerSecond, () => Date.now() < end, async (batch) => {
      const body = batch.map((e) => JSON.stringify(e)).join('\n');
      const res = await fetch(`http://127.0.0.1:${ports.ingestion}/v1/events`, { method: 'POST', headers: { 'content-type': 'application/x-ndjson' }, body });
      if (res.status !== 202) throw new Error(`ingestion answered ${res.status}: ${await res.text()}`);
      await res.arrayBuffer();
    }, requestMs);
    const sendingMs = performance.now() - t0;
    for (;;) {
      const drained =
        (await consumersDrained(nc, streams.raw.name, durables.dedup)) &&
        (await consumersDrained(nc, streams.clean.name, durables.aggregation)) &&
        (await consumersDrained(nc, streams.clean.name, durables.recommendation));
      if (drained) break;
      await new Promise((r) => setTimeout(r, 20));
    }
    const cpu = cpuSince(pids, cpu0, sent);
    const redisPerEvent = ((await redisCommands(redis)) - cmd0) / sent;
    const redisInPerEvent = ((await redisInputBytes(redis)) - in0) / sent;
    const calls1 = await redisCommandCalls(redis);
    const redisByCommand = commandsPerEvent(calls0, calls1, sent);
    const natsPerEvent = ((await natsMessages(servers.natsMonitorUrl)) - msg0) / sent;
    const byClient1 = await natsMessagesByClient(servers.natsMonitorUrl);
    const natsByClient = serviceMessagesPerEvent(byClient0, byClient1, sent);
    const frames1 = await framesOf();
    const eventsPerFrame = { raw: sent / (frames1[0] - frames0[0]), clean: sent / (frames1[1] - frames0[1]) };
    return { sent, rate: rate(sent, sendingMs), cpu, idle, ms: performance.now() - t0, redisPerEvent, redisInPerEvent, redisByCommand, natsPerEvent, natsByClient, eventsPerFrame };
  } finally {
    await stop();
  }
}

function printLive(r: LiveRun, seconds: number, requestMs: number): void {
  const names = ['redis-server', 'aggregation', 'nats-server', 'dedup', 'recommendation', 'ingestion', 'alerting'];
  const sum = Object.values(r.cpu).reduce((a, b) => a + b, 0);
  console.log(`  (g) full pipeline live, all five services, default metrics: ${fmt(r.sent)} shop events in ${seconds} s (${fmt(Math.round(r.rate))} events/s, a request every ${requestMs} ms), event time = wall clock:`);
  console.log(`      CPU µs per event: ${names.map((n) => `${n} ${(r.cpu[n] ?? 0).toFixed(1)}`).join(', ')}; sum ${sum.toFixed(1)}`);
  // the same processes idle for as long, spread over the events: what is left is the work the events cost
  const above = (n: string) => (r.cpu[n] ?? 0) - ((r.idle[n] ?? 0) * r.ms) / 1000 / r.sent;
  const aboveSum = names.reduce((a, n) => a + above(n), 0);
  console.log(`      of which above idle (idle CPU for as long subtracted): ${names.map((n) => `${n} ${above(n).toFixed(1)}`).join(', ')}; sum ${aboveSum.toFixed(1)}`);
  console.log(`      idle, CPU ms per second: ${names.map((n) => `${n} ${((r.idle[n] ?? 0) / 1000).toFixed(1)}`).join(', ')}`);
  console.log(`      Redis commands per event ${r.redisPerEvent.toFixed(2)}, bytes sent to Redis per event ${Math.round(r.redisInPerEvent)}`);
  printByCommand(Object.entries(r.redisByCommand));
  console.log(`      NATS messages per event ${r.natsPerEvent.toFixed(3)}; by connection: ${FULL_SERVICES.map((n) => `${n} ${(r.natsByClient[n] ?? 0).toFixed(3)}`).join(', ')}`);
  console.log(`      events per frame: ${r.eventsPerFrame.raw.toFixed(1)} on events.raw, ${r.eventsPerFrame.clean.toFixed(1)} on events.clean`);
}

/** NDJSON request bodies of `events` (1,000 a request), then one request whose events move every partition's watermark two hours past the last. */
function fullBodies(events: Record<string, unknown>[], runId: string): { bodies: string[]; lastWindowEnd: number } {
  const lastTs = events.reduce((m, e) => Math.max(m, e.ts as number), -Infinity);
  const bodies: string[] = [];
  for (let i = 0; i < events.length; i += 1000) bodies.push(events.slice(i, i + 1000).map((e) => JSON.stringify(e)).join('\n'));
  // One more request moves every partition's watermark past every window the data filled.
  const end = lastTs + 2 * 3_600_000;
  bodies.push(Array.from({ length: 64 }, (_, i) => JSON.stringify({ id: `${runId}-flush-${i}`, type: 'page_view', ts: end, userId: 'f', sessionId: `flush-${i}` })).join('\n'));
  return { bodies, lastWindowEnd: Math.floor(lastTs / 60_000) * 60_000 + 60_000 };
}

/** Posts the bodies (the last, the flush, after the others) and waits until every consumer drained and the last windows are final. */
async function postAndSettle(nc: NatsConnection, ports: { ingestion: number; aggregation: number }, run: { bodies: string[]; lastWindowEnd: number }): Promise<void> {
  await postAll(ports.ingestion, run.bodies.slice(0, -1), 4);
  await postAll(ports.ingestion, run.bodies.slice(-1), 1);
  const agg = `http://127.0.0.1:${ports.aggregation}`;
  for (;;) {
    const drained =
      (await consumersDrained(nc, streams.raw.name, durables.dedup)) &&
      (await consumersDrained(nc, streams.clean.name, durables.aggregation)) &&
      (await consumersDrained(nc, streams.clean.name, durables.recommendation));
    if (drained) {
      const final = async (metric: string) => {
        const rows = (await (await fetch(`${agg}/v1/metrics/${metric}?from=${run.lastWindowEnd - 60_000}&to=${run.lastWindowEnd}`)).json()) as { final: boolean }[];
        return rows.length > 0 && rows.every((x) => x.final);
      };
      const alerting = await (await jetstream(nc).jetstreamManager()).consumers.info(streams.results.name, durables.alerting).catch(() => null);
      if ((await final('events')) && (await final('gmv')) && alerting && alerting.num_pending + alerting.num_ack_pending === 0) return;
    }
    await new Promise((r) => setTimeout(r, 20));
  }
}

/**
 * (e) One run of the full pipeline from outside, on servers of its own. With `warmup` > 0, that many other
 * shop events (another simulated shop day, days earlier, with its own flush) go through first, untimed: the
 * services' code is compiled and their state holds a shop's products and users, as in a service that has
 * been running; the timed window then measures steady work, not the JIT's start.
 */
async function fullPipeline(count: number, runId: string, warmup: number): Promise<FullRun> {
  // Windows fire on the data alone (no idle advance, no wall-clock absence alerts): the same results every run.
  const { servers, redis, nc, ports, pids, stop } = await startFullStack({ WATERMARK_IDLE_ADVANCE: 'off', ALERTING_ABSENCE_WALLCLOCK: 'off', FIRE_INTERVAL_MS: '50' });
  try {
    if (warmup > 0) await postAndSettle(nc, ports, fullBodies(shopEvents(warmup, `${runId}-warm`, Date.UTC(2026, 1, 20), 7), `${runId}-warm`));
    const run = fullBodies(shopEvents(count, runId, Date.UTC(2026, 2, 1)), runId);
    const memory0 = Number(/used_memory:(\d+)/.exec(await redis.info('memory'))![1]);
    const cpu0 = cpuOfAll(pids);
    const [cmd0, msg0, in0] = [await redisCommands(redis), await natsMessages(servers.natsMonitorUrl), await redisInputBytes(redis)];
    const byClient0 = await natsMessagesByClient(servers.natsMonitorUrl);
    const calls0 = await redisCommandCalls(redis);
    const jsm = await jetstream(nc).jetstreamManager();
    const results0 = (await jsm.streams.info(streams.results.name)).state.messages;
    const bytesOf = async () => Object.fromEntries(await Promise.all([streams.raw, streams.clean, streams.results].map(async (x) => [x.name, (await jsm.streams.info(x.name)).state.bytes] as const)));
    const bytes0 = await bytesOf();
    const t0 = performance.now();
    await postAndSettle(nc, ports, run);
    const ms = performance.now() - t0;
    const cpu = cpuSince(pids, cpu0, count);
    const cmds = (await redisCommands(redis)) - cmd0;
    const redisIn = (await redisInputBytes(redis)) - in0;
    const msgs = (await natsMessages(servers.natsMonitorUrl)) - msg0;
    const memory = Number(/used_memory:(\d+)/.exec(await redis.info('memory'))![1]) - memory0;
    const byClient1 = await natsMessagesByClient(servers.natsMonitorUrl);
    const natsByClient = serviceMessagesPerEvent(byClient0, byClient1, count);
    const results = (await jsm.streams.info(streams.results.name)).state.messages - results0;
    const calls1 = await redisCommandCalls(redis);
    const bytes1 = await bytesOf();
    const streamBytesPerEvent = Object.fromEntries(Object.entries(bytes1).map(([k, v]) => [k, (v - (bytes0[k] ?? 0)) / count]));
    const redisByCommand = commandsPerEvent(calls0, calls1, count);
    return { rate: rate(count, ms), cpu, natsPerEvent: msgs / count, natsByClient, resultsPerEvent: results / count, redisPerEvent: cmds / count, redisByCommand, redisBytesPerEvent: memory / count, redisInPerEvent: redisIn / count, streamBytesPerEvent };
  } finally {
    await stop();
  }
}

/** The per-event path before frames, measured the same way on 2026-11-30 (issue "Throughput I"), for comparison. */
const BEFORE_FRAMES = {
  rate: 5_600,
  cpu: { 'redis-server': 125, aggregation: 64, 'nats-server': 44, dedup: 28, recommendation: 20, ingestion: 16, alerting: 15 } as Record<string, number>,
  natsPerEvent: 9.1,
  redisPerEvent: 33.5,
};

function printFull(runs: FullRun[], count: number, warmup: number): void {
  const m = (f: (r: FullRun) => number) => median(runs.map(f));
  const names = ['redis-server', 'aggregation', 'nats-server', 'dedup', 'recommendation', 'ingestion', 'alerting'];
  const sum = m((r) => Object.values(r.cpu).reduce((a, b) => a + b, 0));
  const before = Object.values(BEFORE_FRAMES.cpu).reduce((a, b) => a + b, 0);
  const warm = warmup > 0 ? `after ${fmt(warmup)} of warm-up` : 'from cold (no warm-up)';
  console.log(`  (e) full pipeline from outside, all five services, ${fmt(count)} shop events ${warm}, median of ${runs.length} run(s):`);
  console.log(`      ${'figure'.padEnd(42)}${'frames'.padStart(10)}${'before frames'.padStart(16)}   goal`);
  const row = (label: string, now: string, was: string, goal = '') => console.log(`      ${label.padEnd(42)}${now.padStart(10)}${was.padStart(16)}   ${goal}`);
  row('end to end, events/s', fmt(Math.round(m((r) => r.rate))), fmt(BEFORE_FRAMES.rate), '≥ 30,000');
  row('NATS messages per event', m((r) => r.natsPerEvent).toFixed(3), BEFORE_FRAMES.natsPerEvent.toFixed(1), '≤ 0.1');
  for (const n of FULL_SERVICES) row(`  of which ${n}'s connection`, m((r) => r.natsByClient[n] ?? 0).toFixed(3), '');
  row('window results published per event', m((r) => r.resultsPerEvent).toFixed(3), '', '(a message each on results.<metric>)');
  row('Redis commands per event', m((r) => r.redisPerEvent).toFixed(2), BEFORE_FRAMES.redisPerEvent.toFixed(1), '≤ 2 (issue "Throughput II")');
  printByCommand([...new Set(runs.flatMap((r) => Object.keys(r.redisByCommand)))].map((c) => [c, m((r) => r.redisByCommand[c] ?? 0)] as const));
  row('bytes sent to Redis per event', fmt(Math.round(m((r) => r.redisInPerEvent))), '');
  row('Redis memory kept per event, bytes', fmt(Math.round(m((r) => r.redisBytesPerEvent))), '~1,000');
  for (const name of Object.keys(runs[0].streamBytesPerEvent)) row(`JetStream bytes per event: ${name}`, fmt(Math.round(m((r) => r.streamBytesPerEvent[name]))), '');
  const goals: Record<string, string> = { 'nats-server': '≤ 5', ingestion: '≤ 10', dedup: '≤ 8' };
  for (const n of names) row(`CPU µs per event: ${n}`, m((r) => r.cpu[n]).toFixed(1), String(BEFORE_FRAMES.cpu[n]), goals[n] ?? '');
  row('CPU µs per event: sum', sum.toFixed(1), String(before), '≤ 66 (= 30 K events/s on two cores)');
}

export async function main(args: string[]): Promise<number> {
  const values = CLI.parse(args);
  if (!values) return 0; // --help
  const count = Number(values.events);
  const parts = new Set(values.parts.split(''));
  const warmup = Number(values.warmup);
  if (!Number.isInteger(warmup) || warmup < 0) throw new UsageError(`--warmup takes a whole number of events, not "${values.warmup}"`);
  const unknown = [...parts].filter((p) => !(p in PARTS));
  if (parts.size === 0 || unknown.length > 0) throw new UsageError(`--parts takes letters of ${Object.keys(PARTS).join('')}, not "${values.parts}"`);
  const ms = (s: number) => (Number.isFinite(s) ? `≤ ${Math.round(s * 1000)} ms` : 'n/a');
  console.log(`tidemark bench pipeline: ${fmt(count)} events over ${PARTITIONS} partitions, NATS and Redis on this machine; (b) and (c) on simulated shop traffic`);
  const runId = Date.now().toString(36);
  if (parts.has('a') || parts.has('b')) {
    const servers = await startBenchServers();
    let ceiling: number;
    try {
      ceiling = await framedPublishCeiling(servers.natsUrl, Math.min(count, CEILING_EVENTS), runId);
      console.log(`  framed publish ceiling (parse, frame, publish; no HTTP): ${fmt(ceiling)} events/s`);
      // The hops drain their own prefilled backlog: the ceiling's frames are gone from their way first.
      await purgeRaw(servers.natsUrl);
      await prefill(servers.natsUrl, count, runId);
      const limit = await oneHopLimit(servers.natsUrl, servers.redisUrl, count);
      console.log(`  one-hop limit (batch consume → one Redis call → ack):   ${fmt(limit)} events/s  ratio ${(limit / ceiling).toFixed(2)}`);
      if (parts.has('a')) {
        // dedup starts on an empty stream and is timed on a backlog published once it is ready
        await purgeRaw(servers.natsUrl);
        const dedup = await dedupHop(servers, count, `${runId}-dedup`);
        console.log(`  (a) dedup (service process, raw → clean):              ${fmt(dedup.rate)} events/s  ratio ${(dedup.rate / ceiling).toFixed(2)}  (goal ≥ 0.50)`);
        console.log(`      ${dedup.cpuPerEvent.toFixed(1)} µs CPU an event (goal ≤ 8), ${dedup.redisPerEvent.toFixed(2)} Redis commands an event (goal ≤ 1), ${dedup.natsPerEvent.toFixed(3)} NATS messages an event`);
      }
      // After the hops: its events land in events.raw, which they have drained already.
      const ingest = await ingestionAlone(servers.natsUrl, Math.min(count, CEILING_EVENTS), runId);
      console.log(`  ingestion alone (HTTP NDJSON 1,000 a request, 4 conns):  ${fmt(ingest.rate)} events/s  ratio ${(ingest.rate / ceiling).toFixed(2)}  (goal ≥ 0.80); ${ingest.cpuPerEvent.toFixed(1)} µs CPU an event (goal ≤ 10)`);

    } finally {
      await servers.stop();
    }
    if (parts.has('b')) {
      // On servers of their own: nothing left over from (a) in their streams or in Redis.
      const forB = await startBenchServers();
      try {
        const aggregation = await aggregationHop(forB, count, `${runId}-clean`);
        console.log(`  (b) aggregation (service process, all 13 metrics):     ${fmt(aggregation.rate)} events/s  ratio ${(aggregation.rate / ceiling).toFixed(2)}  (goal ≥ 0.50); ${aggregation.cpuPerEvent.toFixed(1)} µs CPU an event (goal ≤ 20); mean batch ${aggregation.batch.toFixed(0)} events, batches retried ${aggregation.retries}`);
      } finally {
        await forB.stop();
      }
    }
  }
  if (parts.has('r')) {
    const forR = await startBenchServers();
    try {
      const r = await recommendationHop(forR, count, `${runId}-recs`, warmup);
      console.log(`  (r) recommendation (service process, clean → Redis${warmup > 0 ? `, after ${fmt(warmup)} of warm-up` : ', from cold'}):   ${fmt(r.rate)} events/s; ${r.cpuPerEvent.toFixed(1)} µs CPU an event (goal ≤ 10), ${r.redisPerEvent.toFixed(3)} Redis commands and ${fmt(r.redisBytesPerEvent)} bytes to Redis an event`);
    } finally {
      await forR.stop();
    }
  }
  if (parts.has('s')) {
    const forS = await startBenchServers();
    try {
      const r = await recommendationLive(forS, Number(values.rate), Number(values.seconds), `${runId}-recs-live`);
      console.log(`  (s) recommendation live, ${fmt(Number(values.rate))} events/s for ${values.seconds} s (${fmt(r.sent)} timed): ${(r.user + r.kernel).toFixed(1)} µs CPU an event (user ${r.user.toFixed(1)}, kernel ${r.kernel.toFixed(1)}), ${fmt(Math.round(r.redisBytesPerEvent))} bytes to Redis an event`);
    } finally {
      await forS.stop();
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
  if (parts.has('f')) {
    const m = await operatorMemory(Number(values.open));
    console.log(`  (f) memory per million open (pane, key) cells of a keyed count, one partition (${fmt(m.cells)} cells):`);
    console.log(`      operator heap ${(m.heapPerMillion / 1e6).toFixed(0)} MB, Redis ${(m.redisPerMillion / 1e6).toFixed(0)} MB; a checkpoint of 10,000 new cells takes ${m.checkpointMs.toFixed(0)} ms`);
  }
  if (parts.has('g')) {
    const requestMs = Number(values['request-ms']);
    if (!Number.isInteger(requestMs) || requestMs < 1 || requestMs > 10_000) throw new UsageError(`--request-ms takes whole milliseconds in 1..10000, not "${values['request-ms']}"`);
    printLive(await livePipeline(Number(values.rate), Number(values.seconds), `${runId}-live`, requestMs), Number(values.seconds), requestMs);
  }
  if (parts.has('e')) {
    const full = Number(values['full-events']);
    const runs: FullRun[] = [];
    for (let r = 0; r < Number(values.runs); r++) runs.push(await fullPipeline(full, `${runId}-full${r}`, warmup));
    printFull(runs, full, warmup);
  }
  return 0;
}
