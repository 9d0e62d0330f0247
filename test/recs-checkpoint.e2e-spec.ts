/**
 * Recommendation checkpoints under kill -9 (docs/recommendations.md "Checkpoints"): real NATS and Redis, real
 * ingestion, dedup and recommendation processes (test/support/stack.ts). The recommendation service kills
 * itself right after a checkpoint is written and before the batches it covers are acked
 * (TIDEMARK_FAULT=recs-kill-after-checkpoint:N), is started again, and again; afterwards its whole Redis state
 * — co-occurrence, rules, trending, users, visits, categories, clock — equals a run without faults, exactly
 * (each list as a restart reads it, member by member).
 *
 * Exactly: every event has one event time and RECS_SEQ_STEPS=2, so every stored number is a sum of 1, 3, 5
 * and 1/2 — exact in doubles whatever the order of additions — and no list reaches its cap (trimming per
 * checkpoint would otherwise depend on where checkpoints fall).
 */
import type { NatsConnection } from '@nats-io/nats-core';
import type Redis from 'ioredis';
import { jetstreamManager } from '@nats-io/jetstream';
import { durables, partitionOf, streams } from '@tidemark/contracts';
import { DEFAULT_PARAMS, PARTIAL_HASHES, type PartialHash, RecPartial, decodeWindow } from '@tidemark/recommend';
import { connectRedis } from '@tidemark/state';
import { eventually, waitForQuiescence } from './support/eventually';
import { natsClient, streamEventCount } from './support/jetstream-read';
import { Servers, startServers } from './support/servers';
import { Stack, startStack } from './support/stack';

jest.setTimeout(240_000);

const PARTITIONS = 4;
const T = Date.UTC(2026, 10, 1, 8);

/** 16,000 events at one time: 400 visits of 40 users over 4 categories of 10 products; carts and orders among the views. */
function shopEvents(): object[] {
  const out: object[] = [];
  let n = 0;
  for (let v = 0; v < 400; v++) {
    const userId = `u${v % 40}`;
    const sessionId = `v${v}`;
    const cat = `c${v % 4}`;
    for (let j = 0; j < 40; j++) {
      const productId = `${cat}-p${(v * 7 + j * 3) % 10}`;
      const base = { id: `k-${n++}`, ts: T, userId, sessionId };
      if (j % 13 === 12) out.push({ ...base, type: 'order_placed', orderId: `o-${n}`, amount: 10, items: [{ productId, categoryId: cat, price: 10, quantity: 1 }] });
      else out.push({ ...base, type: j % 10 === 9 ? 'add_to_cart' : 'product_view', productId, categoryId: cat });
    }
  }
  return out;
}

interface Run {
  servers: Servers;
  stack: Stack;
  nc: NatsConnection;
  redis: Redis;
}

const runs: Run[] = [];

async function startRun(settings: Record<string, string> = {}): Promise<Run> {
  const servers = await startServers();
  // clean frames of 50 events and a checkpoint every 200 events a partition (or 20 ms): many checkpoints per start
  const env = {
    NATS_URL: servers.nats.url,
    REDIS_URL: servers.redis.url,
    PARTITIONS: String(PARTITIONS),
    RECS_SEQ_STEPS: '2',
    FRAME_MAX_EVENTS: '50',
    CHECKPOINT_INTERVAL_MS: '20',
    RECS_CHECKPOINT_INTERVAL_MS: '20',
    CHECKPOINT_MAX_EVENTS: '200',
    ...settings,
  };
  const stack = await startStack(env, ['ingestion', 'dedup', 'recommendation']);
  const run = { servers, stack, nc: await natsClient(servers.nats.url), redis: await connectRedis(servers.redis.url, 'test') };
  runs.push(run);
  return run;
}

afterAll(async () => {
  for (const r of runs) {
    await r.stack.stop().catch(() => undefined);
    await r.nc.close().catch(() => undefined);
    await r.redis.quit().catch(() => undefined);
    await r.servers.dispose();
  }
});

/** Sends the events; resolves when events.clean holds `total` events (all sent so far). */
async function send(run: Run, events: object[], total = events.length): Promise<void> {
  for (let i = 0; i < events.length; i += 2000) {
    const res = await fetch(`${run.stack.url.ingestion}/v1/events`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify(events.slice(i, i + 2000)) });
    expect(res.status).toBe(202);
  }
  // every event through dedup into events.clean
  await eventually(async () => expect(await streamEventCount(run.nc, streams.clean.name)).toBe(total), { timeoutMs: 60_000 });
}

async function recsQuiescent(run: Run): Promise<void> {
  for (let p = 0; p < PARTITIONS; p++) await waitForQuiescence(run.nc, streams.clean.name, durables.recommendation(p), { timeoutMs: 60_000 });
}

/**
 * Every recommendation key and its value, fences left out, and the partitions' clocks. A partition's partials
 * are read back the way a restart reads them (RecPartial.decode) and listed member by member, sorted: the order
 * of a list's members in its field is not state.
 */
