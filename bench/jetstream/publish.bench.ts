/**
 * JetStream publish throughput: (a) the raw ceiling — core publish into the stream with a reply inbox and
 * `Nats-Msg-Id`, PubAcks counted by hand, 1024 in flight (as measured in docs/platform.md, "Throughput of the building blocks") — and (b) JetStreamPublisher
 * (`publish` with its default window of 1024, and `publishBatch` in chunks of 500 with 4 chunks in flight, the
 * way ingestion uses it), plus (c) PartitionConsumer draining what was published (batches of 500, ack all).
 * ~250-byte JSON events, Buffers. Each part uses its own stream, deleted afterwards.
 *
 *   import { run } from './bench/jetstream/publish.bench';
 *   const { ceiling, publisher, publishBatch, consumer } = await run({ natsUrl, count: 100_000 });
 *
 * From the command line (private nats-server on a free port): `node dist/bench/jetstream/publish.bench.js [count]`.
 */
import { headers as natsHeaders } from '@nats-io/nats-core';
import type { JetStreamManager } from '@nats-io/jetstream';
import { startBenchServers } from '../support';
import { connectNats, JetStreamPublisher, PartitionConsumer, ensureStream, type JetStreamConnection } from '@tidemark/jetstream';

export interface PublishBenchResult {
  /** Events/s of the hand-rolled core publish + reply inbox + msgId (the ceiling). */
  ceiling: number;
  /** Events/s through `JetStreamPublisher.publish` (msgId, window 1024). */
  publisher: number;
  /** Events/s through `JetStreamPublisher.publishBatch` (chunks of 500, 4 in flight). */
  publishBatch: number;
  /** Events/s a PartitionConsumer (batch 500, ack all) processes from one partition. */
  consumer: number;
  count: number;
}

export function payloads(count: number, runId: string): Buffer[] {
  const now = Date.now();
  return Array.from({ length: count }, (_, i) =>
    Buffer.from(
      JSON.stringify({
        id: `${runId}-${i}`,
        type: 'product_view',
        ts: now + i,
        userId: `user-${i % 5000}`,
        sessionId: `session-${i % 20000}`,
        productId: `product-${i % 1000}`,
        categoryId: `category-${i % 40}`,
        price: 19.99,
        quantity: 1,
        attrs: { ua: 'Mozilla/5.0 (X11; Linux x86_64)', ref: 'https://shop.example/c/42' },
      }),
    ),
  );
}

async function freshStream(jsm: JetStreamManager, name: string, subject: string): Promise<void> {
  await jsm.streams.delete(name).catch(() => undefined);
  await ensureStream(jsm, { name, subjects: [`${subject}.*`], maxAgeMs: 3_600_000, duplicateWindowMs: 120_000 });
}

/** The raw publish ceiling on `conn`: events/s. */
export async function ceiling(conn: JetStreamConnection, data: Buffer[], runId: string): Promise<number> {
  const nc = conn.nc;
  const subject = `bench.ceil.${runId}`;
  await freshStream(await conn.jsm(), `BENCH_CEIL_${runId}`, subject);
  const inbox = `_INBOX.bench.${runId}`;
  const count = data.length;
  let acked = 0;
  let inFlight = 0;
  let wake: (() => void) | undefined;
  let finished!: () => void;
  let failed: Error | undefined;
  const done = new Promise<void>((r) => (finished = r));
  const sub = nc.subscribe(`${inbox}.*`, {
    callback: (_err, msg) => {
      if (msg.headers?.code === 503 || msg.json<{ error?: unknown }>().error) failed ??= new Error(`ceiling publish failed: ${msg.string()}`);
      acked++;
      inFlight--;
      if (wake) {
        const w = wake;
        wake = undefined;
        w();
      }
      if (acked === count) finished();
    },
  });
  await nc.flush();
  const t0 = performance.now();
  for (let i = 0; i < count; i++) {
    while (inFlight >= 1024) await new Promise<void>((r) => (wake = r));
    const h = natsHeaders();
    h.set('Nats-Msg-Id', `${runId}-c-${i}`);
    inFlight++;
    nc.publish(`${subject}.${i % 8}`, data[i], { reply: `${inbox}.${i}`, headers: h });
  }
  await done;
  const seconds = (performance.now() - t0) / 1000;
  sub.unsubscribe();
  await (await conn.jsm()).streams.delete(`BENCH_CEIL_${runId}`);
  if (failed) throw failed;
  return count / seconds;
}

