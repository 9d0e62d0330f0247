import fc from 'fast-check';
import * as net from 'node:net';
import type { NatsConnection } from '@nats-io/nats-core';
import { partitionOf, streams } from '@tidemark/contracts';
import { eventually } from './support/eventually';
import { natsClient, readStream, streamCount } from './support/jetstream-read';
import type { ServerHandle } from './support/servers';
import { IngestionStack, startIngestionStack } from './support/service-process';

jest.setTimeout(60_000);

const NOW = Date.now();
let seq = 0;
const ev = (extra: Record<string, unknown> = {}) => ({
  id: `e2e-${process.pid}-${++seq}`,
  type: 'page_view',
  ts: NOW - 1000,
  userId: 'u1',
  sessionId: `s-${seq % 7}`,
  ...extra,
});

let stack: IngestionStack;
let nats: ServerHandle;
let nc: NatsConnection;
let base: string;
let tcpPort: number;

beforeAll(async () => {
  stack = await startIngestionStack({
    INGESTION_MAX_BODY_BYTES: String(64 * 1024),
    INGESTION_MAX_LINE_BYTES: '2048',
    INGESTION_MAX_BATCH_EVENTS: '500',
  });
  ({ nats, nc, url: base, tcpPort } = stack);
});

afterAll(async () => {
  await stack?.stop();
});

async function post(body: unknown, contentType = 'application/json') {
  const res = await fetch(`${base}/v1/events`, {
    method: 'POST',
    headers: { 'content-type': contentType },
    body: typeof body === 'string' ? body : JSON.stringify(body),
  });
  return { status: res.status, body: (await res.json()) as { accepted: number; duplicates: number; rejected: { index: number; error: string }[]; error?: string } };
}

async function stored(id: string) {
  const all = await readStream<{ id: string }>(nc, streams.raw.name);
  return all.filter((m) => m.data.id === id);
}

describe('POST /v1/events', () => {
  it('accepts one object, stores it normalised in events.raw.<partition of sessionId>', async () => {
    const e = ev({ ts: new Date(NOW - 5000).toISOString(), referrer: 'ad' });
    const r = await post(e);
    expect(r).toEqual({ status: 202, body: { accepted: 1, duplicates: 0, rejected: [] } });
    const [m] = await stored(e.id as string);
    expect(m.subject).toBe(`events.raw.${partitionOf(e.sessionId as string, 8)}`);
    expect(m.data).toEqual({ id: e.id, type: 'page_view', ts: NOW - 5000, userId: 'u1', sessionId: e.sessionId, attrs: { referrer: 'ad' } });
  });

  it('accepts an array and NDJSON', async () => {
    const arr = [ev(), ev(), ev()];
    expect((await post(arr)).body).toEqual({ accepted: 3, duplicates: 0, rejected: [] });
    const lines = [ev(), ev()].map((e) => JSON.stringify(e)).join('\n') + '\n';
    expect(await post(lines, 'application/x-ndjson')).toEqual({ status: 202, body: { accepted: 2, duplicates: 0, rejected: [] } });
  });

  it('accepts the valid records of a mixed batch and names what is wrong with the others', async () => {
    const good = ev();
    const r = await post([ev({ type: 'add_to_cart' }), good, ev({ ts: 'soon' }), ev({ type: 'order_placed', orderId: 'o', amount: -1, items: [] })]);
    expect(r.status).toBe(202);
    expect(r.body.accepted).toBe(1);
    expect(r.body.rejected.map((x) => [x.index, x.error])).toEqual([
      [0, 'productId is required'],
      [2, 'ts "soon" is not an ISO-8601 time'],
      [3, 'amount must be >= 0'],
    ]);
    expect(await stored(good.id as string)).toHaveLength(1);
  });

  it('reports a broken NDJSON line by its index and line, keeping its neighbours', async () => {
    const a = ev();
    const b = ev();
    const r = await post(`${JSON.stringify(a)}\n{"id":\n\n${JSON.stringify(b)}\n`, 'application/x-ndjson');
    expect(r.status).toBe(202);
    expect(r.body.accepted).toBe(2);
    expect(r.body.rejected).toEqual([expect.objectContaining({ index: 1, line: 2, error: expect.stringMatching(/^line 2 is not valid JSON/) })]);
  });

  it('answers 400 when nothing is valid, for a broken body, and for an empty one', async () => {
    const bad = await post([{ id: 'x' }, 7]);
    expect(bad.status).toBe(400);
    expect(bad.body.accepted).toBe(0);
    expect(bad.body.rejected.map((x) => x.index)).toEqual([0, 1]);
    expect((await post('{"id":', 'application/json')).status).toBe(400);
    expect((await post('', 'application/json')).status).toBe(400);
    expect((await post([])).status).toBe(400);
  });

  it('counts duplicates within a request and across requests, storing each id once', async () => {
    const e = ev();
    expect((await post([e, e, { ...e, userId: 'other' }])).body).toEqual({ accepted: 1, duplicates: 2, rejected: [] });
    expect((await post(e)).body).toEqual({ accepted: 0, duplicates: 1, rejected: [] });
    const copies = await stored(e.id as string);
    expect(copies).toHaveLength(1);
    expect(copies[0].data).toMatchObject({ userId: 'u1' });
  });

  it('answers 413 over the body size limit and over the batch limit, storing nothing', async () => {
    const before = await streamCount(nc, streams.raw.name);
    const big = await post([ev({ attrs: { blob: 'x'.repeat(70 * 1024) } })]);
    expect(big.status).toBe(413);
    const many = await post(Array.from({ length: 501 }, () => ev()));
    expect(many.status).toBe(413);
    expect(many.body.error).toMatch(/limit is 500/);
    expect(await streamCount(nc, streams.raw.name)).toBe(before);
  });
});

