/**
 * The core promise, end to end over real processes: ingestion → dedup → aggregation on real NATS and Redis.
 * Generated shop traffic with disorder within the bound, 10 % duplicate sends (inside JetStream's window via
 * HTTP, and beyond it straight into events.raw), HTTP and randomly chunked TCP, kill -9 of dedup and of
 * aggregation, a Redis kill -9 and restart (append-only file), a NATS restart; then events within allowed
 * lateness (windows re-fired with version 2) and beyond it (late output, late_events). Every window result
 * must equal a brute-force reference computed here — exactly (HyperLogLog within its error).
 */
import * as net from 'node:net';
import type { NatsConnection } from '@nats-io/nats-core';
import { jetstream, jetstreamManager } from '@nats-io/jetstream';
import { TidemarkEvent, WindowResultDto, durables, partitionOf, streams, subjects } from '@tidemark/contracts';
import { ShopSimulator } from '@tidemark/simulator';
import { eventually, waitForQuiescence } from './support/eventually';
import { freePort } from './support/free-port';
import { natsClient, readStream } from './support/jetstream-read';
import { RefWindow, computeReference, expectResultsMatch, expectSessionsAndJoinsMatch, heartbeats } from './support/reference';
import { ServerHandle, startNats, startRedis } from './support/servers';
import { ServiceProcess, serviceProcess } from './support/service-process';

jest.setTimeout(300_000);

const PARTITIONS = 4;
const BOUND = 5_000;
const LATENESS = 60_000;
const T0 = Date.UTC(2026, 10, 1, 12, 0, 0);

let nats: ServerHandle;
let redis: ServerHandle;
let nc: NatsConnection;
let ingestion: ServiceProcess;
let dedup: ServiceProcess;
let aggregation: ServiceProcess;
let httpUrl: string;
let tcpPort: number;
let aggUrl: string;

beforeAll(async () => {
  [nats, redis] = await Promise.all([startNats(), startRedis({ persistence: true })]);
  const ports = { http: await freePort(), tcp: await freePort(), agg: await freePort(), dedup: await freePort() };
  httpUrl = `http://127.0.0.1:${ports.http}`;
  aggUrl = `http://127.0.0.1:${ports.agg}`;
  tcpPort = ports.tcp;
  const env = {
    NATS_URL: nats.url,
    REDIS_URL: redis.url,
    PARTITIONS: String(PARTITIONS),
    MAX_OUT_OF_ORDERNESS_MS: String(BOUND),
    ALLOWED_LATENESS_MS: String(LATENESS),
    IDLE_TIMEOUT_MS: '3600000',
    WATERMARK_IDLE_ADVANCE: 'off',
    FIRE_INTERVAL_MS: '50',
    ACK_WAIT_MS: '3000',
    INGESTION_PORT: String(ports.http),
    INGESTION_TCP_PORT: String(ports.tcp),
    AGGREGATION_PORT: String(ports.agg),
    DEDUP_PORT: String(ports.dedup),
  };
  ingestion = serviceProcess('ingestion', env, `${httpUrl}/health/ready`);
  dedup = serviceProcess('dedup', env, `http://127.0.0.1:${ports.dedup}/health/ready`);
  aggregation = serviceProcess('aggregation', env, `${aggUrl}/health/ready`);
  await Promise.all([ingestion.start(), dedup.start(), aggregation.start()]);
  nc = await natsClient(nats.url);
});

afterAll(async () => {
  await nc?.close().catch(() => undefined);
  await Promise.all([ingestion?.stop(), dedup?.stop(), aggregation?.stop()]);
  await Promise.all([nats?.dispose(), redis?.dispose()]);
});

/** Sends over HTTP until every event is stored (a 503 or a refused connection is retried, as a client would). */
async function sendHttp(events: TidemarkEvent[]): Promise<void> {
  const body = events.map((e) => JSON.stringify(e)).join('\n');
  await eventually(
    async () => {
      const res = await fetch(`${httpUrl}/v1/events`, { method: 'POST', headers: { 'content-type': 'application/x-ndjson' }, body });
      const reply = (await res.json()) as { accepted: number; duplicates: number; rejected: unknown[] };
      expect(res.status).toBe(202);
      expect(reply.rejected).toEqual([]);
    },
    { timeoutMs: 60_000, intervalMs: 200 },
  );
}

