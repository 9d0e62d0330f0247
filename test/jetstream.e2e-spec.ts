/**
 * libs/jetstream against a real nats-server 2.9 (-js): provisioning, the publisher, the partition consumer
 * (order, retry, dead letters, crash recovery, drain) and the Nest transport.
 */
import 'reflect-metadata';
import { Controller, Module } from '@nestjs/common';
import { NestFactory } from '@nestjs/core';
import { Ctx, Payload, type MicroserviceOptions } from '@nestjs/microservices';
import { jetstreamManager, type JetStreamManager } from '@nats-io/jetstream';
import { ALL_STREAMS, headers as H, streams, subjects, type StreamSpec } from '@tidemark/contracts';
import {
  BatchPattern,
  connectNats,
  ensureConsumer,
  ensureStream,
  ensureStreams,
  JetStreamClientProxy,
  JetStreamConnection,
  JetStreamContext,
  JetStreamPublishError,
  JetStreamPublisher,
  JetStreamRecord,
  JetStreamServer,
  NatsConnectError,
  Outcome,
  PartitionConsumer,
  partitionConsumers,
  PublishBatchError,
  type BatchContext,
  type BatchHandler,
  type ConsumedMessage,
  type ConsumerEvent,
} from '@tidemark/jetstream';
import { eventually, waitForQuiescence } from './support/eventually';
import { freePort } from './support/free-port';
import { startNats, type NatsServerHandle } from './support/servers';

jest.setTimeout(30_000);

const buf = (s: string) => Buffer.from(s, 'utf8');
const text = (m: ConsumedMessage) => Buffer.from(m.data).toString('utf8');
const FAST = { backoff: { initialMs: 20, maxMs: 200, factor: 2 }, idlePollMs: 1000, ackWaitMs: 1000 };

let nats: NatsServerHandle;
let conn: JetStreamConnection;
let jsm: JetStreamManager;
let pub: JetStreamPublisher;
let counter = 0;

/** A fresh stream `T<n>` over `t<n>.*` with a DLQ stream, for one test. */
async function freshStream(): Promise<{ spec: StreamSpec; subject: (p: number) => string }> {
  const n = ++counter;
  const spec: StreamSpec = { name: `T${n}`, subjects: [`t${n}.*`], maxAgeMs: 3_600_000, duplicateWindowMs: 60_000 };
  await ensureStream(jsm, spec);
  return { spec, subject: (p) => `t${n}.${p}` };
}

async function publishAll(subject: string, bodies: string[]): Promise<number[]> {
  const acks = await pub.publishBatch(bodies.map((b) => ({ subject, data: buf(b) })));
  return acks.map((a) => a.seq);
}

/** Records every handler call; `decide` returns the outcome (default ack). */
function recorder(decide?: (batch: ConsumedMessage[], ctx: BatchContext, call: number) => ReturnType<BatchHandler>) {
  const calls: { seqs: number[]; bodies: string[]; ctx: BatchContext; deliveries: number[] }[] = [];
  const acked: number[] = [];
  const handler: BatchHandler = async (batch, ctx) => {
    calls.push({ seqs: batch.map((m) => m.seq), bodies: batch.map(text), ctx, deliveries: batch.map((m) => m.deliveryCount) });
    const out = decide ? await decide(batch, ctx, calls.length) : undefined;
    if (!out || out.kind === 'ack') {
      const dead = new Set((out && out.kind === 'ack' && out.deadLetters?.map((d) => d.seq)) || []);
      for (const m of batch) if (!dead.has(m.seq)) acked.push(m.seq);
    }
    return out;
  };
  return { calls, acked, handler };
}

/** A pull request as the server receives it. */
type PullRequest = { batch: number; no_wait?: boolean; expires?: number };

/** Every pull request a durable sends (until `stop`). */
function watchPulls(stream: string, durable: string): { requests: PullRequest[]; stop: () => void } {
  const requests: PullRequest[] = [];
  const sub = conn.nc.subscribe(`$JS.API.CONSUMER.MSG.NEXT.${stream}.${durable}`, { callback: (_e, m) => void requests.push(m.json()) });
  return { requests, stop: () => sub.unsubscribe() };
}

const consumers: PartitionConsumer[] = [];
function consumer(options: ConstructorParameters<typeof PartitionConsumer>[1], connection: JetStreamConnection = conn): PartitionConsumer {
  const c = new PartitionConsumer(connection, { ...FAST, ...options });
  consumers.push(c);
  return c;
}

