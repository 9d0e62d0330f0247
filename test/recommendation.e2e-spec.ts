/**
 * The recommendation service as a real process, fed by real ingestion and dedup processes over real NATS and
 * Redis: a visit's views show up in another user's "similar" and personal answers, a buyer is never
 * recommended what they bought, trending decays with event time, the NATS API answers like HTTP, bad
 * parameters get a 400 with the reason, a kill -9 mid-backlog loses and doubles nothing (answers equal a
 * reference computed in memory from the clean stream) — and a full redelivery of the clean stream changes nothing.
 */
import type { NatsConnection } from '@nats-io/nats-core';
import { jetstreamManager } from '@nats-io/jetstream';
import { loadConfig } from '@tidemark/config';
import { durables, rpc, streams, subjects } from '@tidemark/contracts';
import { InMemoryRecStore, Recommender, planEvents, sessionsOf } from '@tidemark/recommend';
import { eventually, waitForQuiescence } from './support/eventually';
import { freePort } from './support/free-port';
import { natsClient, readStream, streamEventCount } from './support/jetstream-read';
import { ServerHandle, startNats, startRedis } from './support/servers';
import { ServiceProcess, serviceProcess } from './support/service-process';

jest.setTimeout(120_000);

const PARTITIONS = 4;
const H = 3_600_000;
const T = Date.UTC(2026, 10, 1, 8);
let nats: ServerHandle;
let redis: ServerHandle;
let nc: NatsConnection;
let ingestion: ServiceProcess;
let dedup: ServiceProcess;
let recs: ServiceProcess;
let ingestUrl: string;
let recsUrl: string;

beforeAll(async () => {
  [nats, redis] = await Promise.all([startNats(), startRedis()]);
  nc = await natsClient(nats.url);
  const [http, tcp, dedupPort, recsPort] = [await freePort(), await freePort(), await freePort(), await freePort()];
  const env = { NATS_URL: nats.url, REDIS_URL: redis.url, PARTITIONS: String(PARTITIONS), INGESTION_PORT: String(http), INGESTION_TCP_PORT: String(tcp), DEDUP_PORT: String(dedupPort), RECOMMENDATION_PORT: String(recsPort) };
  ingestUrl = `http://127.0.0.1:${http}`;
  recsUrl = `http://127.0.0.1:${recsPort}`;
  ingestion = serviceProcess('ingestion', env, `${ingestUrl}/health/ready`);
  dedup = serviceProcess('dedup', env, `http://127.0.0.1:${dedupPort}/health/ready`);
  recs = serviceProcess('recommendation', { ...env, RECS_TRENDING_HALF_LIFE_MS: String(H) }, `${recsUrl}/health/ready`);
  await Promise.all([ingestion.start(), dedup.start(), recs.start()]);
});

afterAll(async () => {
  await Promise.all([recs?.stop(), dedup?.stop(), ingestion?.stop()]);
  await nc?.close();
  await Promise.all([nats?.dispose(), redis?.dispose()]);
});

let n = 0;
const view = (userId: string, sessionId: string, productId: string, ts: number, categoryId = 'phones') => ({ id: `e2e-${n++}`, type: 'product_view', ts, userId, sessionId, productId, categoryId });
const order = (userId: string, sessionId: string, productId: string, ts: number) => ({
  id: `e2e-${n++}`,
  type: 'order_placed',
  ts,
  userId,
  sessionId,
  orderId: `o-${n}`,
  amount: 10,
  items: [{ productId, categoryId: 'phones', price: 10, quantity: 1 }],
});

async function send(events: object[]): Promise<void> {
  const res = await fetch(`${ingestUrl}/v1/events`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify(events) });
  expect(res.status).toBe(202);
  expect(await res.json()).toMatchObject({ accepted: events.length });
}

interface Answer {
  strategy?: string;
  known?: boolean;
  scope?: string;
  items: { productId: string; score: number; reason: string }[];
}

async function get(path: string): Promise<Answer> {
  const res = await fetch(`${recsUrl}${path}`);
  expect(res.status).toBe(200);
  return (await res.json()) as Answer;
}

async function request(subject: string, body: unknown): Promise<Record<string, unknown>> {
  const msg = await nc.request(subject, Buffer.from(JSON.stringify(body)), { timeout: 5000 });
  return JSON.parse(Buffer.from(msg.data).toString()) as Record<string, unknown>;
}

