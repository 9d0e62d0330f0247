/**
 * Partitions that move (docs/scale-out.md): two instances each of dedup, aggregation and recommendation with
 * PARTITION_ASSIGNMENT=group and the default timings (heartbeat 1 s, session timeout and leases 6 s), real
 * NATS, Redis and processes from dist/. They split the partitions; under traffic an aggregation instance is
 * killed -9 (the other takes everything within 15 s, restores included), a dedup instance is stopped with
 * SIGTERM (taken over within 2 s), a third aggregation instance joins (rebalanced 2 + 2), a recommendation
 * instance stops gracefully. At the end every window equals the brute-force reference exactly — nothing lost,
 * nothing counted twice through the moves — and both clean consumers checkpointed every partition to its end.
 */
import type Redis from 'ioredis';
import type { TidemarkEvent, WindowResultDto } from '@tidemark/contracts';
import { ShopSimulator } from '@tidemark/simulator';
import { connectRedis } from '@tidemark/state';
import { eventually } from './support/eventually';
import { freePort } from './support/free-port';
import { computeReference, expectResultsMatch, expectSessionsAndJoinsMatch, heartbeats } from './support/reference';
import { ServerHandle, startNats, startRedis } from './support/servers';
import { ServiceProcess, serviceProcess } from './support/service-process';

jest.setTimeout(240_000);

const PARTITIONS = 4;
const ALL = [0, 1, 2, 3];
const BOUND = 5_000;
const T0 = Date.UTC(2026, 10, 3, 9, 0, 0);

let nats: ServerHandle;
let redis: ServerHandle;
let client: Redis;
let ingestUrl: string;
const all: ServiceProcess[] = [];
let common: Record<string, string>;

interface Instance {
  proc: ServiceProcess;
  url: string;
}

async function instance(name: 'dedup' | 'aggregation' | 'recommendation'): Promise<Instance> {
  const port = await freePort();
  const portVar = { dedup: 'DEDUP_PORT', aggregation: 'AGGREGATION_PORT', recommendation: 'RECOMMENDATION_PORT' }[name];
  const url = `http://127.0.0.1:${port}`;
  const proc = serviceProcess(name, { ...common, [portVar]: String(port) }, `${url}/health/ready`);
  all.push(proc);
  return { proc, url };
}

async function owned(i: Instance): Promise<number[]> {
  const r = (await (await fetch(`${i.url}/health/ready`)).json()) as { partitions: { assignment: string; owned: number[] } };
  expect(r.partitions.assignment).toBe('group');
  return r.partitions.owned;
}

async function gauge(i: Instance): Promise<number> {
  const text = await (await fetch(`${i.url}/metrics`)).text();
  return Number(/^tidemark_owned_partitions(?:\{[^}]*\})? (\d+)$/m.exec(text)?.[1]);
}

/** Waits until the instances own disjoint sets covering every partition, with the given counts. */
async function splitAs(instances: Instance[], counts: number[], timeoutMs = 30_000): Promise<number[][]> {
  let sets: number[][] = [];
  await eventually(
    async () => {
      sets = await Promise.all(instances.map(owned));
      expect(sets.map((s) => s.length)).toEqual(counts);
      expect(sets.flat().sort()).toEqual(ALL);
    },
    { timeoutMs, intervalMs: 50 },
  );
  return sets;
}

async function send(events: TidemarkEvent[]): Promise<void> {
  for (let i = 0; i < events.length; i += 500) {
    const res = await fetch(`${ingestUrl}/v1/events`, {
      method: 'POST',
      headers: { 'content-type': 'application/x-ndjson' },
      body: events
        .slice(i, i + 500)
        .map((e) => JSON.stringify(e))
        .join('\n'),
    });
    expect(res.status).toBe(202);
  }
}

