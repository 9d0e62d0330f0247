/**
 * User-supplied values become parts of Redis key names; none may name another key, stall a partition or be
 * counted twice. Over real processes (ingestion → dedup → aggregation on real NATS and Redis):
 *   - order `Z` is placed and paid, then order `Z:r` is placed: unencoded, `Z:r`'s join state would land on
 *     `Z`'s payments set (another Redis type), the aggregation's apply would fail half-way and its retries
 *     count the batch's orders again;
 *   - ids, userIds, sessionIds, productIds and orderIds made of `:`, `{`, `}`, `*`, `a:b:r`, 128 characters,
 *     emoji and CJK are each counted exactly once;
 *   - an event whose userId is a lone UTF-16 surrogate is rejected, on its own, at ingestion, and the events
 *     sent with it and after it are counted.
 * Counts are checked through the aggregation's HTTP API once the windows are final.
 */
import type { NatsConnection } from '@nats-io/nats-core';
import { TidemarkEvent, WindowResultDto, durables, streams } from '@tidemark/contracts';
import { eventually, waitForQuiescence } from './support/eventually';
import { natsClient } from './support/jetstream-read';
import { heartbeats } from './support/reference';
import { ServerHandle, startNats, startRedis } from './support/servers';
import { Stack, startStack } from './support/stack';

jest.setTimeout(180_000);

const PARTITIONS = 2;
const T0 = Date.UTC(2026, 10, 1, 12, 0, 0);
const SEC = 1000;

let nats: ServerHandle;
let redis: ServerHandle;
let nc: NatsConnection;
let stack: Stack;
let httpUrl: string;
let aggUrl: string;

beforeAll(async () => {
  [nats, redis] = await Promise.all([startNats(), startRedis()]);
  stack = await startStack(
    {
      NATS_URL: nats.url,
      REDIS_URL: redis.url,
      PARTITIONS: String(PARTITIONS),
      MAX_OUT_OF_ORDERNESS_MS: '5000',
      ALLOWED_LATENESS_MS: '60000',
      IDLE_TIMEOUT_MS: '3600000',
      WATERMARK_IDLE_ADVANCE: 'off',
      FIRE_INTERVAL_MS: '50',
      ACK_WAIT_MS: '3000',
    },
    ['ingestion', 'dedup', 'aggregation'],
  );
  httpUrl = stack.url.ingestion;
  aggUrl = stack.url.aggregation;
  nc = await natsClient(nats.url);
});

afterAll(async () => {
  await nc?.close().catch(() => undefined);
  await stack?.stop();
  await Promise.all([nats?.dispose(), redis?.dispose()]);
});

interface Reply {
  status: number;
  body: { accepted: number; duplicates: number; rejected: { index: number; error: string; errors: { field: string; reason: string }[] }[] };
}

/** Posts NDJSON lines as they are (a line may hold a lone surrogate escape, which JSON.stringify writes as `\ud800`). */
async function post(lines: string[]): Promise<Reply> {
  const res = await fetch(`${httpUrl}/v1/events`, { method: 'POST', headers: { 'content-type': 'application/x-ndjson' }, body: lines.join('\n') });
  return { status: res.status, body: (await res.json()) as Reply['body'] };
}

async function send(events: TidemarkEvent[]): Promise<void> {
  const r = await post(events.map((e) => JSON.stringify(e)));
  expect(r.status).toBe(202);
  expect(r.body.rejected).toEqual([]);
  expect(r.body.accepted).toBe(events.length);
}

async function quiescent(): Promise<void> {
  for (let p = 0; p < PARTITIONS; p++) {
    await waitForQuiescence(nc, streams.raw.name, durables.dedup(p), { timeoutMs: 30_000 });
    await waitForQuiescence(nc, streams.clean.name, durables.aggregation(p), { timeoutMs: 30_000 });
  }
}

async function windows(metric: string): Promise<WindowResultDto[]> {
  const res = await fetch(`${aggUrl}/v1/metrics/${metric}?limit=10000`);
  expect(res.status).toBe(200);
  return (await res.json()) as WindowResultDto[];
}

const TRICKY = [':', '{', '}', '*', 'a:b:r', 'Z:r:r', `${'k'.repeat(60)}:${'r'.repeat(67)}`, '😀🎉', '中文商品', '{tm}:*'];
let n = 0;
const base = (ts: number, userId: string, sessionId: string) => ({ id: `e-${n++}`, ts, userId, sessionId });