/** Sends over TCP in random chunks; lines answered `unavailable` are sent again over HTTP. */
async function sendTcp(events: TidemarkEvent[], rnd: () => number): Promise<void> {
  const buf = Buffer.from(events.map((e) => JSON.stringify(e)).join('\n') + '\n');
  const replies = await new Promise<{ line: number; status: string }[]>((resolve, reject) => {
    const socket = net.connect({ host: '127.0.0.1', port: tcpPort });
    let text = '';
    socket.on('data', (d) => {
      text += d;
      const lines = text.split('\n').filter(Boolean);
      if (lines.length >= events.length) {
        socket.end();
        resolve(lines.map((l) => JSON.parse(l)));
      }
    });
    socket.on('error', reject);
    void (async () => {
      let pos = 0;
      while (pos < buf.length) {
        const n = 1 + Math.floor(rnd() * 700);
        socket.write(buf.subarray(pos, pos + n));
        pos += n;
        if (rnd() < 0.3) await new Promise((r) => setImmediate(r));
      }
    })();
  });
  const retry = replies.filter((r) => r.status !== 'accepted' && r.status !== 'duplicate').map((r) => events[r.line - 1]);
  expect(replies.filter((r) => r.status === 'rejected')).toEqual([]);
  if (retry.length) await sendHttp(retry);
}

