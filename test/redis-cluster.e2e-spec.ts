/**
 * The services with REDIS_MODE=cluster on a real 6-node Redis Cluster (3 masters, a replica each,
 * cluster-node-timeout 2 s) and a real nats-server: ingestion, dedup, aggregation, recommendation and alerting
 * as their own processes (dist, bin/tidemark.js). Shop traffic with duplicates sent straight into the raw
 * stream (dedup must drop them); half way, the master holding partition 0's aggregation checkpoint is killed
 * with SIGKILL while traffic goes on, its replica takes over, the killed node comes back as a replica.
 * Afterwards every window of the 13 metrics equals the brute-force reference — nothing lost, nothing doubled —,
 * recommendations are answered, alert rules are created, changed and deleted, and WAIT ran on the masters.
 */
import type { NatsConnection } from '@nats-io/nats-core';
import { jetstream } from '@nats-io/jetstream';
import Redis from 'ioredis';
import { DEFAULT_RULES } from '@tidemark/alerting';
import { type TidemarkEvent, type WindowResultDto, durables, partitionOf, streams, subjects } from '@tidemark/contracts';
import { ShopSimulator } from '@tidemark/simulator';
import { AGG_KEYS } from '../apps/aggregation/src/redis-aggregation.store';
import { eventually, waitForQuiescence } from './support/eventually';
import { natsClient, streamEventCount } from './support/jetstream-read';
import { computeReference, expectResultsMatch, expectSessionsAndJoinsMatch, heartbeats } from './support/reference';
import { type NatsServerHandle, type RedisClusterHandle, startNats, startRedisCluster } from './support/servers';
import { type Stack, startStack } from './support/stack';

jest.setTimeout(180_000);

const PARTITIONS = 4;
const BOUND = 5_000;
const T0 = Date.UTC(2026, 10, 3, 10);

let nats: NatsServerHandle;
let cluster: RedisClusterHandle;
let stack: Stack;
let nc: NatsConnection;

beforeAll(async () => {
  [nats, cluster] = await Promise.all([startNats(), startRedisCluster()]);
  const env = {
    NATS_URL: nats.url,
    REDIS_MODE: 'cluster',
    REDIS_URL: cluster.seeds,
    REDIS_WAIT_REPLICAS: '1',
    REDIS_WAIT_TIMEOUT_MS: '200',
    PARTITIONS: String(PARTITIONS),
    MAX_OUT_OF_ORDERNESS_MS: String(BOUND),
    IDLE_TIMEOUT_MS: '3600000',
    WATERMARK_IDLE_ADVANCE: 'off',
    FIRE_INTERVAL_MS: '50',
    ACK_WAIT_MS: '3000',
    FRAME_MAX_EVENTS: '100',
    // The master dies while the aggregation holds events of its partition it has not checkpointed (the kill
    // must hit work in flight, asserted below): 1 s leaves time to see that and kill, and is short against the
    // failover's 2 s, so the next checkpoint fails or lands on the promoted replica before it has a replica.
    CHECKPOINT_INTERVAL_MS: '1000',
  };
  stack = await startStack(env, ['ingestion', 'dedup', 'aggregation', 'recommendation', 'alerting']);
  nc = await natsClient(nats.url);
});

afterAll(async () => {
  await stack?.stop().catch(() => undefined);
  await nc?.close().catch(() => undefined);
  await Promise.all([nats?.dispose(), cluster?.dispose()]);
});

/** Sends over HTTP until accepted (a 503 while Redis fails over is retried, as a client would). */
async function send(events: readonly TidemarkEvent[]): Promise<void> {
  await eventually(
    async () => {
      const res = await fetch(`${stack.url.ingestion}/v1/events`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify(events) });
      expect(res.status).toBe(202);
    },
    { timeoutMs: 60_000, intervalMs: 200 },
  );
}

async function results(metric: string): Promise<WindowResultDto[]> {
  const res = await fetch(`${stack.url.aggregation}/v1/metrics/${metric}?limit=10000`);
  expect(res.status).toBe(200);
  return (await res.json()) as WindowResultDto[];
}

