/**
 * A 3-server NATS JetStream cluster (apps/cli/src/local-nats-cluster.ts, real nats-servers) and one real
 * redis-server under real ingestion, dedup and aggregation processes with NATS_URL listing all three servers
 * and JETSTREAM_REPLICAS=3 (docs/operations.md "NATS clusters"):
 *  - every stream Tidemark provisions, and its durable consumers, have 3 replicas; a stream an operator made
 *    with 1 replica and a longer retention gets 3 replicas and keeps its retention (warned);
 *  - the server leading EVENTS_RAW / EVENTS_CLEAN is killed -9 mid-traffic, traffic goes on (a request that
 *    fails is retried, as clients do after a 503), the server comes back: every event is in EVENTS_CLEAN once
 *    and every window of the 13 metrics equals the brute-force reference (nothing lost, nothing doubled);
 *  - a service booted with JETSTREAM_REPLICAS=1 lowers nothing;
 *  - JETSTREAM_PROVISION=off boots against existing streams, and fails with the missing stream's name.
 */
import { connect } from '@nats-io/transport-node';
import type { NatsConnection } from '@nats-io/nats-core';
import { jetstreamManager, type JetStreamManager } from '@nats-io/jetstream';
import { ALL_STREAMS, durables, streams, type TidemarkEvent, type WindowResultDto } from '@tidemark/contracts';
import { ShopSimulator } from '@tidemark/simulator';
import { eventually, waitForQuiescence } from './support/eventually';
import { streamEventCount } from './support/jetstream-read';
import { computeReference, expectResultsMatch, heartbeats } from './support/reference';
import { NatsClusterHandle, RedisServerHandle, startNatsCluster, startRedis } from './support/servers';
import { serviceProcess } from './support/service-process';
import { freePort } from './support/free-port';
import { Stack, startStack } from './support/stack';

jest.setTimeout(300_000);

const PARTITIONS = 4;
const BOUND = 5_000;
const T0 = Date.UTC(2026, 10, 3, 9);
const DAY_NS = 86_400 * 1e9;
const started = Date.now();
const phase = (what: string) => process.stdout.write(`nats-cluster: ${what} at ${((Date.now() - started) / 1000).toFixed(1)} s\n`);

let cluster: NatsClusterHandle;
let redis: RedisServerHandle;
let stack: Stack;
let nc: NatsConnection;
let jsm: JetStreamManager;
let env: Record<string, string>;

beforeAll(async () => {
  [cluster, redis] = await Promise.all([startNatsCluster(), startRedis()]);
  phase('cluster and redis ready');
  nc = await connect({ servers: cluster.urls.split(','), noAsyncTraces: true, maxReconnectAttempts: -1, reconnectTimeWait: 250 });
  jsm = await jetstreamManager(nc);
  // An operator made EVENTS_LATE before Tidemark ever ran: 1 replica, 30 days of retention.
  await jsm.streams.add({ name: streams.late.name, subjects: [...streams.late.subjects], max_age: 30 * DAY_NS, num_replicas: 1, max_bytes: streams.late.maxBytes });
  env = {
    NATS_URL: cluster.urls,
    JETSTREAM_REPLICAS: '3',
    REDIS_URL: redis.url,
    PARTITIONS: String(PARTITIONS),
    MAX_OUT_OF_ORDERNESS_MS: String(BOUND),
    FRAME_MAX_EVENTS: '50',
    CHECKPOINT_INTERVAL_MS: '50',
    // The events are from the past and sent ~50 times faster than their event time passes: neither the clock
    // nor the partitions that kept flowing may move the watermark past a partition stalled by the failover
    // (a pull waiting on the dead consumer leader stalls it for up to its pull expiry, 5–10 s, = minutes of
    // this traffic's event time; at real speed that is seconds, inside ALLOWED_LATENESS_MS).
    WATERMARK_IDLE_ADVANCE: 'off',
    IDLE_TIMEOUT_MS: '120000',
  };
  stack = await startStack(env, ['ingestion', 'dedup', 'aggregation']);
  phase('services ready');
});

