/**
 * The dedup service as a real process over real NATS and Redis, on frames: first occurrences reach
 * events.clean.<p> exactly once, true duplicates never — also duplicates far beyond JetStream's duplicate
 * window (published straight into the raw stream here), inside one frame, across a kill -9 mid-backlog and
 * across repeated kill -9s right between storing a clean frame and acking its raw frames; a message that is
 * not a frame goes to dlq.> without blocking its partition.
 */
import type { NatsConnection } from '@nats-io/nats-core';
import { jetstream } from '@nats-io/jetstream';
import { chunkFrames, durables, encodeFrame, partitionOf, streams, subjects } from '@tidemark/contracts';
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
    // Small clean frames: a backlog takes many forwards, so the kills below land between them.
    { NATS_URL: nats.url, REDIS_URL: redis.url, DEDUP_PORT: String(port), PARTITIONS: String(PARTITIONS), ACK_WAIT_MS: '2000', FRAME_MAX_EVENTS: '40' },
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

/**
 * Publishes the events as raw frames of up to `perFrame` events per partition, in order. No Nats-Msg-Id:
 * these copies are what a client resending after JetStream's window would produce.
 */
async function publishRaw(events: { id: string; sessionId: string }[], perFrame = 50) {
  const js = jetstream(nc);
  const byPartition = new Map<number, { id: Buffer; body: Buffer }[]>();
  for (const e of events) {
    const p = partitionOf(e.sessionId, PARTITIONS);
    if (!byPartition.has(p)) byPartition.set(p, []);
    byPartition.get(p)!.push({ id: Buffer.from(e.id), body: Buffer.from(JSON.stringify(e)) });
  }
  for (const [p, entries] of byPartition) {
    for (const frame of chunkFrames(entries, { maxEvents: perFrame, maxBytes: 256 * 1024 })) await js.publish(subjects.raw(p), encodeFrame(frame));
  }
}

async function quiescent() {
  for (let p = 0; p < PARTITIONS; p++) await waitForQuiescence(nc, streams.raw.name, durables.dedup(p), { timeoutMs: 60_000 });
}