async function api(service: 'alerting' | 'recommendation' | 'aggregation', path: string, init?: RequestInit): Promise<{ status: number; body: unknown }> {
  const res = await fetch(`${stack.url[service]}${path}`, { ...init, headers: init?.body ? { 'content-type': 'application/json' } : {} });
  const text = await res.text();
  return { status: res.status, body: text ? (JSON.parse(text) as unknown) : undefined };
}

/** WAIT commands run on the masters so far (INFO commandstats). */
async function waitCalls(): Promise<number> {
  let n = 0;
  for (const node of cluster.nodes.filter((x) => x.running)) {
    const r = new Redis({ port: node.port, lazyConnect: true, maxRetriesPerRequest: 0 });
    await r.connect();
    n += Number(/cmdstat_wait:calls=(\d+)/.exec(await r.info('commandstats'))?.[1] ?? 0);
    r.disconnect();
  }
  return n;
}

async function quiescent(): Promise<void> {
  for (let p = 0; p < PARTITIONS; p++) {
    await waitForQuiescence(nc, streams.raw.name, durables.dedup(p), { timeoutMs: 60_000 });
    await waitForQuiescence(nc, streams.clean.name, durables.aggregation(p), { timeoutMs: 60_000 });
    await waitForQuiescence(nc, streams.clean.name, durables.recommendation(p), { timeoutMs: 60_000 });
  }
}