beforeAll(async () => {
  [nats, redis] = await Promise.all([startNats(), startRedis()]);
  client = await connectRedis(redis.url, 'test');
  common = {
    NATS_URL: nats.url,
    REDIS_URL: redis.url,
    PARTITIONS: String(PARTITIONS),
    PARTITION_ASSIGNMENT: 'group',
    MAX_OUT_OF_ORDERNESS_MS: String(BOUND),
    IDLE_TIMEOUT_MS: '3600000',
    WATERMARK_IDLE_ADVANCE: 'off',
    FIRE_INTERVAL_MS: '100',
  };
  const [http, tcp] = [await freePort(), await freePort()];
  ingestUrl = `http://127.0.0.1:${http}`;
  const ingestion = serviceProcess('ingestion', { ...common, INGESTION_PORT: String(http), INGESTION_TCP_PORT: String(tcp) }, `${ingestUrl}/health/ready`);
  all.push(ingestion);
  await ingestion.start();
});

afterAll(async () => {
  await Promise.all(all.map((s) => s.stop()));
  await client?.quit();
  await Promise.all([nats?.dispose(), redis?.dispose()]);
});

it('splits partitions between instances, survives kill -9 and SIGTERM, rebalances a newcomer, and counts exactly', async () => {
  const timings: Record<string, number> = {};
  const dedup = [await instance('dedup'), await instance('dedup')];
  const agg = [await instance('aggregation'), await instance('aggregation')];
  const recs = [await instance('recommendation'), await instance('recommendation')];
  // Started one after another per pair: the first takes everything, then hands half to the second.
  for (const pair of [dedup, agg, recs]) {
    await pair[0].proc.start();
    await pair[1].proc.start();
  }
  for (const pair of [dedup, agg, recs]) await splitAs(pair, [2, 2]);
  expect(await gauge(agg[0])).toBe(2);

  const sim = new ShopSimulator({ seed: 41, sessionsPerSecond: 3, products: 40, users: 200 });
  sim.incidents = { disorderRate: 0.2, disorderMs: 3000 };
  const phase = (from: number, to: number) => {
    const out: TidemarkEvent[] = [];
    for (let t = T0 + from * 60_000; t < T0 + to * 60_000; t += 100) out.push(...sim.tick(t));
    return out;
  };
  const events: TidemarkEvent[] = [];
  const p1 = phase(0, 3);
  events.push(...p1);
  await send(p1);
  // Duplicates (client retries): dedup must drop them wherever the partition is processed.
  await send(p1.slice(0, 400));

  // kill -9 an aggregation instance: the other takes all partitions once the leases run out, restores included.
  let t = Date.now();
  await agg[0].proc.kill();
  const p2 = phase(3, 6);
  events.push(...p2);
  await send(p2);
  await eventually(async () => expect(await owned(agg[1])).toEqual(ALL), { timeoutMs: 20_000, intervalMs: 50 });
  timings.aggregationKill = Date.now() - t;
  expect(timings.aggregationKill).toBeLessThanOrEqual(15_000);
  expect(timings.aggregationKill).toBeGreaterThanOrEqual(4_000); // not before the dead member's leases could expire

  // SIGTERM a dedup instance: it gives its partitions back on the way out; the other has them within 2 s.
  t = Date.now();
  const stopping = dedup[0].proc.stop();
  await eventually(async () => expect(await owned(dedup[1])).toEqual(ALL), { timeoutMs: 10_000, intervalMs: 20 });
  timings.dedupSigterm = Date.now() - t;
  await stopping;
  expect(timings.dedupSigterm).toBeLessThanOrEqual(2_000);
  const p3 = phase(6, 8);
  events.push(...p3);
  await send(p3);
  await send(p2.slice(0, 300));

  // A new aggregation instance joins: rebalanced to 2 + 2, the partitions it gets handed over gracefully.
  t = Date.now();
  const agg3 = await instance('aggregation');
  await agg3.proc.start();
  await splitAs([agg[1], agg3], [2, 2]);
  timings.aggregationJoin = Date.now() - t;

  // A recommendation instance stops gracefully: the other takes over.
  t = Date.now();
  await recs[0].proc.stop();
  await eventually(async () => expect(await owned(recs[1])).toEqual(ALL), { timeoutMs: 10_000, intervalMs: 20 });
  timings.recsSigterm = Date.now() - t;

  const p4 = phase(8, 10);
  events.push(...p4);
  await send(p4);
  const h = T0 + 2 * 3_600_000;
  const hb = heartbeats(h, 'x', PARTITIONS);
  await send(hb);
  for (const i of [agg[1], agg3]) {
    await eventually(async () => expect(((await (await fetch(`${i.url}/v1/watermark`)).json()) as { watermark: number }).watermark).toBe(h - BOUND), {
      timeoutMs: 60_000,
      intervalMs: 100,
    });
  }
  const reference = computeReference([...events, ...hb], () => true);
  const fetchFrom = (url: string) => async (metric: string) => (await (await fetch(`${url}/v1/metrics/${metric}?limit=10000`)).json()) as WindowResultDto[];
  await expectResultsMatch(fetchFrom(agg3.url), reference, h - BOUND);
  await expectSessionsAndJoinsMatch(fetchFrom(agg[1].url), [...events, ...hb], h - BOUND);

  // Both clean consumers checkpointed every partition through its last clean frame (the same stream sequence).
  await eventually(
    async () => {
      for (const p of ALL) {
        const aggSeq = await client.hget(`tm:agg:{p${p}}:cp`, 'seq');
        const recsSeq = await client.hget(`recs:{p${p}}:part`, 'lastSeq');
        expect(Number(aggSeq)).toBeGreaterThan(0);
        expect([p, recsSeq]).toEqual([p, aggSeq]);
      }
    },
    { timeoutMs: 30_000, intervalMs: 200 },
  );
  // Every partition changed hands at least once: tokens above 1, stored beside the checkpoints.
  for (const p of ALL) {
    expect(Number(await client.get(`tm:group:aggregation:{p${p}}:token`))).toBeGreaterThanOrEqual(2);
    expect(await client.hget(`tm:agg:{p${p}}:cp`, 'token')).toBe(await client.get(`tm:group:aggregation:{p${p}}:token`));
  }
  // eslint-disable-next-line no-console
  console.log(`partition group timings (ms): ${JSON.stringify(timings)}`);
});