describe('dedup service', () => {
  it('forwards each id once, in partition order, and drops duplicates beyond the JetStream window', async () => {
    const sends = ['a', 'b', 'a', 'c', 'b', 'a', 'd'].map((id) => event(`t1-${id}`, `s-${id}`));
    await publishRaw(sends, 2);
    await publishRaw(sends, 1000); // the same ids again, many in one frame
    // a single JSON event (the format before frames) is still read
    await jetstream(nc).publish(subjects.raw(partitionOf('s-e', PARTITIONS)), Buffer.from(JSON.stringify(event('t1-e', 's-e'))));
    await quiescent();
    const clean = await readStream<{ id: string; sessionId: string }>(nc, streams.clean.name);
    expect(clean.map((m) => m.data.id).sort()).toEqual(['t1-a', 't1-b', 't1-c', 't1-d', 't1-e']);
    for (const m of clean) expect(m.subject).toBe(subjects.clean(partitionOf(m.data.sessionId, PARTITIONS)));
  });

  it('drops an id sent again in another session (another partition) too: an id is one id everywhere', async () => {
    const first = event('t5-x', 's5-a');
    const sessions = Array.from({ length: 20 }, (_, i) => `s5-b${i}`).filter((s) => partitionOf(s, PARTITIONS) !== partitionOf('s5-a', PARTITIONS));
    await publishRaw([first]);
    await quiescent();
    await publishRaw(sessions.slice(0, 3).map((s) => event('t5-x', s)));
    await quiescent();
    const clean = await readStream<{ id: string; sessionId: string }>(nc, streams.clean.name);
    expect(clean.filter((m) => m.data.id === 't5-x').map((m) => m.data.sessionId)).toEqual(['s5-a']);
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
    expect(dead.header.get('Tidemark-Error')).toMatch(/neither a frame nor a JSON event/);
    const clean = await readStream<{ id: string }>(nc, streams.clean.name);
    expect(clean.filter((m) => m.data.id === 't2-after')).toHaveLength(1);
  });

  it('a foreign message last on a clean subject: a restarted dedup reads the floor past it and neither doubles nor loses', async () => {
    const p = partitionOf('s6', PARTITIONS);
    const first = Array.from({ length: 30 }, (_, i) => event(`t6-${i}`, 's6'));
    await publishRaw(first, 5);
    await quiescent();
    // somebody else publishes on the clean subject (the shipped NATS permissions forbid it; a test can)
    await jetstream(nc).publish(subjects.clean(p), Buffer.from('{"id":"foreign"}'));
    await dedup.stop();
    await dedup.start();
    // the same raw frames again (a client resending) and new ones
    await publishRaw([...first, ...Array.from({ length: 10 }, (_, i) => event(`t6-new-${i}`, 's6'))], 5);
    await quiescent();
    const ids = (await readStream<{ id?: string }>(nc, streams.clean.name)).map((m) => m.data.id ?? '').filter((id) => id.startsWith('t6-'));
    expect(ids).toHaveLength(40);
    expect(new Set(ids).size).toBe(40);
  });

  it('loses nothing and forwards nothing twice across a kill -9 in the middle of a backlog', async () => {
    const ids = Array.from({ length: 6000 }, (_, i) => `t3-${i}`);
    const sends = ids.map((id, i) => event(id, `s3-${i % 97}`));
    // 10 % true duplicates, sent later
    for (let i = 0; i < 600; i++) sends.push(event(ids[(i * 7) % ids.length], `s3-${((i * 7) % ids.length) % 97}`));
    await publishRaw(sends);
    await eventually(async () => {
      const c = (await (await jetstream(nc).jetstreamManager()).streams.info(streams.clean.name)).state.messages;
      expect(c).toBeGreaterThan(25);
    });
    await dedup.kill();
    await dedup.start();
    await quiescent();
    const clean = await readStream<{ id: string }>(nc, streams.clean.name);
    const t3 = clean.filter((m) => m.data.id.startsWith('t3-')).map((m) => m.data.id);
    expect(t3).toHaveLength(ids.length);
    expect(new Set(t3).size).toBe(ids.length);
  });

  it('neither loses nor doubles an event across repeated kill -9s between storing a clean frame and acking its raw frames', async () => {
    const ids = Array.from({ length: 3000 }, (_, i) => `t4-${i}`);
    const sends = ids.map((id, i) => event(id, `s4-${i % 31}`));
    for (let i = 0; i < 300; i++) sends.push(event(ids[(i * 13) % ids.length], `s4-${((i * 13) % ids.length) % 31}`));
    await dedup.stop();
    await publishRaw(sends, 20);
    // Each start dies (kill -9, from inside) right after its 3rd clean frame is stored: before the ack.
    dedup.env.TIDEMARK_FAULT = 'dedup-kill-after-forward:3';
    let kills = 0;
    for (; kills < 6; kills++) {
      // Other clean frame limits on every start: the forwards after a restart are cut differently (other
      // Nats-Msg-Ids), so only the floor read back from the clean stream keeps a forwarded frame from doubling.
      dedup.env.FRAME_MAX_EVENTS = String(40 + 20 * (kills % 3));
      await dedup.start().catch(() => undefined); // may die before it answers ready
      await eventually(() => expect(dedup.exited()).toBe(true), { timeoutMs: 30_000 });
    }
    delete dedup.env.TIDEMARK_FAULT;
    dedup.env.FRAME_MAX_EVENTS = '40';
    await dedup.start();
    await quiescent();
    const clean = await readStream<{ id: string }>(nc, streams.clean.name);
    const t4 = clean.filter((m) => m.data.id.startsWith('t4-')).map((m) => m.data.id);
    expect(kills).toBe(6);
    expect(t4).toHaveLength(ids.length);
    expect(new Set(t4).size).toBe(ids.length);
  });
});