describe('Tidemark on a Redis Cluster', () => {
  it('counts every event once in every window through duplicates and a master killed mid-traffic; recommends; manages alert rules', async () => {
    const started = Date.now();
    const sim = new ShopSimulator({ seed: 31, sessionsPerSecond: 3, products: 40, users: 150 });
    sim.incidents = { disorderRate: 0.2, disorderMs: 3000 };
    const events: TidemarkEvent[] = [];
    for (let t = T0; t < T0 + 5 * 60_000; t += 100) events.push(...sim.tick(t));
    const chunks: TidemarkEvent[][] = [];
    for (let i = 0; i < events.length; i += 300) chunks.push(events.slice(i, i + 300));

    // The node that will die: the master of partition 0's aggregation checkpoint.
    const victim = await cluster.masterOf(AGG_KEYS.checkpoint(0));
    expect(await victim.role()).toBe('master');
    const js = jetstream(nc);
    const jsm = await js.jetstreamManager();
    let duplicates = 0;
    const killAt = Math.floor(chunks.length / 2);
    for (let i = 0; i < chunks.length; i++) {
      if (i === killAt) {
        // Mid-traffic, while the aggregation holds events of the victim's partition it has not checkpointed
        // (applied, not acked): its next checkpoint, and claims and reads in flight on the node, fail.
        await eventually(async () => {
          const c = await jsm.consumers.info(streams.clean.name, durables.aggregation(0));
          expect(c.num_ack_pending).toBeGreaterThan(0);
        }, { timeoutMs: 30_000, intervalMs: 10 });
        await victim.kill();
      }
      await send(chunks[i]);
      // Duplicates straight into the raw stream (no message id, as a resend after JetStream's window): dedup drops them.
      for (let k = 0; k < 5; k++) {
        const e = chunks[i][(k * 37) % chunks[i].length];
        await eventually(() => js.publish(subjects.raw(partitionOf(e.sessionId, PARTITIONS)), Buffer.from(JSON.stringify(e))), { timeoutMs: 30_000, intervalMs: 200 });
        duplicates++;
      }
      if (i === killAt + 2) {
        // The replica took over (cluster-node-timeout): the slot is served again by a running master…
        await cluster.waitHealthy(30_000);
        const promoted = await cluster.masterOf(AGG_KEYS.checkpoint(0));
        expect(promoted.port).not.toBe(victim.port);
        // …and the killed node comes back, as the new master's replica (WAIT 1 needs one again).
        await victim.start();
        await eventually(async () => expect(await victim.role()).toBe('replica'), { timeoutMs: 30_000, intervalMs: 200 });
      }
    }
    const end = heartbeats(T0 + 3 * 3_600_000, 'end', PARTITIONS);
    await send(end);
    const all = [...events, ...end];
    // Dedup: every event once in the clean stream, none of the duplicates.
    await eventually(async () => expect(await streamEventCount(nc, streams.clean.name)).toBe(all.length), { timeoutMs: 60_000, intervalMs: 200 });
    expect(duplicates).toBeGreaterThan(0);
    await quiescent();

    const lastFinalEnd = T0 + 3 * 3_600_000 - BOUND;
    await eventually(async () => expect((await api('aggregation', '/v1/watermark')).body).toMatchObject({ watermark: lastFinalEnd }), { timeoutMs: 60_000, intervalMs: 100 });
    await expectResultsMatch(results, computeReference(all, () => true), lastFinalEnd);
    await expectSessionsAndJoinsMatch(results, all, lastFinalEnd);

    // Recommendations, read across the partitions' slots on three masters.
    const viewed = new Map<string, number>();
    for (const e of events) if (e.type === 'product_view' && e.productId !== undefined) viewed.set(e.productId, (viewed.get(e.productId) ?? 0) + 1);
    const top = [...viewed.entries()].sort((a, b) => b[1] - a[1])[0][0];
    const similar = await api('recommendation', `/v1/recommendations/products/${encodeURIComponent(top)}/similar?k=5`);
    expect(similar.status).toBe(200);
    expect((similar.body as { items: unknown[] }).items.length).toBeGreaterThan(0);
    const user = events.find((e) => e.type === 'order_placed')!.userId;
    const mine = await api('recommendation', `/v1/recommendations/users/${encodeURIComponent(user)}?k=5`);
    expect(mine.status).toBe(200);
    expect((mine.body as { items: unknown[] }).items.length).toBeGreaterThan(0);

    // Alert rules: create, read, change, delete (one MULTI on the {a} slot each).
    const rule = { ...DEFAULT_RULES.find((r) => r.kind === 'threshold')!, id: 'cluster_rule' };
    expect((await api('alerting', '/v1/alert-rules', { method: 'POST', body: JSON.stringify(rule) })).status).toBe(201);
    expect((await api('alerting', '/v1/alert-rules/cluster_rule')).body).toMatchObject({ id: 'cluster_rule' });
    expect((await api('alerting', '/v1/alert-rules/cluster_rule', { method: 'PUT', body: JSON.stringify({ ...rule, value: 0.25 }) })).status).toBe(200);
    expect((await api('alerting', '/v1/alert-rules/cluster_rule')).body).toMatchObject({ id: 'cluster_rule', value: 0.25 });
    expect((await api('alerting', '/v1/alert-rules/cluster_rule', { method: 'DELETE' })).status).toBe(204);
    expect((await api('alerting', '/v1/alert-rules/cluster_rule')).status).toBe(404);

    // Checkpoints and claims waited for their replica.
    expect(await waitCalls()).toBeGreaterThan(0);
    // The kill hit work in flight: checkpoints of the victim's partitions failed (kept in memory, retried),
    // waited for the failover (the client retries while the slot has no master), or were written on the
    // promoted replica before it had a replica of its own (WAIT fell short: not acked until a later one is
    // durable) meanwhile.
    const scrape = await (await fetch(`${stack.url.aggregation}/metrics`)).text();
    const count = (outcome: string) => Number(new RegExp(`^tidemark_checkpoint_duration_seconds_count\\{[^}]*outcome="${outcome}"[^}]*\\} (\\d+)$`, 'm').exec(scrape)?.[1] ?? 0);
    const [failed, written] = [count('error'), count('written')];
    expect(failed + written).toBeGreaterThan(0);
    process.stdout.write(`redis-cluster: ${all.length} events, ${duplicates} duplicates, master :${victim.port} killed, ${failed} checkpoints failed, ${written} written without a replica and ${count('conflict')} conflicted meanwhile, ${Math.round((Date.now() - started) / 1000)} s\n`);
  });
});
