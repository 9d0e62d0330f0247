/**
 * Bounded storage (docs/settings.md "Limits"): every contract stream gets `max_bytes`, provisioning never lowers a size
 * an operator configured, and a service boots with STREAM_MAX_BYTES_<NAME>.
 */
import type { NatsConnection } from '@nats-io/nats-core';
import { jetstreamManager, type JetStreamManager } from '@nats-io/jetstream';
import { ALL_STREAMS, streams, streamsWithMaxBytes } from '@tidemark/contracts';
import { ensureStreams } from '@tidemark/jetstream';
import { natsClient } from './support/jetstream-read';
import { ServerHandle, startNats } from './support/servers';
import { startIngestionStack } from './support/service-process';

jest.setTimeout(60_000);

let nats: ServerHandle;
let nc: NatsConnection;
let jsm: JetStreamManager;

beforeAll(async () => {
  nats = await startNats();
  nc = await natsClient(nats.url);
  jsm = await jetstreamManager(nc);
});

afterAll(async () => {
  await nc?.close();
  await nats?.dispose();
});

const maxBytesOf = async (name: string) => (await jsm.streams.info(name)).config.max_bytes;

it('creates every contract stream with its size', async () => {
  await ensureStreams(jsm, ALL_STREAMS, { defaults: ALL_STREAMS });
  for (const s of ALL_STREAMS) expect(await maxBytesOf(s.name)).toBe(s.maxBytes);
});

it('sizes a stream created before sizes existed; leaves an operator’s bigger size alone', async () => {
  await jsm.streams.update(streams.late.name, { subjects: streams.late.subjects, max_bytes: -1 });
  const bigger = streams.alerts.maxBytes * 4;
  await jsm.streams.update(streams.alerts.name, { subjects: streams.alerts.subjects, max_bytes: bigger });
  const results = await ensureStreams(jsm, ALL_STREAMS, { defaults: ALL_STREAMS });
  expect(results.find((r) => r.name === streams.late.name)).toMatchObject({ action: 'updated', changed: ['max_bytes'] });
  expect(results.find((r) => r.name === streams.alerts.name)).toMatchObject({ action: 'unchanged' });
  expect(await maxBytesOf(streams.late.name)).toBe(streams.late.maxBytes);
  expect(await maxBytesOf(streams.alerts.name)).toBe(bigger);
});

it('a service provisions the sizes of STREAM_MAX_BYTES_<NAME>', async () => {
  const stack = await startIngestionStack({ STREAM_MAX_BYTES_DLQ: String(64 * 1024 * 1024) });
  try {
    const info = await (await jetstreamManager(stack.nc)).streams.info(streams.dlq.name);
    expect(info.config.max_bytes).toBe(64 * 1024 * 1024);
    const raw = await (await jetstreamManager(stack.nc)).streams.info(streams.raw.name);
    expect(raw.config.max_bytes).toBe(streamsWithMaxBytes({}).find((s) => s.name === streams.raw.name)!.maxBytes);
  } finally {
    await stack.stop();
  }
});