afterAll(async () => {
  await stack?.stop().catch(() => undefined);
  await nc?.close().catch(() => undefined);
  await Promise.all([cluster?.dispose(), redis?.dispose()]);
  phase('done');
});

async function results(metric: string): Promise<WindowResultDto[]> {
  const res = await fetch(`${stack.url.aggregation}/v1/metrics/${metric}?limit=10000`);
  expect(res.status).toBe(200);
  return (await res.json()) as WindowResultDto[];
}

describe('Tidemark on a 3-server NATS cluster', () => {
  it('provisions every stream and its consumers with 3 replicas, raising an R1 stream but keeping its longer retention', async () => {
    for (const spec of ALL_STREAMS) {
      const info = await jsm.streams.info(spec.name);
      expect({ stream: spec.name, replicas: info.config.num_replicas }).toEqual({ stream: spec.name, replicas: 3 });
      await eventually(async () => expect((await jsm.streams.info(spec.name)).cluster?.replicas?.length).toBe(2)); // leader + 2 peers
    }
    const late = await jsm.streams.info(streams.late.name);
    expect(late.config.max_age).toBe(30 * DAY_NS);
    expect(stack.byName.ingestion!.output()).toMatch(/stream EVENTS_LATE: max_age is 30d, longer than Tidemark's 7d: left as it is/);
    for (let p = 0; p < PARTITIONS; p++) {
      await eventually(async () => {
        const c = await jsm.consumers.info(streams.clean.name, durables.aggregation(p));
        expect(c.config.num_replicas).toBe(3);
        expect(c.cluster?.replicas?.length).toBe(2);
      });
    }
  });

  it('counts every event exactly once while the leader of the event streams is killed -9 and restarted', async () => {
    const sim = new ShopSimulator({ seed: 31, sessionsPerSecond: 4, products: 40, users: 200 });
    const events: TidemarkEvent[] = [];
    for (let t = T0; t < T0 + 6 * 60_000; t += 100) events.push(...sim.tick(t));
    const batches: TidemarkEvent[][] = [];
    for (let i = 0; i < events.length; i += 200) batches.push(events.slice(i, i + 200));
    let retries = 0;
    const send = async (batch: readonly TidemarkEvent[]) => {
      // At least once, as a client does: a 503 (or a request cut off) is sent again; dedup keeps it once.
      await eventually(
        async () => {
          const res = await fetch(`${stack.url.ingestion}/v1/events`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify(batch), signal: AbortSignal.timeout(15_000) }).catch((e) => {
            retries++;
            throw e;
          });
          if (res.status !== 202) retries++;
          expect(res.status).toBe(202);
        },
        { timeoutMs: 60_000, intervalMs: 200 },
      );
    };

    const killAt = Math.floor(batches.length / 3);
    const restartAt = Math.floor((2 * batches.length) / 3);
    let victim: Awaited<ReturnType<NatsClusterHandle['streamLeader']>>;
    for (let i = 0; i < batches.length; i++) {
      if (i === killAt) {
        // The server leading EVENTS_RAW (EVENTS_CLEAN's leader if that is the same one: both at once).
        const rawLeader = await cluster.streamLeader(streams.raw.name);
        const cleanLeader = await cluster.streamLeader(streams.clean.name);
        victim = rawLeader ?? cleanLeader;
        expect(victim).toBeDefined();
        phase(`kill -9 ${victim!.name} (leader of ${[rawLeader === victim && 'EVENTS_RAW', cleanLeader === victim && 'EVENTS_CLEAN'].filter(Boolean).join(' and ')}) after ${i} of ${batches.length} batches`);
        await victim!.kill();
      }
      if (i === restartAt) {
        // While it was down the others elected a new leader and took writes.
        const now = await cluster.streamLeader(streams.raw.name);
        expect(now).toBeDefined();
        expect(now!.name).not.toBe(victim!.name);
        await victim!.start();
        phase(`${victim!.name} back after ${i} batches; ${retries} request(s) retried so far`);
      }
      await send(batches[i]);
    }
    const end = heartbeats(T0 + 3 * 3_600_000, 'end', PARTITIONS);
    await send(end);
    phase(`all sent (${events.length + end.length} events, ${retries} retried requests)`);

    // Exactly once in EVENTS_CLEAN (what dedup forwarded), whatever was retried or published twice to EVENTS_RAW.
    await eventually(async () => expect(await streamEventCount(nc, streams.clean.name)).toBe(events.length + end.length), { timeoutMs: 90_000, intervalMs: 500 });
    for (let p = 0; p < PARTITIONS; p++) await waitForQuiescence(nc, streams.clean.name, durables.aggregation(p), { timeoutMs: 60_000 });
    phase('pipeline quiet');
    const all = [...events, ...end];
    await expectResultsMatch(results, computeReference(all, () => true), T0 + 3 * 3_600_000 - BOUND);
    // The restarted server caught up: it is a current replica of the event streams again.
    await eventually(
      async () => {
        for (const name of [streams.raw.name, streams.clean.name]) {
          const info = await jsm.streams.info(name);
          const peers = [info.cluster?.leader, ...(info.cluster?.replicas ?? []).filter((r) => r.current).map((r) => r.name)];
          expect(peers).toContain(victim!.name);
        }
      },
      { timeoutMs: 60_000, intervalMs: 500 },
    );
    phase('results match the reference');
  });

  it('a service boots with the first server of NATS_URL down, and with JETSTREAM_REPLICAS=1 lowers no replicas (and says so)', async () => {
    const dedup = stack.byName.dedup!;
    await dedup.stop();
    // Every server healthy by its own /healthz (its meta, stream and consumer groups current): the server restarted
    // in the test above may still be catching up, and a group left with one current peer has no quorum (an
    // election that waits for it outlasts the service's start).
    await eventually(
      async () => {
        for (const node of cluster.nodes) {
          const res = await fetch(`${node.monitorUrl}/healthz`, { signal: AbortSignal.timeout(2000) });
          const body = await res.text();
          if (res.status !== 200) process.stdout.write(`nats-cluster: ${node.name} /healthz ${res.status} ${body}\n`);
          expect({ node: node.name, status: res.status, body }).toEqual({ node: node.name, status: 200, body: expect.stringContaining('"ok"') });
        }
      },
      { timeoutMs: 60_000, intervalMs: 500 },
    );
    // The first server listed is down: the client connects to another; the R3 streams keep a quorum (2 of 3).
    const first = cluster.nodes.find((n) => n.url === cluster.urls.split(',')[0])!;
    await first.kill();
    try {
      dedup.env.JETSTREAM_REPLICAS = '1';
      await dedup.start();
      expect(dedup.output()).toMatch(/stream EVENTS_RAW: it has 3 replicas, more than JETSTREAM_REPLICAS=1: left as it is/);
      for (const spec of ALL_STREAMS) expect((await jsm.streams.info(spec.name)).config.num_replicas).toBe(3);
      expect((await jsm.streams.info(streams.late.name)).config.max_age).toBe(30 * DAY_NS);
    } finally {
      await first.start(); // the next test needs the whole cluster, whatever this one did
    }
  });

  it('JETSTREAM_PROVISION=off boots against existing streams, and fails naming a missing one without creating it', async () => {
    await stack.stop();
    const port = await freePort();
    const off = { ...env, JETSTREAM_PROVISION: 'off', DEDUP_PORT: String(port) };
    const ok = serviceProcess('dedup', off, `http://127.0.0.1:${port}/health/ready`);
    await ok.start();
    await ok.stop();

    await jsm.streams.delete(streams.dlq.name);
    const failing = serviceProcess('dedup', off, `http://127.0.0.1:${port}/health/ready`);
    await expect(failing.start()).rejects.toThrow(/dedup exited/);
    expect(failing.exitCode()).not.toBe(0);
    expect(failing.output()).toMatch(/JETSTREAM_PROVISION=off and stream DLQ does not exist/);
    await expect(jsm.streams.info(streams.dlq.name)).rejects.toThrow(/not found/i);
  });
});