it('alerting: one active instance; a standby waits, and takes over when the leader stops', async () => {
  const ports = [await freePort(), await freePort()];
  const env = (port: number) => ({ ...common, ALERTING_PORT: String(port), LOG_LEVEL: 'info' });
  const a = serviceProcess('alerting', env(ports[0]), `http://127.0.0.1:${ports[0]}/health/ready`);
  const b = serviceProcess('alerting', env(ports[1]), `http://127.0.0.1:${ports[1]}/health/ready`);
  all.push(a, b);
  await a.start();
  const standby = b.start();
  standby.catch(() => undefined);
  // The standby neither consumes nor notifies nor serves while the leader holds the lease.
  await new Promise((r) => setTimeout(r, 3000));
  expect(b.exited()).toBe(false);
  await expect(fetch(`http://127.0.0.1:${ports[1]}/health/ready`)).rejects.toThrow();
  expect(b.output()).toMatch(/standby/);
  const t = Date.now();
  await a.stop();
  // The leader released its lease on the way out: the standby holds it within a heartbeat or two…
  await eventually(async () => expect(b.output()).toMatch(/holding the alerting lease/), { timeoutMs: 10_000, intervalMs: 20 });
  const lease = Date.now() - t;
  // …then boots and serves.
  await standby;
  const ready = Date.now() - t;
  // eslint-disable-next-line no-console
  console.log(`alerting takeover after SIGTERM (ms): lease ${lease}, ready ${ready}`);
  expect(lease).toBeLessThanOrEqual(2_000);
});