beforeAll(async () => {
  nats = await startNats();
  conn = await connectNats({ servers: nats.url, name: 'jetstream-e2e' });
  jsm = await jetstreamManager(conn.nc);
  await ensureStreams(jsm, ALL_STREAMS);
  pub = new JetStreamPublisher(conn, { maxInFlight: 64 });
});

afterEach(async () => {
  await Promise.all(consumers.splice(0).map((c) => c.close()));
});

afterAll(async () => {
  await pub?.close();
  await conn?.close();
  await nats?.dispose();
});

describe('connection', () => {
  it('fails fast with an error naming the URL when nothing answers', async () => {
    const port = await freePort();
    const err = await connectNats({ servers: `nats://127.0.0.1:${port}`, timeoutMs: 1000 }).catch((e) => e);
    expect(err).toBeInstanceOf(NatsConnectError);
    expect(err.message).toContain(`nats://127.0.0.1:${port}`);
  });
});

describe('provisioning', () => {
  it('creates the contract streams once, then leaves them alone', async () => {
    const again = await ensureStreams(jsm, ALL_STREAMS);
    expect(again.map((r) => r.action)).toEqual(ALL_STREAMS.map(() => 'unchanged'));
    const info = await jsm.streams.info(streams.raw.name);
    expect(info.config.storage).toBe('file');
    expect(info.config.duplicate_window).toBe(streams.raw.duplicateWindowMs * 1e6);
    expect(info.config.max_age).toBe(streams.raw.maxAgeMs * 1e6);
    expect(info.config.subjects).toEqual(streams.raw.subjects);
  });

  it('creates a missing stream; on an existing one adds what is missing and lowers nothing', async () => {
    const spec: StreamSpec = { name: 'PROV', subjects: ['prov.a.*'], maxAgeMs: 3_600_000, duplicateWindowMs: 60_000 };
    expect((await ensureStream(jsm, spec)).action).toBe('created');
    expect((await ensureStream(jsm, spec)).action).toBe('unchanged');
    // A new subject and a longer duplicate window are added; a shorter max age is not applied (warned).
    const changed = { ...spec, subjects: ['prov.a.*', 'prov.b.*'], duplicateWindowMs: 90_000, maxAgeMs: 1_800_000 };
    const r = await ensureStream(jsm, changed);
    expect(r.action).toBe('updated');
    expect(r.changed.sort()).toEqual(['duplicate_window', 'subjects']);
    expect(r.warnings).toEqual([expect.stringContaining("stream PROV: max_age is 1h, longer than Tidemark's 30m: left as it is")]);
    const info = await jsm.streams.info('PROV');
    expect(info.config.subjects.sort()).toEqual(['prov.a.*', 'prov.b.*']);
    expect(info.config.duplicate_window).toBe(90_000 * 1e6);
    expect(info.config.max_age).toBe(3_600_000 * 1e6);
    expect((await ensureStream(jsm, changed)).action).toBe('unchanged');
    // Back to the first spec: nothing is taken away (subject, window), only warned.
    const back = await ensureStream(jsm, spec);
    expect(back.action).toBe('unchanged');
    expect(back.warnings.join('\n')).toMatch(/it also has subjects prov\.b\.\*/);
    expect(back.warnings.join('\n')).toMatch(/duplicate_window is 90s, longer than Tidemark's 1m/);
  });

  it('provisions a durable pull consumer idempotently (ack all, raised max ack pending) and refuses a changed filter', async () => {
    const { spec, subject } = await freshStream();
    const base = { stream: spec.name, durable: 'prov-c', filterSubject: subject(0), ackWaitMs: 5000 };
    const first = await ensureConsumer(jsm, base);
    expect(first.result.action).toBe('created');
    expect(first.info.config.ack_policy).toBe('all');
    expect(first.info.config.max_ack_pending).toBeGreaterThanOrEqual(10_000);
    expect((await ensureConsumer(jsm, base)).result.action).toBe('unchanged');
    const upd = await ensureConsumer(jsm, { ...base, ackWaitMs: 7000 });
    expect(upd.result).toMatchObject({ action: 'updated', changed: ['ack_wait'] });
    expect(upd.info.config.ack_wait).toBe(7000 * 1e6);
    await expect(ensureConsumer(jsm, { ...base, filterSubject: subject(1) })).rejects.toThrow(/filter_subject/);
  });
});

describe('JetStreamPublisher', () => {
  it('de-duplicates by msgId: the second publish answers duplicate with the first sequence', async () => {
    const { spec, subject } = await freshStream();
    const a = await pub.publish(subject(0), buf('one'), { msgId: 'id-1' });
    const b = await pub.publish(subject(0), buf('one again'), { msgId: 'id-1' });
    const c = await pub.publish(subject(0), buf('two'), { msgId: 'id-2' });
    expect(a).toEqual({ stream: spec.name, seq: 1, duplicate: false });
    expect(b).toEqual({ stream: spec.name, seq: 1, duplicate: true });
    expect(c).toEqual({ stream: spec.name, seq: 2, duplicate: false });
    expect((await jsm.streams.info(spec.name)).state.messages).toBe(2);
  });

  it('publishBatch resolves only when every item is stored, in item order, through a window smaller than the batch', async () => {
    const { spec, subject } = await freshStream();
    const items = Array.from({ length: 1000 }, (_, i) => ({ subject: subject(i % 4), data: buf(`m${i}`), msgId: `b-${i % 900}` }));
    const acks = await pub.publishBatch(items);
    // Resolved ⇒ stored: no waiting needed.
    expect((await jsm.streams.info(spec.name)).state.messages).toBe(900);
    expect(acks).toHaveLength(1000);
    expect(acks.filter((a) => a.duplicate)).toHaveLength(100);
    expect(new Set(acks.filter((a) => !a.duplicate).map((a) => a.seq)).size).toBe(900);
    acks.slice(900).forEach((a, i) => expect(a.seq).toBe(acks[i].seq));
    expect(pub.inFlight).toBe(0);
  });

  it('rejects with "unavailable" when no stream captures the subject (503) and with "rejected" on a PubAck error', async () => {
    const err = await pub.publish('nowhere.at.all', buf('x')).catch((e) => e);
    expect(err).toBeInstanceOf(JetStreamPublishError);
    expect(err.code).toBe('unavailable');
    const { subject } = await freshStream();
    await pub.publish(subject(0), buf('x'));
    const bad = await pub.publish(subject(0), buf('y'), { expectedLastSubjectSequence: 99 }).catch((e) => e);
    expect(bad).toBeInstanceOf(JetStreamPublishError);
    expect(bad.code).toBe('rejected');
    expect(bad.message).toMatch(/wrong last sequence/i);
  });
});

describe('PartitionConsumer', () => {
  it('processes a partition in stream order across many batches, exactly once, with message details', async () => {
    const { spec, subject } = await freshStream();
    await publishAll(subject(1), ['other partition']);
    const seqs = await publishAll(subject(3), Array.from({ length: 700 }, (_, i) => `e${i}`));
    await pub.publish(subject(3), buf('with header'), { headers: { 'X-Trace': 'abc' } });
    const rec = recorder();
    const c = consumer({ stream: spec.name, durable: 'order', filterSubject: subject(3), batchSize: 64, handler: rec.handler });
    await c.start();
    await waitForQuiescence(jsm, spec.name, 'order');
    const all = rec.calls.flatMap((call) => call.seqs);
    expect(all).toEqual([...seqs, seqs[seqs.length - 1] + 1]);
    expect(rec.calls.length).toBeGreaterThan(1);
    expect(Math.max(...rec.calls.map((call) => call.seqs.length))).toBeLessThanOrEqual(64);
    expect(rec.calls[0].ctx).toMatchObject({ stream: spec.name, durable: 'order', partition: 3, attempt: 0 });
    const lastCall = rec.calls[rec.calls.length - 1];
    expect(lastCall.bodies[lastCall.bodies.length - 1]).toBe('with header');
    expect(rec.calls.every((call) => call.deliveries.every((d) => d === 1))).toBe(true);

    // Later messages arrive while the consumer idles (long poll) and are processed too.
    const more = await publishAll(subject(3), ['late-1', 'late-2']);
    await eventually(() => expect(rec.calls.flatMap((call) => call.seqs).slice(-2)).toEqual(more));
    const info = await waitForQuiescence(jsm, spec.name, 'order');
    expect(info.ack_floor.stream_seq).toBe(more[1]);
    expect(c.processed).toBe(703);
  });

  it('gives each handler the subject, data, headers, sequence, delivery count and partition', async () => {
    const { spec, subject } = await freshStream();
    await pub.publish(subject(5), buf('payload'), { msgId: 'm-1', headers: { 'X-Trace': 'abc' } });
    const seen: ConsumedMessage[] = [];
    const c = consumer({ stream: spec.name, durable: 'details', filterSubject: subject(5), handler: (b) => void seen.push(...b) });
    await c.start();
    await eventually(() => expect(seen).toHaveLength(1));
    const m = seen[0];
    expect(m).toMatchObject({ subject: subject(5), seq: 1, deliveryCount: 1, partition: 5 });
    expect(Buffer.from(m.data).toString()).toBe('payload');
    expect(m.headers?.get('X-Trace')).toBe('abc');
    expect(m.timestampMs).toBeGreaterThan(Date.now() - 60_000);
  });

  it('retry: the same batch comes again, in order, and nothing later is processed before it', async () => {
    const { spec, subject } = await freshStream();
    const seqs = await publishAll(subject(0), Array.from({ length: 30 }, (_, i) => `r${i}`));
    const events: ConsumerEvent[] = [];
    let failures = 0;
    const rec = recorder((batch) => (batch.some((m) => text(m) === 'r12') && failures++ < 3 ? Outcome.retry(undefined, 'redis away') : Outcome.ack()));
    const c = consumer({ stream: spec.name, durable: 'retry', filterSubject: subject(0), batchSize: 10, handler: rec.handler, onEvent: (e) => events.push(e) });
    await c.start();
    await waitForQuiescence(jsm, spec.name, 'retry');
    expect(rec.acked).toEqual(seqs);
    const calls = rec.calls.map((call) => call.seqs);
    expect(calls).toEqual([seqs.slice(0, 10), seqs.slice(10, 20), seqs.slice(10, 20), seqs.slice(10, 20), seqs.slice(10, 20), seqs.slice(20, 30)]);
    expect(rec.calls.slice(1, 5).map((call) => call.ctx.attempt)).toEqual([0, 1, 2, 3]);
    expect(rec.calls.slice(1, 5).map((call) => call.deliveries[0])).toEqual([1, 2, 3, 4]);
    expect(events.filter((e) => e.type === 'retry').map((e) => (e as { delayMs: number }).delayMs)).toEqual([20, 40, 80]);
    expect(events.some((e) => e.type === 'resync' || e.type === 'error')).toBe(false);
  });

  it('a poison message (throws every time) goes to the DLQ with its headers after maxDeliver, and the partition goes on', async () => {
    const { spec, subject } = await freshStream();
    const seqs = await publishAll(subject(2), ['a', 'b', 'poison', 'c', 'd']);
    await pub.publish(subject(2), buf('tagged'), { headers: { 'X-Keep': 'yes' } });
    const rec = recorder((batch) => {
      if (batch.some((m) => text(m) === 'poison')) throw new Error('cannot parse poison');
    });
    const c = consumer({ stream: spec.name, durable: 'poison', filterSubject: subject(2), batchSize: 3, maxDeliver: 3, handler: rec.handler });
    await c.start();
    await waitForQuiescence(jsm, spec.name, 'poison');
    expect(rec.acked).toEqual([...seqs.filter((_, i) => i !== 2), seqs[4] + 1]);
    // Never out of order: sequences of successive calls never go back except for a retry of the same head.
    const dlq = await jsm.streams.getMessage(streams.dlq.name, { last_by_subj: subjects.dlq(spec.name, 'poison') });
    expect(Buffer.from(dlq!.data).toString()).toBe('poison');
    expect(dlq!.header.get(H.dlqError)).toMatch(/cannot parse poison/);
    expect(dlq!.header.get(H.dlqStream)).toBe(spec.name);
    expect(dlq!.header.get(H.dlqConsumer)).toBe('poison');
    expect(dlq!.header.get(H.dlqSubject)).toBe(subject(2));
    expect(dlq!.header.get(H.dlqSeq)).toBe(String(seqs[2]));
    expect(Number(dlq!.header.get(H.dlqDeliveries))).toBe(3);
    expect((await jsm.streams.info(streams.dlq.name, { subjects_filter: subjects.dlq(spec.name, 'poison') })).state.subjects).toEqual({
      [subjects.dlq(spec.name, 'poison')]: 1,
    });
  });

  it('per-message dead letters from an ack outcome are stored before the ack and keep original headers', async () => {
    const { spec, subject } = await freshStream();
    const seqs = await publishAll(subject(0), ['ok1', 'garbage', 'ok2']);
    const rec = recorder((batch) => Outcome.ack(batch.filter((m) => text(m) === 'garbage').map((m) => ({ seq: m.seq, reason: 'not JSON' }))));
    const c = consumer({ stream: spec.name, durable: 'bad', filterSubject: subject(0), handler: rec.handler });
    await c.start();
    await waitForQuiescence(jsm, spec.name, 'bad');
    expect(rec.acked).toEqual([seqs[0], seqs[2]]);
    expect(rec.calls).toHaveLength(1);
    const dlq = await jsm.streams.getMessage(streams.dlq.name, { last_by_subj: subjects.dlq(spec.name, 'bad') });
    expect(Buffer.from(dlq!.data).toString()).toBe('garbage');
    expect(dlq!.header.get(H.dlqError)).toBe('not JSON');
    expect(dlq!.header.get(H.dlqDeliveries)).toBe('1');
  });

  it('a crash without ack (connection gone mid-batch): the batch is redelivered, in order, to the next owner', async () => {
    const { spec, subject } = await freshStream();
    const seqs = await publishAll(subject(0), Array.from({ length: 25 }, (_, i) => `c${i}`));
    const crashed = await connectNats({ servers: nats.url });
    let release!: () => void;
    const stuck = new Promise<void>((r) => (release = r));
    const first = recorder(async (batch) => {
      if (batch[0].seq > seqs[9]) await stuck; // processing the second batch when the process dies
    });
    const a = consumer({ stream: spec.name, durable: 'crash', filterSubject: subject(0), batchSize: 10, handler: first.handler }, crashed);
    await a.start();
    await eventually(() => expect(first.calls).toHaveLength(2));
    await crashed.close(); // the "kill -9": no ack for the batch in hand
    release();
    const more = await publishAll(subject(0), ['after-1', 'after-2']);

    const second = recorder();
    const events: ConsumerEvent[] = [];
    const b = consumer({ stream: spec.name, durable: 'crash', filterSubject: subject(0), batchSize: 10, handler: second.handler, onEvent: (e) => events.push(e) });
    await b.start();
    await waitForQuiescence(jsm, spec.name, 'crash');
    expect(first.acked.slice(0, 10)).toEqual(seqs.slice(0, 10));
    expect(second.acked).toEqual([...seqs.slice(10), ...more]);
    // The unacknowledged batch was outstanding: the consumer was started again from its ack floor + 1.
    expect(events.filter((e) => e.type === 'resync').map((e) => (e as { fromSeq: number }).fromSeq)).toEqual([seqs[10]]);
  });

  it('a consumer that keeps up pulls once a batch: it waits for the first message and takes what is there with it', async () => {
    const { spec, subject } = await freshStream();
    const durable = 'onepull';
    const { requests, stop: stopWatching } = watchPulls(spec.name, durable);
    const rec = recorder();
    // An idle poll longer than the test: no pull expires empty meanwhile, whatever the machine's speed.
    const c = consumer({ stream: spec.name, durable, filterSubject: subject(2), batchSize: 50, idlePollMs: 60_000, handler: rec.handler });
    await c.start();
    await eventually(() => expect(requests.length).toBeGreaterThan(0));
    const sent: number[] = [];
    for (let i = 0; i < 8; i++) {
      // One message at a time, each after the consumer is idle again: a batch each.
      sent.push(...(await publishAll(subject(2), [`one-${i}`])));
      await eventually(() => expect(rec.acked).toEqual(sent));
      await new Promise((r) => setTimeout(r, 30));
    }
    // Then several at once while it is idle: the first wakes the pull, the rest come with it or in the next.
    sent.push(...(await publishAll(subject(2), ['a', 'b', 'c', 'd', 'e'])));
    await eventually(() => expect(rec.acked).toEqual(sent));
    stopWatching();
    expect(rec.calls.flatMap((call) => call.seqs)).toEqual(sent);
    // A pull per batch, plus the one waiting now. The former protocol took three a batch: no_wait (empty), a
    // long poll for one, no_wait for the rest.
    expect(requests.length).toBeLessThanOrEqual(rec.calls.length + 1);
    expect(requests.every((r) => r.no_wait === true && r.expires === 60_000 * 1_000_000 && r.batch === 50)).toBe(true);
  });

  it('with lingerMs, a small pull is topped up with what arrives meanwhile: one batch, then a plain no_wait pull', async () => {
    const { spec, subject } = await freshStream();
    const durable = 'linger';
    const { requests, stop: stopWatching } = watchPulls(spec.name, durable);
    const rec = recorder();
    const c = consumer({ stream: spec.name, durable, filterSubject: subject(1), batchSize: 50, idlePollMs: 60_000, lingerMs: 400, handler: rec.handler });
    await c.start();
    await eventually(() => expect(requests.length).toBeGreaterThan(0));
    // the first wakes the waiting pull; the others arrive while the consumer lingers: all one batch
    const sent = await publishAll(subject(1), ['l1']);
    await new Promise((r) => setTimeout(r, 100));
    sent.push(...(await publishAll(subject(1), ['l2', 'l3'])));
    await eventually(() => expect(rec.acked).toEqual(sent));
    expect(rec.calls.map((call) => call.seqs)).toEqual([sent]);
    // the top-up is a plain no_wait pull for the rest of the batch (answered at once)
    await eventually(() => expect(requests.length).toBeGreaterThanOrEqual(3));
    expect(requests[1]).toEqual({ batch: 49, no_wait: true });
    // closing while it lingers: close() does not wait the linger out, and nothing is acked twice or lost
    const more = await publishAll(subject(1), ['l4']);
    await new Promise((r) => setTimeout(r, 50));
    const t0 = Date.now();
    await c.close();
    expect(Date.now() - t0).toBeLessThan(300);
    stopWatching();
    const again = consumer({ stream: spec.name, durable, filterSubject: subject(1), batchSize: 50, idlePollMs: 60_000, handler: rec.handler });
    await again.start();
    await eventually(() => expect(rec.acked).toEqual([...sent, ...more]));
    await again.close();
  });

  it('drains on close: the batch in hand finishes and is acked before close() resolves', async () => {
    const { spec, subject } = await freshStream();
    const seqs = await publishAll(subject(0), ['d1', 'd2', 'd3']);
    let release!: () => void;
    const gate = new Promise<void>((r) => (release = r));
    let started = false;
    const rec = recorder(async () => {
      started = true;
      await gate;
    });
    const c = consumer({ stream: spec.name, durable: 'drain', filterSubject: subject(0), handler: rec.handler });
    await c.start();
    await eventually(() => expect(started).toBe(true));
    let closed = false;
    const closing = c.close().then(() => (closed = true));
    await new Promise((r) => setImmediate(r));
    expect(closed).toBe(false);
    release();
    await closing;
    expect(rec.acked).toEqual(seqs);
    const info = await jsm.consumers.info(spec.name, 'drain');
    expect(info.ack_floor.stream_seq).toBe(seqs[2]);
    expect(info.num_ack_pending).toBe(0);
    // Nothing more is consumed after close.
    await publishAll(subject(0), ['after close']);
    expect(c.isRunning).toBe(false);
    expect((await jsm.consumers.info(spec.name, 'drain')).num_pending).toBe(1);
  });
});

@Controller()
class BatchController {
  readonly seen: { seqs: number[]; partition: number | undefined }[] = [];
  @BatchPattern('nest.*')
  handle(@Payload() batch: ConsumedMessage[], @Ctx() ctx: JetStreamContext) {
    this.seen.push({ seqs: batch.map((m) => m.seq), partition: ctx.getPartition() });
    return Outcome.ack();
  }
}

@Module({ controllers: [BatchController] })
class BatchModule {}

describe('Nest transport', () => {
  it('binds @EventPattern handlers to partition consumers; the ClientProxy emits into JetStream', async () => {
    const spec: StreamSpec = { name: 'NEST', subjects: ['nest.*'], maxAgeMs: 3_600_000, duplicateWindowMs: 60_000 };
    const server = new JetStreamServer({
      servers: nats.url,
      streams: [spec],
      consumers: partitionConsumers({ stream: spec, durable: (p) => `nest-p${p}`, subject: (p) => `nest.${p}`, partitions: [0, 1], ...FAST }),
    });
    const app = await NestFactory.createMicroservice<MicroserviceOptions>(BatchModule, { strategy: server, logger: false });
    await app.listen();
    const client = new JetStreamClientProxy({ servers: nats.url });
    try {
      const ack = await new Promise((resolve, reject) => client.emit('nest.1', new JetStreamRecord(buf('hello'), { msgId: 'n1' })).subscribe({ next: resolve, error: reject }));
      expect(ack).toMatchObject({ stream: 'NEST', seq: 1, duplicate: false });
      await new Promise((resolve, reject) => client.emit('nest.0', { json: true }).subscribe({ next: resolve, error: reject }));
      const controller = app.get(BatchController);
      await eventually(() => expect(controller.seen.map((s) => s.partition).sort()).toEqual([0, 1]));
      await waitForQuiescence(jsm, 'NEST', 'nest-p0');
      await waitForQuiescence(jsm, 'NEST', 'nest-p1');
      expect(server.consumers.map((c) => c.durable)).toEqual(['nest-p0', 'nest-p1']);
      expect(server.unwrap()).toBeDefined();
    } finally {
      await client.close();
      await app.close();
    }
  });
});

describe('NATS outage', () => {
  it('publisher rejects while NATS is down and recovers after restart; a consumer resumes in order', async () => {
    const { spec, subject } = await freshStream();
    const before = await publishAll(subject(0), ['b1', 'b2']);
    const rec = recorder();
    const c = consumer({ stream: spec.name, durable: 'outage', filterSubject: subject(0), handler: rec.handler });
    await c.start();
    await waitForQuiescence(jsm, spec.name, 'outage');

    await nats.stop();
    await eventually(async () => {
      const err = await pub.publish(subject(0), buf('x'), { msgId: 'during' }).then(
        () => undefined,
        (e) => e,
      );
      expect(err).toBeInstanceOf(JetStreamPublishError);
      expect(err.code).toBe('unavailable');
    });
    const batchErr = await pub.publishBatch([{ subject: subject(0), data: buf('y') }]).catch((e) => e);
    expect(batchErr).toBeInstanceOf(PublishBatchError);
    expect(batchErr.transient).toBe(true);

    await nats.start();
    const after = await eventually(() => pub.publish(subject(0), buf('after'), { msgId: 'after' }), { timeoutMs: 15_000 });
    expect(after.duplicate).toBe(false);
    await waitForQuiescence(jsm, spec.name, 'outage');
    // Redeliveries after a server restart are allowed (the handler fences them); order and completeness are not negotiable.
    const firstSeen = [...new Set(rec.calls.flatMap((call) => call.seqs))];
    expect(firstSeen).toEqual([...before, after.seq]);
  });
});

describe('NATS kill -9 under load', () => {
  it('every published message is processed; each partition sees stream order (redeliveries allowed, no gaps)', async () => {
    const { spec, subject } = await freshStream();
    const P = 2;
    const N = 6000;
    const order: number[][] = Array.from({ length: P }, () => []);
    const bodies = new Set<string>();
    for (let p = 0; p < P; p++) {
      const c = consumer({
        stream: spec.name,
        durable: `kill-${p}`,
        filterSubject: subject(p),
        batchSize: 200,
        ackWaitMs: 1000,
        handler: (batch) => {
          for (const m of batch) {
            order[p].push(m.seq);
            bodies.add(text(m));
          }
        },
      });
      await c.start();
    }
    const publisher = new JetStreamPublisher(conn, { maxInFlight: 512, ackTimeoutMs: 2000 });
    const producer = (async () => {
      for (let from = 0; from < N; from += 500) {
        const items = Array.from({ length: 500 }, (_, k) => ({ subject: subject((from + k) % P), data: buf(`k${from + k}`), msgId: `k${from + k}` }));
        // A client retries a batch that was not acknowledged; JetStream de-duplicates by msgId.
        await eventually(() => publisher.publishBatch(items), { timeoutMs: 20_000, intervalMs: 100 });
      }
    })();
    await eventually(() => expect(order[0].length + order[1].length).toBeGreaterThan(1000), { intervalMs: 5 });
    await nats.kill();
    await nats.start();
    await producer;
    await publisher.close();
    for (let p = 0; p < P; p++) await waitForQuiescence(jsm, spec.name, `kill-${p}`);
    expect((await jsm.streams.info(spec.name)).state.messages).toBe(N);
    expect(bodies.size).toBe(N);
    for (let p = 0; p < P; p++) {
      const firstSeen = [...new Set(order[p])];
      expect(firstSeen).toEqual([...firstSeen].sort((a, b) => a - b));
      expect(firstSeen).toHaveLength(N / P);
    }
  });
});
