/**
 * `tidemark bench pipeline`: the processing hops beside the one-hop limit, measured in the same run on
 * private servers.
 *   one-hop limit: consume a batch of a prefilled partitioned stream → one Redis call per batch → ack
 *                  (PartitionConsumer, the same transport the services use)
 *   (a) dedup:     the dedup service (its own process) draining a prefilled events.raw into events.clean
 * Goal: each hop ≥ 0.5 × the one-hop limit.
 */
import { parseArgs } from 'node:util';
import { jetstream } from '@nats-io/jetstream';
import type { NatsConnection } from '@nats-io/nats-core';
import { connect } from '@nats-io/transport-node';
import { ALL_STREAMS, partitionOf, streams, subjects } from '@tidemark/contracts';
import { JetStreamPublisher, PartitionConsumer, connectNats, ensureStreams } from '@tidemark/jetstream';
import { connectRedis } from '@tidemark/state';
import { fmt, freePort, rate, sampleEvent, startBenchServers, startService, stopChild } from './support';

const PARTITIONS = 8;

async function prefill(natsUrl: string, count: number, runId: string): Promise<void> {
  const conn = await connectNats({ servers: natsUrl, name: 'bench-prefill' });
  await ensureStreams(await conn.jsm(), ALL_STREAMS);
  const pub = new JetStreamPublisher(conn, { maxInFlight: 8192 });
  const now = Date.now();
  const chunk = 10_000;
  for (let i = 0; i < count; i += chunk) {
    const items = [];
    for (let j = i; j < Math.min(count, i + chunk); j++) {
      const e = sampleEvent(j, now, runId);
      items.push({ subject: subjects.raw(partitionOf(e.sessionId as string, PARTITIONS)), data: Buffer.from(JSON.stringify(e)), msgId: e.id as string });
    }
    await pub.publishBatch(items);
  }
  await pub.close();
  await conn.drain();
}

async function streamMessages(nc: NatsConnection, stream: string): Promise<number> {
  return (await (await jetstream(nc).jetstreamManager()).streams.info(stream)).state.messages;
}

/** consume → one Redis call per batch (an INCRBY of the batch size, i.e. one round trip) → ack, all partitions. */
async function oneHopLimit(natsUrl: string, redisUrl: string, count: number): Promise<number> {
  const conn = await connectNats({ servers: natsUrl, name: 'bench-one-hop' });
  const redis = await connectRedis(redisUrl, 'bench');
  let done = 0;
  let finish!: () => void;
  const finished = new Promise<void>((r) => (finish = r));
  const t0 = performance.now();
  const consumers = Array.from({ length: PARTITIONS }, (_, p) =>
    new PartitionConsumer(conn, {
      stream: streams.raw.name,
      durable: `bench-hop-p${p}`,
      filterSubject: subjects.raw(p),
      handler: async (batch) => {
        const ids = batch.map((m) => (JSON.parse(Buffer.from(m.data).toString()) as { id: string }).id);
        await redis.incrby('bench:hop', ids.length);
        done += batch.length;
        if (done >= count) finish();
      },
    }),
  );
  await Promise.all(consumers.map((c) => c.start()));
  await finished;
  const ms = performance.now() - t0;
  await Promise.all(consumers.map((c) => c.close()));
  await redis.quit();
  await conn.drain();
  return rate(count, ms);
}

async function dedupHop(natsUrl: string, redisUrl: string, count: number): Promise<number> {
  const port = await freePort();
  const nc = await connect({ servers: natsUrl });
  const before = await streamMessages(nc, streams.clean.name);
  const child = await startService('dedup', { NATS_URL: natsUrl, REDIS_URL: redisUrl, DEDUP_PORT: String(port), PARTITIONS: String(PARTITIONS) }, `http://127.0.0.1:${port}/health/ready`);
  // Clock from the first forwarded event: the service's start-up is not throughput.
  while ((await streamMessages(nc, streams.clean.name)) === before) await new Promise((r) => setTimeout(r, 5));
  const t0 = performance.now();
  const first = (await streamMessages(nc, streams.clean.name)) - before;
  for (;;) {
    if ((await streamMessages(nc, streams.clean.name)) - before >= count) break;
    await new Promise((r) => setTimeout(r, 20));
  }
  const ms = performance.now() - t0;
  await stopChild(child);
  await nc.close();
  return rate(count - first, ms);
}

export async function main(args: string[]): Promise<number> {
  const { values } = parseArgs({ args, options: { events: { type: 'string', default: '200000' } } });
  const count = Number(values.events);
  const servers = await startBenchServers();
  try {
    await prefill(servers.natsUrl, count, Date.now().toString(36));
    const limit = await oneHopLimit(servers.natsUrl, servers.redisUrl, count);
    const dedup = await dedupHop(servers.natsUrl, servers.redisUrl, count);
    console.log(`tidemark bench pipeline: ${fmt(count)} events of ~250 bytes over ${PARTITIONS} partitions, NATS and Redis on this machine`);
    console.log(`  one-hop limit (batch consume → one Redis call → ack): ${fmt(limit)} events/s`);
    console.log(`  (a) dedup (service process, raw → clean): ${fmt(dedup)} events/s  ratio ${(dedup / limit).toFixed(2)}`);
    console.log('  goal: ratio >= 0.50');
  } finally {
    await servers.stop();
  }
  return 0;
}