describe('TCP NDJSON', () => {
  function exchange(chunks: Buffer[], expectedLines: number): Promise<Record<string, unknown>[]> {
    return new Promise((resolve, reject) => {
      const socket = net.connect({ host: '127.0.0.1', port: tcpPort });
      let received = '';
      socket.on('data', (d) => {
        received += d;
        const lines = received.split('\n').filter(Boolean);
        if (lines.length >= expectedLines) {
          socket.end();
          resolve(lines.map((l) => JSON.parse(l)));
        }
      });
      socket.on('error', reject);
      (async () => {
        for (const c of chunks) {
          socket.write(c);
          await new Promise((r) => setImmediate(r));
        }
      })();
    });
  }

  it('gives the same events for any split of the byte stream (property)', async () => {
    await fc.assert(
      fc.asyncProperty(fc.integer({ min: 1, max: 30 }), fc.array(fc.nat(), { maxLength: 25 }), async (n, cuts) => {
        const events = Array.from({ length: n }, () => ev({ userId: 'Zoë 🌊' }));
        const buf = Buffer.from(events.map((e) => JSON.stringify(e)).join('\n') + '\n');
        const points = [...new Set(cuts.map((c) => c % buf.length))].sort((a, b) => a - b);
        const chunks: Buffer[] = [];
        let prev = 0;
        for (const p of points) {
          chunks.push(buf.subarray(prev, p));
          prev = p;
        }
        chunks.push(buf.subarray(prev));
        const replies = await exchange(chunks, n);
        expect(replies).toEqual(events.map((_, i) => ({ line: i + 1, status: 'accepted' })));
        const all = await readStream<{ id: string; userId: string }>(nc, streams.raw.name);
        const ids = new Set(all.map((m) => m.data.id));
        for (const e of events) expect(ids.has(e.id as string)).toBe(true);
        expect(all.find((m) => m.data.id === events[0].id)!.data.userId).toBe('Zoë 🌊');
      }),
      { numRuns: 15 },
    );
  });

  it('answers an over-long or broken line with an error line and goes on', async () => {
    const a = ev();
    const b = ev();
    const input = `${JSON.stringify(a)}\nnot json\n${'{"x":"' + 'y'.repeat(5000) + '"}'}\n${JSON.stringify({ ...a })}\n${JSON.stringify(b)}\n`;
    const replies = await exchange([Buffer.from(input)], 5);
    expect(replies[0]).toEqual({ line: 1, status: 'accepted' });
    expect(replies[1]).toEqual({ line: 2, status: 'rejected', error: expect.stringMatching(/^line 2 is not valid JSON/) });
    expect(replies[2]).toEqual({ line: 3, status: 'rejected', error: expect.stringMatching(/^line 3 is \d+ bytes, over the limit/) });
    expect(replies[3]).toEqual({ line: 4, status: 'duplicate' });
    expect(replies[4]).toEqual({ line: 5, status: 'accepted' });
  });
});

describe('NATS request-reply tidemark.ingest', () => {
  it('takes the same body as HTTP and replies with the status', async () => {
    const e = ev();
    const reply = await nc.request('tidemark.ingest', Buffer.from(JSON.stringify([e, { id: 'bad' }])), { timeout: 5000 });
    expect(reply.json()).toEqual({
      status: 202,
      body: { accepted: 1, duplicates: 0, rejected: [expect.objectContaining({ index: 1, id: 'bad' })] },
    });
    const bad = await nc.request('tidemark.ingest', Buffer.from('{"id":'), { timeout: 5000 });
    expect(bad.json()).toMatchObject({ status: 400 });
  });
});

describe('202 only after JetStream acknowledged', () => {
  it('answers 503 with nothing accepted while NATS is down, and works again after it is back', async () => {
    await nats.stop();
    const e = ev();
    const r = await post([e]);
    expect(r.status).toBe(503);
    expect(r.body.accepted).toBe(0);
    expect(r.body.error).toMatch(/could not be stored/);
    await nats.start();
    const again = await eventually(async () => {
      const x = await post([e]);
      expect(x.status).toBe(202);
      return x;
    });
    // The retry stored it (or found it stored): exactly one copy either way.
    expect(again.body.accepted + again.body.duplicates).toBe(1);
    const client = await natsClient(nats.url);
    try {
      const all = await readStream<{ id: string }>(client, streams.raw.name);
      expect(all.filter((m) => m.data.id === e.id)).toHaveLength(1);
    } finally {
      await client.close();
    }
  });
});
