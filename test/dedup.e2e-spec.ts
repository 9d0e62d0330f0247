/**
 * The dedup service as a real process over real NATS and Redis: first occurrences reach events.clean.<p>
 * exactly once, true duplicates never — also duplicates far beyond JetStream's duplicate window (published
 * straight into the raw stream here), across a kill -9 mid-backlog; poison messages go to dlq.> without
 * blocking their partition.
 */
import type { NatsConnection } from '@nats-io/nats-core';
import { jetstream } from '@nats-io/jetstream';
import { durables, partitionOf, streams, subjects } from '@tidemark/contracts';
import { eventually, waitForQuiescence } from './support/eventually';
import { freePort } from './support/free-port';
import { natsClient, readStream } from './support/jetstream-read';
import { ServerHandle, startNats, startRedis } from './support/servers';
import { ServiceProcess, serviceProcess } from './support/service-process';

jest.setTimeout(120_000);

const PARTITIONS = 4;
let nats: ServerHandle;
let redis: ServerHandle;
let nc: NatsConnection;
let dedup: ServiceProcess;

beforeAll(async () => {
  [nats, redis] = await Promise.all([startNats(), startRedis({ persistence: true })]);
  nc = await natsClient(nats.url);
  const port = await freePort();
  dedup = serviceProcess(
    'dedup',
    { NATS_URL: nats.url, REDIS_URL: redis.url, DEDUP_PORT: String(port), PARTITIONS: String(PARTITIONS), ACK_WAIT_MS: '2000' },
    `http://127.0.0.1:${port}/health/ready`,
  );
  await dedup.start();
});

afterAll(async () => {
  await dedup?.stop();
  await nc?.close();
  await Promise.all([nats?.dispose(), redis?.dispose()]);
});

const T = Date.UTC(2026, 10, 24, 10);
const event = (id: string, sessionId: string) => ({ id, type: 'page_view', ts: T, userId: 'u', sessionId });

async function publishRaw(events: { id: string; sessionId: string }[]) {
  const js = jetstream(nc);
  // No Nats-Msg-Id: these copies are what a client resending after JetStream's window would produce.
  await Promise.all(events.map((e) => js.publish(subjects.raw(partitionOf(e.sessionId, PARTITIONS)), Buffer.from(JSON.stringify(e)))));
}

async function quiescent() {
  for (let p = 0; p < PARTITIONS; p++) await waitForQuiescence(nc, streams.raw.name, durables.dedup(p), { timeoutMs: 60_000 });
}

describe('dedup service', () => {
  it('forwards each id once, in partition order, and drops duplicates beyond the JetStream window', async () => {
    const sends = ['a', 'b', 'a', 'c', 'b', 'a', 'd'].map((id) => event(`t1-${id}`, `s-${id}`));
    await publishRaw(sends);
    await quiescent();
    const clean = await readStream<{ id: string; sessionId: string }>(nc, streams.clean.name);
    expect(clean.map((m) => m.data.id).sort()).toEqual(['t1-a', 't1-b', 't1-c', 't1-d']);
    for (const m of clean) expect(m.subject).toBe(subjects.clean(partitionOf(m.data.sessionId, PARTITIONS)));
  });

  it('dead-letters an undecodable message with its error and keeps the partition going', async () => {
    const p = partitionOf('s-poison', PARTITIONS);
    const js = jetstream(nc);
    await js.publish(subjects.raw(p), Buffer.from('{not json'));
    await publishRaw([event('t2-after', 's-poison')]);
    await quiescent();
    const dlq = await readStream<unknown>(nc, streams.dlq.name).catch(() => []);
    expect(dlq.length).toBe(0); // undecodable payloads are not JSON: read them raw below
    const jsm = await js.jetstreamManager();
    const info = await jsm.streams.info(streams.dlq.name);
    expect(info.state.messages).toBe(1);
    const dead = (await jsm.streams.getMessage(streams.dlq.name, { seq: info.state.first_seq }))!;
    expect(dead.subject).toBe(`dlq.${streams.raw.name}.${durables.dedup(p)}`);
    expect(Buffer.from(dead.data).toString()).toBe('{not json');
    expect(dead.header.get('Tidemark-Error')).toMatch(/not JSON/);
    const clean = await readStream<{ id: string }>(nc, streams.clean.name);
    expect(clean.filter((m) => m.data.id === 't2-after')).toHaveLength(1);
  });

  it('loses nothing and forwards nothing twice across a kill -9 in the middle of a backlog', async () => {
    const ids = Array.from({ length: 6000 }, (_, i) => `t3-${i}`);
    const sends = ids.map((id, i) => event(id, `s3-${i % 97}`));
    // 10 % true duplicates, sent later
    for (let i = 0; i < 600; i++) sends.push(event(ids[(i * 7) % ids.length], `s3-${((i * 7) % ids.length) % 97}`));
    await publishRaw(sends);
    await eventually(async () => {
      const c = (await (await jetstream(nc).jetstreamManager()).streams.info(streams.clean.name)).state.messages;
      expect(c).toBeGreaterThan(1000);
    });
    await dedup.kill();
    await dedup.start();
    await quiescent();
    const clean = await readStream<{ id: string }>(nc, streams.clean.name);
    const t3 = clean.filter((m) => m.data.id.startsWith('t3-')).map((m) => m.data.id);
    expect(t3).toHaveLength(ids.length);
    expect(new Set(t3).size).toBe(ids.length);
  });
});
