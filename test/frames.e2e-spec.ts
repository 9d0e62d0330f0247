/**
 * Frames through the consumers, as real processes: one broken event inside a clean frame — not JSON, or
 * holding a lone surrogate that ingestion would have refused — goes to the DLQ alone (its bytes, the frame's
 * sequence and its index), and the rest of its frame is counted, by the aggregation and by the
 * recommendation service alike; the partition does not stall.
 */
import type { NatsConnection } from '@nats-io/nats-core';
import { jetstream, jetstreamManager } from '@nats-io/jetstream';
import { durables, encodeFrame, headers, partitionOf, streams, subjects } from '@tidemark/contracts';
import { eventually, waitForQuiescence } from './support/eventually';
import { freePort } from './support/free-port';
import { natsClient } from './support/jetstream-read';
import { ServerHandle, startNats, startRedis } from './support/servers';
import { ServiceProcess, serviceProcess } from './support/service-process';

jest.setTimeout(120_000);

const PARTITIONS = 2;
const T = Date.UTC(2026, 10, 30, 9, 0, 10);
let nats: ServerHandle;
let redis: ServerHandle;
let nc: NatsConnection;
let services: ServiceProcess[] = [];
let aggUrl: string;
let recsUrl: string;

beforeAll(async () => {
  [nats, redis] = await Promise.all([startNats(), startRedis()]);
  nc = await natsClient(nats.url);
  const common = { NATS_URL: nats.url, REDIS_URL: redis.url, PARTITIONS: String(PARTITIONS), WATERMARK_IDLE_ADVANCE: 'off' };
  const [a, r] = [await freePort(), await freePort()];
  aggUrl = `http://127.0.0.1:${a}`;
  recsUrl = `http://127.0.0.1:${r}`;
  services = [
    serviceProcess('aggregation', { ...common, AGGREGATION_PORT: String(a) }, `${aggUrl}/health/ready`),
    serviceProcess('recommendation', { ...common, RECOMMENDATION_PORT: String(r) }, `${recsUrl}/health/ready`),
  ];
  await Promise.all(services.map((s) => s.start()));
});

afterAll(async () => {
  await Promise.all(services.map((s) => s.stop()));
  await nc?.close();
  await Promise.all([nats?.dispose(), redis?.dispose()]);
});

const view = (id: string, productId: string) => ({ id, type: 'product_view', ts: T, userId: 'u1', sessionId: 'visit-1', productId, categoryId: 'c1', price: 10 });

it('dead-letters a broken event of a frame alone, with its frame sequence and index, and counts the rest', async () => {
  const p = partitionOf('visit-1', PARTITIONS);
  const frame = encodeFrame([
    { id: Buffer.from('f-1'), body: Buffer.from(JSON.stringify(view('f-1', 'P1'))) },
    { id: Buffer.from('f-2'), body: Buffer.from('{"id":"f-2", broken') },
    { id: Buffer.from('f-3'), body: Buffer.from(JSON.stringify(view('f-3', 'P2'))) },
    { id: Buffer.from('f-4'), body: Buffer.from(JSON.stringify(view('f-4', 'P3')).replace('"u1"', '"\\ud800"')) },
  ]);
  const ack = await jetstream(nc).publish(subjects.clean(p), frame);
  for (const durable of [durables.aggregation(p), durables.recommendation(p)]) await waitForQuiescence(nc, streams.clean.name, durable, { timeoutMs: 60_000 });

  const jsm = await jetstreamManager(nc);
  const dlq = await jsm.streams.info(streams.dlq.name);
  // two from aggregation, one from recommendation: the broken f-2 names no interaction type, so recommendation
  // skips it unparsed (docs/architecture.md, "Consumers"); f-4 is a product view it parses and refuses
  expect(dlq.state.messages).toBe(3);
  const dead: string[] = [];
  for (let seq = dlq.state.first_seq; seq <= dlq.state.last_seq; seq++) {
    const m = (await jsm.streams.getMessage(streams.dlq.name, { seq }))!;
    expect([`dlq.${streams.clean.name}.${durables.aggregation(p)}`, `dlq.${streams.clean.name}.${durables.recommendation(p)}`]).toContain(m.subject);
    expect(m.header.get(headers.dlqSeq)).toBe(String(ack.seq));
    const index = m.header.get(headers.dlqFrameIndex);
    dead.push(`${m.subject.split('.').pop()} ${index} ${m.header.get(headers.dlqError)}`);
    if (index === '1') expect(Buffer.from(m.data).toString()).toBe('{"id":"f-2", broken');
    else expect(JSON.parse(Buffer.from(m.data).toString()).id).toBe('f-4');
  }
  expect(dead.sort()).toEqual([
    expect.stringMatching(new RegExp(`^${durables.aggregation(p)} 1 not JSON`)),
    `${durables.aggregation(p)} 3 strings that are not well-formed Unicode: userId`,
    `${durables.recommendation(p)} 3 strings that are not well-formed Unicode: userId`,
  ]);
  const recsMetrics = await (await fetch(`${recsUrl}/metrics`)).text();
  expect(recsMetrics).toMatch(/tidemark_recs_events_total\{[^}]*outcome="skipped"[^}]*\} 1\b/);

  await eventually(async () => {
    const rows = (await (await fetch(`${aggUrl}/v1/metrics/product_views?from=${T - 60_000}&to=${T + 60_000}`)).json()) as { key: string; value: number }[];
    expect(rows.map((x) => [x.key, x.value]).sort()).toEqual([
      ['P1', 1],
      ['P2', 1],
    ]);
    const similar = (await (await fetch(`${recsUrl}/v1/recommendations/products/P1/similar?k=5`)).json()) as { items: { productId: string }[] };
    expect(similar.items.map((i) => i.productId)).toContain('P2');
  });
});