async function viaPublish(conn: JetStreamConnection, data: Buffer[], runId: string): Promise<number> {
  const subject = `bench.pub.${runId}`;
  await freshStream(await conn.jsm(), `BENCH_PUB_${runId}`, subject);
  const pub = new JetStreamPublisher(conn, { maxInFlight: 1024 });
  const t0 = performance.now();
  const all: Promise<unknown>[] = new Array(data.length);
  for (let i = 0; i < data.length; i++) all[i] = pub.publish(`${subject}.${i % 8}`, data[i], { msgId: `${runId}-p-${i}` });
  await Promise.all(all);
  const rate = data.length / ((performance.now() - t0) / 1000);
  await pub.close();
  await (await conn.jsm()).streams.delete(`BENCH_PUB_${runId}`);
  return rate;
}

/** publishBatch like ingestion: requests of 500 events, 4 requests at a time. Leaves the stream for the consumer part. */
async function viaPublishBatch(conn: JetStreamConnection, data: Buffer[], runId: string, stream: string, subject: string): Promise<number> {
  await freshStream(await conn.jsm(), stream, subject);
  const pub = new JetStreamPublisher(conn, { maxInFlight: 1024 });
  const chunk = 500;
  let next = 0;
  const t0 = performance.now();
  const worker = async () => {
    for (;;) {
      const from = next;
      next += chunk;
      if (from >= data.length) return;
      const items = [];
      for (let i = from; i < Math.min(from + chunk, data.length); i++) items.push({ subject: `${subject}.0`, data: data[i], msgId: `${runId}-b-${i}` });
      await pub.publishBatch(items);
    }
  };
  await Promise.all([worker(), worker(), worker(), worker()]);
  const rate = data.length / ((performance.now() - t0) / 1000);
  await pub.close();
  return rate;
}

async function viaConsumer(conn: JetStreamConnection, count: number, stream: string, subject: string): Promise<number> {
  let seen = 0;
  let finished!: () => void;
  const done = new Promise<void>((r) => (finished = r));
  const t0 = performance.now();
  const consumer = new PartitionConsumer(conn, {
    stream,
    durable: 'bench',
    filterSubject: `${subject}.0`,
    batchSize: 500,
    handler: (batch) => {
      seen += batch.length;
      if (seen >= count) finished();
    },
  });
  await consumer.start();
  await done;
  const rate = count / ((performance.now() - t0) / 1000);
  await consumer.close();
  await (await conn.jsm()).streams.delete(stream);
  return rate;
}

export async function run(options: { natsUrl: string; count?: number }): Promise<PublishBenchResult> {
  const count = options.count ?? 100_000;
  const runId = `${process.pid}${Date.now().toString(36)}`;
  const conn = await connectNats({ servers: options.natsUrl, name: 'tidemark-bench-jetstream' });
  try {
    const data = payloads(count, runId);
    const ceil = await ceiling(conn, data, runId);
    const publisher = await viaPublish(conn, data, runId);
    const stream = `BENCH_BATCH_${runId}`;
    const subject = `bench.batch.${runId}`;
    const publishBatch = await viaPublishBatch(conn, data, runId, stream, subject);
    const consumer = await viaConsumer(conn, count, stream, subject);
    return { ceiling: Math.round(ceil), publisher: Math.round(publisher), publishBatch: Math.round(publishBatch), consumer: Math.round(consumer), count };
  } finally {
    await conn.close();
  }
}

/** `node dist/bench/jetstream/publish.bench.js [count]`: private nats-server on a free port, three runs, medians. */
export async function main(args: string[] = process.argv.slice(2)): Promise<number> {
  const count = Number(args[0] ?? 100_000);
  const servers = await startBenchServers();
  try {
    const runs: PublishBenchResult[] = [];
    for (let i = 0; i < 3; i++) runs.push(await run({ natsUrl: servers.natsUrl, count }));
    const median = (k: keyof PublishBenchResult) => runs.map((r) => r[k]).sort((a, b) => a - b)[1];
    const result = { ceiling: median('ceiling'), publisher: median('publisher'), publishBatch: median('publishBatch'), consumer: median('consumer'), count };
    console.log(JSON.stringify(result));
    console.log(`JetStreamPublisher.publish: ${(result.publisher / result.ceiling).toFixed(2)} x ceiling; publishBatch: ${(result.publishBatch / result.ceiling).toFixed(2)} x ceiling`);
    return 0;
  } finally {
    await servers.stop();
  }
}

if (require.main === module) {
  main().then(
    (code) => process.exit(code),
    (error) => {
      console.error(error);
      process.exit(1);
    },
  );
}