async function dump(redis: Redis): Promise<Map<string, unknown>> {
  const partials = new Set<string>(PARTIAL_HASHES);
  const keys = (await redis.keys('recs:*')).filter((k) => !/^recs:\{p\d+\}:part$/.test(k)).sort();
  const out = new Map<string, unknown>();
  const sorted = (m: Map<string, number>) => [...m].sort((a, b) => (a[0] < b[0] ? -1 : 1));
  for (const k of keys) {
    const tagged = /^recs:\{p(\d+)\}:([^:]+)$/.exec(k);
    if (tagged && partials.has(tagged[2])) continue;
    const type = await redis.type(k);
    if (type === 'hash') for (const [f, v] of Object.entries(await redis.hgetall(k)).sort()) out.set(`${k} ${f}`, v);
    else out.set(k, /:s:/.test(k) ? decodeWindow((await redis.getBuffer(k))!) : await redis.get(k)); // a visit's window is binary
  }
  for (let p = 0; p < PARTITIONS; p++) {
    const hashes: Partial<Record<PartialHash, Record<string, Buffer>>> = {};
    for (const h of PARTIAL_HASHES) hashes[h] = await redis.hgetallBuffer(`recs:{p${p}}:${h}`);
    const partial = RecPartial.decode(DEFAULT_PARAMS, undefined, hashes, null);
    for (const h of ['nb', 'sq', 'tr'] as const) for (const [f, e] of partial[h]) out.set(`${p} ${h} ${f}`, [e.t, e.category, e.list.epoch, sorted(e.list.scores), sorted(e.list.levels)]);
    for (const [f, e] of partial.vs) out.set(`${p} vs ${f}`, [e.t, sorted(e.m)]);
    for (const [f, e] of partial.u) out.set(`${p} u ${f}`, [e.t, sorted(e.recent), sorted(e.bought ?? new Map())]);
    out.set(`clock ${p}`, await redis.hget(`recs:{p${p}}:part`, 'clock'));
  }
  return new Map([...out].sort((a, b) => (a[0] < b[0] ? -1 : 1)));
}

describe('recommendation checkpoints across kill -9 between a checkpoint and its ack', () => {
  it('leave the same state as a run without faults: nothing doubled, nothing lost', async () => {
    const events = shopEvents();

    // the run without faults
    const calm = await startRun();
    await send(calm, events);
    await recsQuiescent(calm);
    const expected = await dump(calm.redis);
    expect(expected.size).toBeGreaterThan(100);
    for (let p = 0; p < PARTITIONS; p++) expect(expected.get(`clock ${p}`)).toBe(String(T));

    // the run with faults: events arrive in chunks while the service keeps dying right after its 3rd checkpoint
    // (before the ack) and is started again
    const faulty = await startRun();
    const recs = faulty.stack.byName.recommendation!;
    await recs.stop();
    recs.env.TIDEMARK_FAULT = 'recs-kill-after-checkpoint:3';
    let kills = 0;
    const restart = async () => {
      kills++;
      await recs.start().catch(() => undefined); // may die before it answers ready
    };
    await recs.start().catch(() => undefined);
    for (let i = 0; i < events.length; i += 400) {
      const res = await fetch(`${faulty.stack.url.ingestion}/v1/events`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify(events.slice(i, i + 400)) });
      expect(res.status).toBe(202);
      await new Promise((r) => setTimeout(r, 50));
      if (recs.exited()) await restart();
    }
    await eventually(async () => expect(await streamEventCount(faulty.nc, streams.clean.name)).toBe(events.length), { timeoutMs: 60_000 });
    for (let i = 0; i < 3 && recs.exited(); i++) await restart();
    expect(kills).toBeGreaterThanOrEqual(3);
    await recs.kill();
    process.stdout.write(`recs-checkpoint: ${kills} kills\n`);
    delete recs.env.TIDEMARK_FAULT;
    await recs.start();
    await recsQuiescent(faulty);
    const got = await dump(faulty.redis);
    expect([...got.keys()]).toEqual([...expected.keys()]);
    for (const [k, v] of expected) expect([k, got.get(k)]).toEqual([k, v]);
  });
});

describe('the recommendation checkpoints on its own interval', () => {
  it('every RECS_CHECKPOINT_INTERVAL_MS, not CHECKPOINT_INTERVAL_MS, or once CHECKPOINT_MAX_EVENTS wait; its batches are acked only then', async () => {
    // the other services' interval 20 ms, the recommendation's a minute: only the event bound can move it here
    const run = await startRun({ RECS_CHECKPOINT_INTERVAL_MS: '60000' });
    const jsm = await jetstreamManager(run.nc);
    const visit = 'w0';
    const p = partitionOf(visit, PARTITIONS);
    const views = (from: number, n: number) =>
      Array.from({ length: n }, (_, i) => ({ id: `w-${from + i}`, type: 'product_view', ts: T, userId: 'u0', sessionId: visit, productId: `p${(from + i) % 7}`, categoryId: 'c0' }));
    const lastSeq = async () => Number((await run.redis.hget(`recs:{p${p}}:part`, 'lastSeq')) ?? 0);
    const consumer = () => jsm.consumers.info(streams.clean.name, durables.recommendation(p));

    // applied in memory and held: no checkpoint and no ack while the other services' interval passes many times
    await send(run, views(0, 10));
    await eventually(async () => {
      const c = await consumer();
      expect([c.num_pending, c.num_ack_pending > 0]).toEqual([0, true]);
    });
    await new Promise((r) => setTimeout(r, 1500));
    expect(await lastSeq()).toBe(0);
    expect((await consumer()).num_ack_pending).toBeGreaterThan(0);

    // 190 more events make the partition's 200th (CHECKPOINT_MAX_EVENTS) the last one sent: a checkpoint, everything acked
    await send(run, views(10, 190), 200);
    await recsQuiescent(run);
    expect(await lastSeq()).toBeGreaterThan(0);
    expect(await run.redis.hexists(`recs:{p${p}}:nb`, 'p0')).toBe(1);
  });
});