describe('user-supplied key parts', () => {
  it('count exactly once whatever the ids hold, and a lone surrogate is rejected on its own without stalling', async () => {
    const orders: { orderId: string; amount: number }[] = [];
    const views = new Map<string, number>();
    const order = (orderId: string, amount: number, ts: number, userId = 'u1', sessionId = `s-${orderId}`): TidemarkEvent => {
      orders.push({ orderId, amount });
      return { ...base(ts, userId, sessionId), type: 'order_placed', orderId, amount, items: [{ productId: 'p1', price: amount, quantity: 1 }] };
    };
    const view = (productId: string, ts: number, userId: string, sessionId: string, id?: string): TidemarkEvent => {
      views.set(productId, (views.get(productId) ?? 0) + 1);
      return { ...base(ts, userId, sessionId), ...(id === undefined ? {} : { id }), type: 'product_view', productId };
    };

    // 1. Order Z placed and paid; applied before anything else.
    await send([order('Z', 5, T0 + 1 * SEC), { ...base(T0 + 2 * SEC, 'u1', 's-Z'), type: 'payment_succeeded', orderId: 'Z', amount: 5 }]);
    await quiescent();

    // 2. Order Z:r (its unencoded join state would be Z's payments set), and every tricky value in every id field.
    const second: TidemarkEvent[] = [order('Z:r', 10, T0 + 3 * SEC)];
    TRICKY.forEach((v, i) => {
      second.push(order(v, 100 + i, T0 + (4 + i) * SEC, v, v));
      for (let k = 0; k <= i; k++) second.push(view(v, T0 + (4 + i) * SEC + k, v, v, k === 0 ? v : undefined));
    });
    await send(second);

    // 3. A lone surrogate userId between two good events: that one record rejected, naming the field.
    const good1 = view('after-1', T0 + 20 * SEC, 'u2', 's2');
    const good2 = view('after-1', T0 + 21 * SEC, 'u2', 's2');
    const bad = JSON.stringify({ ...base(T0 + 20 * SEC, 'x', 's2'), type: 'product_view', productId: 'after-1' }).replace('"userId":"x"', '"userId":"\\ud800"');
    expect(bad).toContain('"userId":"\\ud800"');
    const r = await post([JSON.stringify(good1), bad, JSON.stringify(good2)]);
    expect(r.status).toBe(202);
    expect(r.body.accepted).toBe(2);
    expect(r.body.rejected).toHaveLength(1);
    expect(r.body.rejected[0].index).toBe(1);
    expect(r.body.rejected[0].errors).toEqual([{ field: 'userId', reason: expect.stringMatching(/not well-formed Unicode/) }]);
    // All of it bad: a 400.
    const allBad = await post([bad.replace('"id":"', '"id":"b')]);
    expect(allBad.status).toBe(400);
    expect(allBad.body.rejected[0].errors[0].field).toBe('userId');

    // 4. Events sent after it are counted too.
    await send([view('after-2', T0 + 30 * SEC, 'u3', 's3')]);

    // 5. Move the watermark past the minute and past Z:r's 15-minute payment deadline; everything fires.
    await send(heartbeats(T0 + 20 * 60 * SEC, 'end', PARTITIONS));
    await quiescent();

    const final = async (metric: string) =>
      eventually(
        async () => {
          const ws = (await windows(metric)).filter((w) => w.windowStart === T0);
          expect(ws.length).toBeGreaterThan(0);
          for (const w of ws) expect(w.final).toBe(true);
          return ws;
        },
        { timeoutMs: 30_000, intervalMs: 200 },
      );

    const [ordersW] = await final('orders');
    expect(ordersW.value).toBe(orders.length);
    expect(ordersW.version).toBe(1);
    const [gmvW] = await final('gmv');
    expect(gmvW.value).toBeCloseTo(orders.reduce((s, o) => s + o.amount, 0), 6);
    expect(gmvW.version).toBe(1);

    const pv = await final('product_views');
    expect(new Map(pv.map((w) => [w.key, w.value]))).toEqual(views);
    for (const w of pv) expect(w.version).toBe(1);

    // Z was paid in time; Z:r and the tricky orders were not: each its own join key.
    const unpaid = await eventually(
      async () => {
        const ws = (await windows('unpaid_orders')).filter((w) => w.final);
        expect(ws.length).toBe(orders.length - 1);
        return ws;
      },
      { timeoutMs: 30_000, intervalMs: 200 },
    );
    expect(unpaid.map((w) => w.key).sort()).toEqual(orders.map((o) => o.orderId).filter((id) => id !== 'Z').sort());
    for (const w of unpaid) expect((w.value as { status: string }).status).toBe('unmatched');

    // The per-key query finds a tricky key back.
    const one = (await (await fetch(`${aggUrl}/v1/metrics/product_views?key=${encodeURIComponent('a:b:r')}`)).json()) as WindowResultDto[];
    expect(one.map((w) => [w.key, w.value])).toEqual([['a:b:r', views.get('a:b:r')]]);
  });
});
