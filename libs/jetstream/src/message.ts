/** What a batch handler sees of each JetStream message, and the pure helpers that build it. */
import type { MsgHdrs } from '@nats-io/nats-core';

export interface ConsumedMessage {
  subject: string;
  /** The payload as delivered (no copy). */
  data: Uint8Array;
  headers: MsgHdrs | undefined;
  /** Stream sequence. */
  seq: number;
  /** How many times JetStream has delivered this message (1 on the first delivery). */
  deliveryCount: number;
  /** The trailing number of the subject (`events.raw.3` → 3), if it ends with one. */
  partition: number | undefined;
  /** When the message was stored, epoch ms. */
  timestampMs: number;
  /** @internal consumer (delivery) sequence, for continuity checks. */
  readonly deliverySeq: number;
  /** @internal messages left for the consumer after this one, when delivered. */
  readonly pending: number;
  /** @internal the ack subject. */
  readonly reply: string;
}

export interface AckReplyInfo {
  stream: string;
  consumer: string;
  deliveryCount: number;
  streamSeq: number;
  deliverySeq: number;
  timestampMs: number;
  pending: number;
}

/**
 * Parses a JetStream ack subject: `$JS.ACK.<stream>.<consumer>.<delivered>.<sseq>.<dseq>.<ts-ns>.<pending>`
 * (v1) or `$JS.ACK.<domain>.<account>.<stream>.<consumer>.<delivered>.<sseq>.<dseq>.<ts-ns>.<pending>.<token>` (v2).
 * Returns undefined for anything else.
 */
export function parseAckReply(reply: string | undefined): AckReplyInfo | undefined {
  if (!reply || !reply.startsWith('$JS.ACK.')) return undefined;
  const t = reply.split('.');
  let i: number;
  if (t.length === 9) i = 2;
  else if (t.length >= 11) i = 4;
  else return undefined;
  const num = (s: string) => Number(s);
  const info: AckReplyInfo = {
    stream: t[i],
    consumer: t[i + 1],
    deliveryCount: num(t[i + 2]),
    streamSeq: num(t[i + 3]),
    deliverySeq: num(t[i + 4]),
    timestampMs: Math.floor(num(t[i + 5]) / 1e6),
    pending: num(t[i + 6]),
  };
  if (![info.deliveryCount, info.streamSeq, info.deliverySeq, info.pending].every(Number.isSafeInteger)) return undefined;
  return info;
}

/** `events.raw.3` → 3; `results.gmv` → undefined. */
export function partitionOfSubject(subject: string): number | undefined {
  const dot = subject.lastIndexOf('.');
  const last = subject.slice(dot + 1);
  if (last === '' || !/^\d{1,9}$/.test(last)) return undefined;
  return Number(last);
}

/** True when the NATS subject `subject` matches `pattern` (`*` one token, `>` one or more trailing tokens). */
export function subjectMatches(pattern: string, subject: string): boolean {
  const p = pattern.split('.');
  const s = subject.split('.');
  for (let i = 0; i < p.length; i++) {
    if (p[i] === '>') return s.length > i;
    if (i >= s.length) return false;
    if (p[i] !== '*' && p[i] !== s[i]) return false;
  }
  return p.length === s.length;
}