function seeded(seed: number): () => number {
  let s = seed >>> 0;
  return () => {
    s = (s + 0x6d2b79f5) >>> 0;
    let t = Math.imul(s ^ (s >>> 15), s | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

async function watermark(): Promise<number | null> {
  return ((await (await fetch(`${aggUrl}/v1/watermark`)).json()) as { watermark: number | null }).watermark;
}

async function quiescent(): Promise<void> {
  for (let p = 0; p < PARTITIONS; p++) {
    await waitForQuiescence(nc, streams.raw.name, durables.dedup(p), { timeoutMs: 120_000 });
    await waitForQuiescence(nc, streams.clean.name, durables.aggregation(p), { timeoutMs: 120_000 });
  }
}

async function results(metric: string): Promise<WindowResultDto[]> {
  const res = await fetch(`${aggUrl}/v1/metrics/${metric}?limit=10000`);
  expect(res.headers.get('x-tidemark-truncated')).toBeNull();
  return (await res.json()) as WindowResultDto[];
}

describe('the pipeline, exactly once', () => {
  it('counts every accepted event exactly once in every window, through duplicates, disorder, lateness and crashes', async () => {
    // Main phase: 12 minutes of simulated shop traffic, disorder within the bound.
    const sim = new ShopSimulator({ seed: 11, sessionsPerSecond: 3, products: 60, users: 300 });
    sim.incidents = { disorderRate: 0.2, disorderMs: 3000 };
    const main: TidemarkEvent[] = [];
    for (let t = T0; t < T0 + 12 * 60_000; t += 100) main.push(...sim.tick(t));
    const rnd = seeded(5);
    const chunks: TidemarkEvent[][] = [];
    for (let i = 0; i < main.length; i += 400) chunks.push(main.slice(i, i + 400));
    const chaos: Record<number, () => Promise<void>> = {
      [Math.floor(chunks.length * 0.2)]: async () => {
        await dedup.kill();
        await dedup.start();
      },
      [Math.floor(chunks.length * 0.35)]: async () => {
        await aggregation.kill();
        await aggregation.start();
      },
      [Math.floor(chunks.length * 0.5)]: async () => {
        await redis.kill();
        await redis.start();
      },
      [Math.floor(chunks.length * 0.65)]: async () => {
        await nats.stop();
        await nats.start();
      },
      [Math.floor(chunks.length * 0.8)]: async () => {
        await Promise.all([dedup.kill(), aggregation.kill()]);
        await Promise.all([dedup.start(), aggregation.start()]);
      },
    };
    const sent: TidemarkEvent[] = [];
    for (let i = 0; i < chunks.length; i++) {
      const chunk = chunks[i];
      // The crash lands while this chunk is being ingested, deduplicated and aggregated.
      const send = i % 2 === 0 ? sendHttp(chunk) : sendTcp(chunk, rnd);
      const crash = chaos[i] ? new Promise((r) => setTimeout(r, 5 + Math.floor(rnd() * 40))).then(chaos[i]) : Promise.resolve();
      await Promise.all([send, crash]);
      sent.push(...chunk);
      // 10 % duplicate sends of earlier events: half through ingestion (inside the JetStream window)…
      const dups = Array.from({ length: Math.ceil(chunk.length * 0.05) }, () => sent[Math.floor(rnd() * sent.length)]);
      await sendHttp(dups);
      // …half straight into the raw stream without a message id, as a resend after the window would arrive.
      const js = jetstream(nc);
      for (let k = 0; k < Math.ceil(chunk.length * 0.05); k++) {
        const e = sent[Math.floor(rnd() * sent.length)];
        await eventually(() => js.publish(subjects.raw(partitionOf(e.sessionId, PARTITIONS)), Buffer.from(JSON.stringify(e))), { timeoutMs: 30_000, intervalMs: 200 });
      }
    }
    // A poison message in the clean stream: dead-lettered, the partition goes on.
    await jetstream(nc).publish(subjects.clean(0), Buffer.from('{definitely not json'));

    // Push every partition far ahead: every window of the main phase fires. First an on-time order in the
    // minute that the within-lateness events will update later, so that minute fires once before them.
    const h1 = T0 + 2 * 3_600_000;
    const w1 = h1 - BOUND;
    const lastMinuteEnd = Math.floor(w1 / 60_000) * 60_000; // a 1-minute window that fires at w1, and end + lateness > w1
    const anchor: TidemarkEvent = {
      id: 'anchor',
      type: 'order_placed',
      ts: lastMinuteEnd - 55_000,
      userId: 'anchor',
      sessionId: 'anchor',
      orderId: 'anchor-o',
      amount: 1,
      items: [{ productId: 'p-late', categoryId: 'late-cat', price: 1, quantity: 1 }],
    };
    // Two cart sessions of one visit, 10 s too far apart to be one (gap 30 min); the first fires at w1, still
    // within allowed lateness. A late add_to_cart between them (in the late phase) bridges them: one merged
    // session, which fires as version 2 (a session already past its lateness would stay apart: closed).
    const X = w1 - 30 * 60_000 - 30_000;
    const cart = (id: string, ts: number): TidemarkEvent => ({ id, type: 'add_to_cart', ts, userId: 'sb', sessionId: 'sb', productId: 'p-0002', quantity: 1, price: 3 });
    const split = [cart('sb-1', X), cart('sb-2', X + 30 * 60_000 + 10_000)];
    const bridge = cart('sb-bridge', X + 29 * 60_000 + 50_000);
    // An order unpaid at its deadline (published unmatched at w1), paid 45 s before w1: within allowed
    // lateness, so it flips to matched, version 2.
    const jo: TidemarkEvent = { id: 'jo', type: 'order_placed', ts: w1 - 15 * 60_000 - 30_000, userId: 'jo', sessionId: 'jo', orderId: 'jo-o', amount: 9, items: [{ productId: 'p-0003', categoryId: 'c', price: 9, quantity: 1 }] };
    const joPaid: TidemarkEvent = { id: 'jo-paid', type: 'payment_succeeded', ts: w1 - 45_000, userId: 'jo', sessionId: 'jo', orderId: 'jo-o', amount: 9 };
    await sendHttp([anchor, ...split, jo]);
    await quiescent();
    const hb1 = heartbeats(h1, '1', PARTITIONS);
    await sendHttp(hb1);
    await eventually(async () => expect(await watermark()).toBe(w1), { timeoutMs: 120_000, intervalMs: 100 });

    await eventually(async () => expect((await results('orders')).find((r) => r.windowEnd === lastMinuteEnd)).toMatchObject({ final: true, version: 1, value: 1 }));
    // Late phase, judged at watermark w1: within allowed lateness (updates a fired window → version 2)…
    const within: TidemarkEvent[] = [0, 1, 2].map((i) => ({
      id: `late-within-${i}`,
      type: 'order_placed',
      ts: lastMinuteEnd - 50_000 + i,
      userId: `lw-${i}`,
      sessionId: `lw-${i}`,
      orderId: `lw-o-${i}`,
      amount: 12.34,
      items: [{ productId: 'p-late', categoryId: 'late-cat', price: 6.17, quantity: 2 }],
    }));
    // …and beyond it: too late for their 1-minute windows (late output), still in time for some long sliding ones.
    const beyond: TidemarkEvent[] = ['product_view', 'order_placed', 'page_view'].map((type, i) => ({
      id: `late-beyond-${i}`,
      type: type as TidemarkEvent['type'],
      ts: w1 - 10 * 60_000 + i,
      userId: `lb-${i}`,
      sessionId: `lb-${i}`,
      ...(type === 'product_view' ? { productId: 'p-0001', categoryId: 'c' } : {}),
      ...(type === 'order_placed' ? { orderId: `lb-o-${i}`, amount: 5, items: [{ productId: 'p-0001', categoryId: 'c', price: 5, quantity: 1 }] } : {}),
    }));
    await eventually(async () => {
      expect((await results('cart_abandonment')).filter((r) => r.key === 'sb').map((r) => [r.windowStart, r.final, r.version])).toEqual([
        [X, true, 1],
        [split[1].ts, false, 0],
      ]);
      expect((await results('unpaid_orders')).find((r) => r.key === 'jo-o')).toMatchObject({ version: 1, final: true, value: { status: 'unmatched' } });
    });
    const latePhase = [...within, ...beyond, bridge, joPaid];
    await sendHttp(latePhase);
    await quiescent();

    // Fire everything that is left.
    const h2 = h1 + 3 * 3_600_000;
    const hb2 = heartbeats(h2, '2', PARTITIONS);
    await sendHttp(hb2);
    await eventually(async () => expect(await watermark()).toBe(h2 - BOUND), { timeoutMs: 120_000, intervalMs: 100 });
    await quiescent();

    // The reference: unique ids (first occurrence), lateness decided at w1 for the late phase only.
    const unique = new Map<string, TidemarkEvent>();
    for (const e of [...sent, anchor, ...split, jo, ...hb1, ...latePhase, ...hb2]) if (!unique.has(e.id)) unique.set(e.id, e);
    const lateIds = new Set(latePhase.map((e) => e.id));
    const counted = (e: TidemarkEvent, _metric: string, w: RefWindow) => !lateIds.has(e.id) || w.end + LATENESS > w1;
    const reference = computeReference(unique.values(), counted);

    const lastFinalEnd = h2 - BOUND;
    await expectResultsMatch((metric) => results(metric), reference, lastFinalEnd);
    // Sessions (cart_abandonment) and the interval join (unpaid_orders): no event here is past their lateness.
    await expectSessionsAndJoinsMatch((metric) => results(metric), unique.values(), lastFinalEnd);

    // Within lateness: their minute was re-fired with version 2 (the late orders are in it).
    const orders = (await results('orders')).find((r) => r.windowEnd === lastMinuteEnd)!;
    // (The three late orders may land in separate batches, each re-firing the window: version >= 2.)
    expect(orders).toMatchObject({ value: 1 + within.length, final: true });
    expect(orders.version).toBeGreaterThanOrEqual(2);
    // The bridged sessions are one, re-fired; the late-paid order flipped to matched.
    expect((await results('cart_abandonment')).filter((r) => r.key === 'sb')).toEqual([
      expect.objectContaining({ windowStart: X, windowEnd: split[1].ts + 30 * 60_000, version: 2, final: true, value: { abandoned: true, started: 3, completed: 0 } }),
    ]);
    expect((await results('unpaid_orders')).find((r) => r.key === 'jo-o')).toMatchObject({ version: 2, final: true, value: { status: 'matched', matchedTs: joPaid.ts } });
    // Beyond lateness: on the late output once per (event, metric), and counted in late_events, by type.
    const late = await readStream<{ metric: string; event: TidemarkEvent }>(nc, streams.late.name);
    expect(new Set(late.map((l) => l.data.event.id))).toEqual(new Set(beyond.map((e) => e.id)));
    expect(late.filter((l) => l.data.metric === 'events').map((l) => l.data.event.id).sort()).toEqual(beyond.map((e) => e.id).sort());
    const lateCounts = new Map<string, number>();
    for (const r of await results('late_events')) lateCounts.set(r.key, (lateCounts.get(r.key) ?? 0) + (r.value as number));
    expect(Object.fromEntries(lateCounts)).toEqual({ product_view: 1, order_placed: 1, page_view: 1 });

    // The poison message went to the DLQ with its error; partition 0 went on.
    const jsm = await jetstreamManager(nc);
    const dlq = await jsm.streams.getMessage(streams.dlq.name, { last_by_subj: `dlq.${streams.clean.name}.${durables.aggregation(0)}` });
    expect(dlq!.header.get('Tidemark-Error')).toMatch(/not JSON/);
  });
});