async function quiescent(): Promise<void> {
  for (let p = 0; p < PARTITIONS; p++) {
    await waitForQuiescence(nc, streams.raw.name, durables.dedup(p), { timeoutMs: 30_000 });
    await waitForQuiescence(nc, streams.clean.name, durables.recommendation(p), { timeoutMs: 30_000 });
  }
}

describe('recommendation service', () => {
  it("a visit's views show up in another user's similar and personal answers", async () => {
    // the page views teach nothing: the service skips them undecoded (and counts them)
    const page = (i: number) => ({ id: `e2e-${n++}`, type: 'page_view', ts: T, userId: 'alice', sessionId: 'va', url: `/page/${i}` });
    await send([page(1), view('alice', 'va', 'P1', T), view('alice', 'va', 'P2', T), page(2), view('alice', 'va', 'P3', T)]);
    await eventually(async () => {
      const similar = await get('/v1/recommendations/products/P1/similar?k=5');
      expect(similar.strategy).toBe('similar');
      expect(similar.items.slice(0, 2)).toEqual([
        { productId: 'P2', score: 1, reason: 'viewed together with P1' },
        { productId: 'P3', score: 1, reason: 'viewed together with P1' },
      ]);
    });
    // bob has never met alice: he looks at P1, and gets what alice viewed with it
    await send([view('bob', 'vb', 'P1', T)]);
    await eventually(async () => {
      const mine = await get('/v1/recommendations/users/bob?k=3');
      expect(mine.strategy).toBe('personalised');
      expect(mine.items.map((i) => [i.productId, i.reason])).toEqual([
        ['P1', 'you viewed it recently'],
        ['P2', 'viewed together with P1'],
        ['P3', 'viewed together with P1'],
      ]);
    });
    const metrics = await (await fetch(`${recsUrl}/metrics`)).text();
    expect(Number(/tidemark_recs_events_total\{[^}]*outcome="skipped"[^}]*\} (\d+)/.exec(metrics)?.[1])).toBe(2);
  });

  it('never recommends what the user bought', async () => {
    await send([order('bob', 'vb', 'P2', T)]);
    await eventually(async () => {
      const ids = (await get('/v1/recommendations/users/bob?k=10')).items.map((i) => i.productId);
      expect(ids).not.toContain('P2');
      expect(ids.slice(0, 2)).toEqual(['P1', 'P3']);
    });
    // P2 now co-occurs with P1 in two visits (alice's views, bob's view and purchase: min level = view), with P3 in one
    await eventually(async () => {
      const similar = await get('/v1/recommendations/products/P2/similar?k=1');
      expect(similar.items[0]).toMatchObject({ productId: 'P1', reason: 'viewed together with P2' });
    });
  });

  it('trending decays with event time', async () => {
    await send([view('c1', 'vc1', 'X', T + H, 'decay'), view('c2', 'vc2', 'X', T + H, 'decay'), view('c3', 'vc3', 'X', T + H, 'decay')]);
    await eventually(async () => {
      expect(await get('/v1/trending?categoryId=decay&k=5')).toEqual({ categoryId: 'decay', scope: 'category', items: [{ productId: 'X', score: 3, reason: 'trending in decay' }] });
    });
    // two half-lives later, one view of Y outweighs X's three
    await send([view('c4', 'vc4', 'Y', T + 3 * H, 'decay')]);
    await eventually(async () => {
      expect((await get('/v1/trending?categoryId=decay&k=5')).items).toEqual([
        { productId: 'Y', score: 1, reason: 'trending in decay' },
        { productId: 'X', score: 0.75, reason: 'trending in decay' },
      ]);
    });
  });

  it('answers unknown users and products with trending, and bad parameters with a 400 naming them', async () => {
    const stranger = await get('/v1/recommendations/users/nobody?k=2');
    expect(stranger.strategy).toBe('trending');
    expect(stranger.items).toHaveLength(2);
    expect(stranger.items.every((i) => i.reason === 'trending overall')).toBe(true);
    const unknown = await get('/v1/recommendations/products/nothing/similar');
    expect(unknown).toMatchObject({ strategy: 'trending', known: false });
    for (const path of ['/v1/trending?k=0', '/v1/recommendations/users/bob?k=abc', '/v1/recommendations/products/P1/similar?k=101']) {
      const res = await fetch(`${recsUrl}${path}`);
      expect(res.status).toBe(400);
      expect(((await res.json()) as { error: string }).error).toMatch(/^k must be a whole number from 1 to 100/);
    }
  });

  it('answers over NATS like over HTTP', async () => {
    const http = await get('/v1/recommendations/users/bob?k=3');
    expect(await request(rpc.recsUser, { userId: 'bob', k: 3 })).toEqual({ status: 200, ...http });
    expect(await request(rpc.recsSimilar, { productId: 'P1', k: 2 })).toEqual({ status: 200, ...(await get('/v1/recommendations/products/P1/similar?k=2')) });
    expect(await request(rpc.recsTrending, { categoryId: 'decay' })).toEqual({ status: 200, ...(await get('/v1/trending?categoryId=decay')) });
    expect(await request(rpc.recsUser, { k: 3 })).toMatchObject({ type: 'urn:tidemark:problem:invalid-request', status: 400, error: 'userId is required (a non-empty string)' });
    expect(await request(rpc.recsTrending, { k: 'many' })).toMatchObject({ status: 400, detail: 'k must be a whole number from 1 to 100, not "many"' });
  });

  it('counts every event once across a kill -9 in the middle of a backlog (same answers as a reference)', async () => {
    // 12 000 events at one event time: 300 visits of 40 users over 4 categories of 10 products (no list is trimmed,
    // decay factors are powers of two: the reference's sums are exact, whatever the batches)
    const ts = T + 5 * H;
    const events: object[] = [];
    for (let v = 0; v < 300; v++) {
      const user = `k-u${v % 40}`;
      const cat = `k-c${v % 4}`;
      for (let j = 0; j < 40; j++) {
        const product = `k-${cat}-p${(v * 7 + j * 3) % 10}`;
        const e = view(user, `k-v${v}`, product, ts, cat);
        events.push(j % 10 === 9 ? { ...e, type: 'add_to_cart' } : e);
      }
    }
    for (let i = 0; i < events.length; i += 2000) await send(events.slice(i, i + 2000));
    const jsm = await jetstreamManager(nc);
    await eventually(async () => {
      const floors = await Promise.all(Array.from({ length: PARTITIONS }, async (_, p) => (await jsm.consumers.info(streams.clean.name, durables.recommendation(p))).ack_floor.stream_seq));
      expect(floors.reduce((a, b) => a + b, 0)).toBeGreaterThan(0);
    });
    await recs.kill();
    await recs.start();
    await quiescent();

    // the reference: the whole clean stream, partition by partition, in stream order, through the same code in memory
    const params = { ...loadConfig({ RECS_TRENDING_HALF_LIFE_MS: String(H) }).recs.params };
    const ref = new InMemoryRecStore(params);
    const clean = await readStream<unknown>(nc, streams.clean.name);
    for (let p = 0; p < PARTITIONS; p++) {
      for (const m of clean.filter((x) => x.subject === subjects.clean(p))) ref.applyOps(planEvents([m.data], ref.sessionsSync(sessionsOf([m.data])), params).ops);
    }
    const reference = new Recommender(ref, params);
    for (let c = 0; c < 4; c++) {
      expect(await get(`/v1/trending?categoryId=k-c${c}&k=10`)).toEqual(await reference.trending(`k-c${c}`, 10));
      for (const p of [0, 5, 9]) expect(await get(`/v1/recommendations/products/k-k-c${c}-p${p}/similar?k=9`)).toEqual(await reference.similar(`k-k-c${c}-p${p}`, 9));
    }
    for (const u of [0, 13, 39]) expect(await get(`/v1/recommendations/users/k-u${u}?k=8`)).toEqual(await reference.forUser(`k-u${u}`, 8));
  });

  it('a redelivery of the whole clean stream changes nothing', async () => {
    await quiescent();
    const paths = ['/v1/recommendations/users/bob', '/v1/recommendations/users/alice', '/v1/recommendations/products/P1/similar', '/v1/trending', '/v1/trending?categoryId=decay'];
    const before = await Promise.all(paths.map(get));
    // stop the service, forget every consumer position: on restart JetStream delivers the whole stream again
    await recs.stop();
    const jsm = await jetstreamManager(nc);
    for (let p = 0; p < PARTITIONS; p++) await jsm.consumers.delete(streams.clean.name, durables.recommendation(p)).catch(() => undefined);
    await recs.start();
    await quiescent();
    const metrics = await (await fetch(`${recsUrl}/metrics`)).text();
    const replayed = Number(/tidemark_recs_events_total\{[^}]*outcome="replayed"[^}]*\} (\d+)/.exec(metrics)?.[1] ?? 0);
    expect(replayed).toBe(await streamEventCount(nc, streams.clean.name)); // every event came again
    expect(metrics).not.toMatch(/tidemark_recs_events_total\{[^}]*outcome="applied"/);
    expect(await Promise.all(paths.map(get))).toEqual(before);
  });
});
