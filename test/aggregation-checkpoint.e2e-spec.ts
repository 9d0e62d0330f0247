/**
 * Aggregation checkpoints under kill -9 (docs/checkpoints.md "What a crash costs"): real NATS and Redis, real
 * ingestion, dedup and aggregation processes. The aggregation kills itself right after a checkpoint is
 * written — before the session results it fired are published and before the batches it covers are acked
 * (TIDEMARK_FAULT=aggregation-kill-after-checkpoint:N) — is started again, and again, while shop traffic
 * arrives. Afterwards every window of the 13 metrics equals the brute-force reference: nothing lost (the
 * restored partition replays what was not checkpointed, the outbox is published after the restart) and
 * nothing doubled (the replay starts after the checkpoint's sequence; results are idempotent by version).
 */
import type { NatsConnection } from '@nats-io/nats-core';
import { durables, streams, type TidemarkEvent, type WindowResultDto } from '@tidemark/contracts';
import { ShopSimulator } from '@tidemark/simulator';
import { eventually, waitForQuiescence } from './support/eventually';
import { natsClient, readStream, streamEventCount } from './support/jetstream-read';
import { computeReference, expectResultsMatch, expectSessionsAndJoinsMatch, heartbeats } from './support/reference';
import { Servers, startServers } from './support/servers';
import { Stack, startStack } from './support/stack';

jest.setTimeout(300_000);

const PARTITIONS = 4;
const BOUND = 5_000;
const T0 = Date.UTC(2026, 10, 2, 9);

let servers: Servers;
let stack: Stack;
let nc: NatsConnection;

beforeAll(async () => {
  servers = await startServers();
  // Small frames and a checkpoint every 300 events of a partition (or 30 ms): many checkpoints per start.
  const env = { NATS_URL: servers.nats.url, REDIS_URL: servers.redis.url, PARTITIONS: String(PARTITIONS), MAX_OUT_OF_ORDERNESS_MS: String(BOUND), FRAME_MAX_EVENTS: '50', CHECKPOINT_INTERVAL_MS: '30', CHECKPOINT_MAX_EVENTS: '300' };
  stack = await startStack(env, ['ingestion', 'dedup', 'aggregation']);
  nc = await natsClient(servers.nats.url);
});

afterAll(async () => {
  await stack?.stop().catch(() => undefined);
  await nc?.close().catch(() => undefined);
  await servers?.dispose();
});

async function send(events: readonly TidemarkEvent[]): Promise<void> {
  const res = await fetch(`${stack.url.ingestion}/v1/events`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify(events) });
  expect(res.status).toBe(202);
}

async function results(metric: string): Promise<WindowResultDto[]> {
  const res = await fetch(`${stack.url.aggregation}/v1/metrics/${metric}?limit=10000`);
  expect(res.status).toBe(200);
  return (await res.json()) as WindowResultDto[];
}

describe('aggregation checkpoints across kill -9 between a checkpoint and its ack', () => {
  it('count every event exactly once in all 13 metrics', async () => {
    const sim = new ShopSimulator({ seed: 23, sessionsPerSecond: 4, products: 40, users: 200 });
    sim.incidents = { disorderRate: 0.2, disorderMs: 3000 };
    const events: TidemarkEvent[] = [];
    for (let t = T0; t < T0 + 6 * 60_000; t += 100) events.push(...sim.tick(t));

    const agg = stack.byName.aggregation!;
    await agg.stop();
    agg.env.TIDEMARK_FAULT = 'aggregation-kill-after-checkpoint:4';
    let kills = 0;
    const restart = async () => {
      kills++;
      await agg.start().catch(() => undefined); // it may die again before it answers ready
    };
    await agg.start().catch(() => undefined);
    for (let i = 0; i < events.length; i += 300) {
      await send(events.slice(i, i + 300));
      await new Promise((r) => setTimeout(r, 40));
      if (agg.exited()) {
        // Enough kills for the suite's time: the rest runs without the fault.
        if (kills === 14) delete agg.env.TIDEMARK_FAULT;
        await restart();
      }
    }
    // Everything fires — sessions through the outbox of the checkpoint that fired them — still under the fault.
    agg.env.TIDEMARK_FAULT = 'aggregation-kill-after-checkpoint:2';
    if (!agg.exited()) await agg.kill();
    await restart();
    const end = heartbeats(T0 + 3 * 3_600_000, 'end', PARTITIONS);
    await send(end);
    await eventually(async () => expect(await streamEventCount(nc, streams.clean.name)).toBe(events.length + end.length), { timeoutMs: 60_000 });
    for (let i = 0; i < 6; i++) {
      await new Promise((r) => setTimeout(r, 300));
      if (agg.exited()) await restart();
    }
    expect(kills).toBeGreaterThanOrEqual(8);
    await agg.kill();
    process.stdout.write(`aggregation-checkpoint: ${kills} kills\n`);
    delete agg.env.TIDEMARK_FAULT;
    await agg.start();
    for (let p = 0; p < PARTITIONS; p++) await waitForQuiescence(nc, streams.clean.name, durables.aggregation(p), { timeoutMs: 60_000 });

    const all = [...events, ...end];
    const lastFinalEnd = T0 + 3 * 3_600_000 - BOUND;
    await expectResultsMatch(results, computeReference(all, () => true), lastFinalEnd);
    await expectSessionsAndJoinsMatch(results, all, lastFinalEnd);
    // What other systems receive: every result the query API holds was published, once per version — the
    // session results of a checkpoint killed before their publish included (its outbox, published on restart).
    const published = await readStream<WindowResultDto>(nc, streams.results.name);
    const ids = published.map((m) => `${m.data.metric}|${m.data.key}|${m.data.windowStart}|${m.data.windowEnd}|v${m.data.version}`);
    expect(ids.length).toBe(new Set(ids).size);
    for (const metric of ['cart_abandonment', 'orders', 'product_views', 'unpaid_orders']) {
      const stored = (await results(metric)).filter((r) => r.final);
      expect(stored.length).toBeGreaterThan(0);
      const sent = new Set(ids);
      for (const r of stored) expect(sent.has(`${r.metric}|${r.key}|${r.windowStart}|${r.windowEnd}|v${r.version}`)).toBe(true);
    }
  });
});
