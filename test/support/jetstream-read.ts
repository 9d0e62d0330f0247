import { connect } from '@nats-io/transport-node';
import type { NatsConnection } from '@nats-io/nats-core';
import { jetstreamManager } from '@nats-io/jetstream';
import { frameBodies, isFrame } from '@tidemark/contracts';

export async function natsClient(url: string): Promise<NatsConnection> {
  return connect({ servers: url, noAsyncTraces: true });
}

/**
 * Every message of a stream (optionally only one subject), decoded as JSON, with its subject and sequence.
 * A frame (events.raw / events.clean) gives one entry per event, with its index in the frame.
 */
export async function readStream<T = unknown>(nc: NatsConnection, stream: string, subject?: string): Promise<{ subject: string; seq: number; index: number; data: T }[]> {
  const jsm = await jetstreamManager(nc);
  const info = await jsm.streams.info(stream);
  const out: { subject: string; seq: number; index: number; data: T }[] = [];
  for (let seq = info.state.first_seq; seq <= info.state.last_seq && info.state.messages > 0; seq++) {
    const m = await jsm.streams.getMessage(stream, { seq }).catch(() => null);
    if (!m) continue;
    if (subject && m.subject !== subject) continue;
    if (!isFrame(m.data)) {
      out.push({ subject: m.subject, seq: m.seq, index: 0, data: m.json<T>() });
      continue;
    }
    frameBodies(m.data).forEach((body, index) => out.push({ subject: m.subject, seq: m.seq, index, data: JSON.parse(body.toString('utf8')) as T }));
  }
  return out;
}

export async function streamCount(nc: NatsConnection, stream: string): Promise<number> {
  const jsm = await jetstreamManager(nc);
  return (await jsm.streams.info(stream)).state.messages;
}

/** Events stored in a stream: a frame counts its events, any other message one. */
export async function streamEventCount(nc: NatsConnection, stream: string): Promise<number> {
  return (await readStream(nc, stream)).length;
}
