/**
 * JetStreamPublisher: publishes into JetStream with de-duplication ids and a bounded window of pending acks.
 *
 * Fast path (docs/platform.md "Throughput of the building blocks"): a core NATS publish with a reply subject on one shared wildcard inbox, the PubAcks
 * counted by hand — about 3x `js.publish`. Every publish resolves with its PubAck `{ stream, seq, duplicate }`
 * or rejects with a `JetStreamPublishError`:
 *  - `unavailable`: no JetStream answers for the subject (503 no responders: JetStream down, or no stream
 *    captures the subject), or the connection is down (in-flight publishes are rejected at the disconnect, new
 *    ones at once until it is back: the caller retries with the same msgId and JetStream de-duplicates);
 *  - `rejected`: the PubAck carries an error (e.g. a failed expectation);
 *  - `timeout`: no PubAck within `ackTimeoutMs`;
 *  - `closed`: the publisher or connection was closed.
 */
import { createInbox, headers as natsHeaders, type Msg, type MsgHdrs, type NatsConnection, type Subscription } from '@nats-io/nats-core';
import { headers as contractHeaders } from '@tidemark/contracts';
import { JetStreamConnection } from './connection';

export interface PublishOptions {
  /** `Nats-Msg-Id`: JetStream drops a second message with this id within the stream's duplicate window. */
  msgId?: string;
  /** Extra headers. */
  headers?: Record<string, string> | MsgHdrs;
  /** Only store if the stream's last sequence for this subject is this (`Nats-Expected-Last-Subject-Sequence`). */
  expectedLastSubjectSequence?: number;
  /** Only store into this stream (`Nats-Expected-Stream`). */
  expectedStream?: string;
}

export interface PublishResult {
  stream: string;
  seq: number;
  /** True when JetStream recognised the msgId as already stored (nothing new was stored). */
  duplicate: boolean;
}

export interface PublishItem extends PublishOptions {
  subject: string;
  data: Uint8Array;
}

export type PublishErrorCode = 'unavailable' | 'rejected' | 'timeout' | 'closed';

export class JetStreamPublishError extends Error {
  constructor(
    readonly code: PublishErrorCode,
    message: string,
    readonly subject: string,
    readonly msgId?: string,
    /** The JetStream API error code (`err_code`) when the PubAck carried one. */
    readonly apiErrorCode?: number,
  ) {
    super(message);
    this.name = 'JetStreamPublishError';
  }
}

/** `publishBatch` failed for some items: `results[i]` is the PubAck or the error of item i. */
export class PublishBatchError extends Error {
  constructor(
    readonly results: (PublishResult | JetStreamPublishError)[],
    readonly failed: number,
  ) {
    const first = results.find((r): r is JetStreamPublishError => r instanceof Error);
    super(`JetStream did not acknowledge ${failed} of ${results.length} messages: ${first?.message ?? 'unknown error'}`);
    this.name = 'PublishBatchError';
  }

  /** True when every failure is `unavailable`/`timeout`/`closed` (worth a retry later, e.g. answer 503). */
  get transient(): boolean {
    return this.results.every((r) => !(r instanceof JetStreamPublishError) || r.code !== 'rejected');
  }
}

export interface JetStreamPublisherOptions {
  /** Publishes awaiting their PubAck at most (default 1024); `publish` waits for room beyond that. */
  maxInFlight?: number;
  /** How long to wait for a PubAck (default 5000 ms). */
  ackTimeoutMs?: number;
  /** Reject at once while the connection is down instead of letting nats.js buffer (default true). */
  failFastWhenDisconnected?: boolean;
}

interface Pending {
  resolve: (r: PublishResult) => void;
  reject: (e: JetStreamPublishError) => void;
  subject: string;
  msgId?: string;
  deadline: number;
}

export interface PublisherStats {
  published: number;
  acked: number;
  duplicates: number;
  failed: number;
  inFlight: number;
}

export class JetStreamPublisher {
  private readonly nc: NatsConnection;
  private readonly maxInFlight: number;
  private readonly ackTimeoutMs: number;
  private readonly failFast: boolean;
  private readonly prefix: string;
  private readonly sub: Subscription;
  private readonly pending = new Map<string, Pending>();
  /** FIFO of publishes waiting for room (array + head index: shift() is O(n) on long queues). */
  private waiters: (() => void)[] = [];
  private waitersHead = 0;
  private readonly sweeper: NodeJS.Timeout;
  private counter = 0;
  /** Window slots taken (sent and unsettled, or handed to a waiter about to send). */
  private slots = 0;
  private connected = true;
  private closed = false;
  private readonly counts = { published: 0, acked: 0, duplicates: 0, failed: 0 };

  constructor(connection: NatsConnection | JetStreamConnection, options: JetStreamPublisherOptions = {}) {
    this.nc = connection instanceof JetStreamConnection ? connection.nc : connection;
    this.maxInFlight = Math.max(1, options.maxInFlight ?? 1024);
    this.ackTimeoutMs = options.ackTimeoutMs ?? 5000;
    this.failFast = options.failFastWhenDisconnected ?? true;
    this.prefix = createInbox();
    this.sub = this.nc.subscribe(`${this.prefix}.*`, { callback: (err, msg) => this.onReply(err, msg) });
    this.sweeper = setInterval(() => this.sweep(), Math.max(10, Math.min(250, Math.floor(this.ackTimeoutMs / 4))));
    this.sweeper.unref();
    this.watchConnection();
  }

  /** Publishes awaiting their PubAck right now. */
  get inFlight(): number {
    return this.pending.size;
  }

  get stats(): PublisherStats {
    return { ...this.counts, inFlight: this.pending.size };
  }

  /**
   * Publishes one message and resolves with its PubAck. Waits for room when `maxInFlight` publishes are
   * pending (backpressure). Pass a Buffer/Uint8Array, not a string.
   */
  publish(subject: string, data: Uint8Array, options: PublishOptions = {}): Promise<PublishResult> {
    const wait = this.acquire();
    return wait ? wait.then(() => this.send(subject, data, options)) : this.send(subject, data, options);
  }

  /**
   * Publishes every item (within the in-flight window) and resolves with the PubAcks, in item order, only
   * when JetStream has acknowledged every one. Rejects with `PublishBatchError` (per-item results and errors)
   * after all have settled if any failed.
   */
  async publishBatch(items: readonly PublishItem[]): Promise<PublishResult[]> {
    const promises: Promise<PublishResult>[] = new Array(items.length);
    for (let i = 0; i < items.length; i++) {
      const it = items[i];
      const wait = this.acquire();
      if (wait) await wait;
      promises[i] = this.send(it.subject, it.data, it);
    }
    const settled = await Promise.allSettled(promises);
    let failed = 0;
    const results = settled.map((s) => {
      if (s.status === 'fulfilled') return s.value;
      failed++;
      return s.reason instanceof JetStreamPublishError ? s.reason : new JetStreamPublishError('rejected', String(s.reason), '');
    });
    if (failed > 0) throw new PublishBatchError(results, failed);
    return results as PublishResult[];
  }

  /** Stops accepting publishes, waits (up to `timeoutMs`, default ackTimeoutMs) for pending acks, then unsubscribes. */
  async close(timeoutMs = this.ackTimeoutMs): Promise<void> {
    if (this.closed) return;
    this.closed = true;
    const deadline = Date.now() + timeoutMs;
    while (this.pending.size > 0 && Date.now() < deadline && !this.nc.isClosed()) {
      await new Promise((r) => setTimeout(r, 5));
    }
    this.failAll('closed', 'publisher closed before the PubAck arrived');
    clearInterval(this.sweeper);
    while (this.waitersHead < this.waiters.length) this.release();
    if (!this.nc.isClosed()) this.sub.unsubscribe();
  }

  /** Sends with a window slot already taken; every path gives the slot back exactly once. */
  private send(subject: string, data: Uint8Array, options: PublishOptions): Promise<PublishResult> {
    const refuse = (code: PublishErrorCode, why: string) => {
      this.counts.failed++;
      this.release();
      return Promise.reject(new JetStreamPublishError(code, `${why} ("${subject}")`, subject, options.msgId));
    };
    if (this.closed) return refuse('closed', 'publisher is closed');
    if (this.nc.isClosed()) return refuse('closed', 'NATS connection is closed');
    if (this.failFast && !this.connected) return refuse('unavailable', 'NATS is disconnected (reconnecting)');
    const token = (this.counter++).toString(36);
    let hdrs: MsgHdrs | undefined;
    if (options.msgId !== undefined || options.headers || options.expectedLastSubjectSequence !== undefined || options.expectedStream) {
      hdrs = toHeaders(options.headers);
      if (options.msgId !== undefined) hdrs.set(contractHeaders.msgId, options.msgId);
      if (options.expectedLastSubjectSequence !== undefined) hdrs.set('Nats-Expected-Last-Subject-Sequence', String(options.expectedLastSubjectSequence));
      if (options.expectedStream) hdrs.set('Nats-Expected-Stream', options.expectedStream);
    }
    return new Promise<PublishResult>((resolve, reject) => {
      this.pending.set(token, { resolve, reject, subject, msgId: options.msgId, deadline: Date.now() + this.ackTimeoutMs });
      try {
        this.nc.publish(subject, data, { reply: `${this.prefix}.${token}`, headers: hdrs });
        this.counts.published++;
      } catch (error) {
        this.settleError(token, new JetStreamPublishError('closed', `publish failed: ${(error as Error).message}`, subject, options.msgId));
      }
    });
  }

  private onReply(err: Error | null, msg: Msg): void {
    if (err) {
      this.failAll('closed', `reply subscription failed: ${err.message}`);
      return;
    }
    const token = msg.subject.slice(this.prefix.length + 1);
    const p = this.pending.get(token);
    if (!p) return; // timed out or failed already
    const h = msg.headers;
    if (h && h.code >= 300) {
      const why =
        h.code === 503
          ? `no JetStream answered for "${p.subject}" (503 no responders: JetStream unavailable or no stream captures the subject)`
          : `status ${h.code} ${h.description}`;
      this.settleError(token, new JetStreamPublishError(h.code === 503 ? 'unavailable' : 'rejected', why, p.subject, p.msgId));
      return;
    }
    let ack: { stream?: string; seq?: number; duplicate?: boolean; error?: { code?: number; err_code?: number; description?: string } };
    try {
      ack = JSON.parse(Buffer.from(msg.data.buffer, msg.data.byteOffset, msg.data.byteLength).toString('utf8'));
    } catch {
      this.settleError(token, new JetStreamPublishError('rejected', 'unreadable PubAck', p.subject, p.msgId));
      return;
    }
    if (ack.error) {
      const e = ack.error;
      const code: PublishErrorCode = e.code === 503 ? 'unavailable' : 'rejected';
      this.settleError(token, new JetStreamPublishError(code, `JetStream rejected "${p.subject}": ${e.description ?? 'error'} (${e.code}/${e.err_code})`, p.subject, p.msgId, e.err_code));
      return;
    }
    this.pending.delete(token);
    this.counts.acked++;
    if (ack.duplicate) this.counts.duplicates++;
    p.resolve({ stream: ack.stream ?? '', seq: ack.seq ?? 0, duplicate: ack.duplicate === true });
    this.release();
  }

  private settleError(token: string, error: JetStreamPublishError): void {
    const p = this.pending.get(token);
    if (!p) return;
    this.pending.delete(token);
    this.counts.failed++;
    p.reject(error);
    this.release();
  }

  private failAll(code: PublishErrorCode, why: string): void {
    for (const [token, p] of [...this.pending]) {
      this.settleError(token, new JetStreamPublishError(code, `${why} ("${p.subject}")`, p.subject, p.msgId));
    }
  }

  /** Rejects publishes whose PubAck is overdue. Insertion order = deadline order, so stop at the first live one. */
  private sweep(): void {
    const now = Date.now();
    for (const [token, p] of this.pending) {
      if (p.deadline > now) break;
      this.settleError(token, new JetStreamPublishError('timeout', `no PubAck for "${p.subject}" within ${this.ackTimeoutMs} ms`, p.subject, p.msgId));
    }
  }

  private acquire(): Promise<void> | void {
    if (this.slots < this.maxInFlight) {
      this.slots++;
      return;
    }
    return new Promise<void>((resolve) => this.waiters.push(resolve));
  }

  /** A settled publish frees its slot, or hands it straight to the next waiter. */
  private release(): void {
    if (this.waitersHead < this.waiters.length) {
      const next = this.waiters[this.waitersHead];
      this.waiters[this.waitersHead++] = undefined as unknown as () => void;
      if (this.waitersHead > 1024 && this.waitersHead * 2 > this.waiters.length) {
        this.waiters = this.waiters.slice(this.waitersHead);
        this.waitersHead = 0;
      }
      next();
    } else this.slots--;
  }

  private watchConnection(): void {
    void (async () => {
      for await (const s of this.nc.status()) {
        if (s.type === 'disconnect' || s.type === 'staleConnection') {
          this.connected = false;
          if (this.failFast) this.failAll('unavailable', 'NATS connection lost before the PubAck arrived');
        } else if (s.type === 'reconnect') {
          this.connected = true;
        } else if (s.type === 'close') {
          this.failAll('closed', 'NATS connection closed before the PubAck arrived');
        }
      }
    })().catch(() => undefined);
    void this.nc.closed().then(() => {
      this.failAll('closed', 'NATS connection closed before the PubAck arrived');
      clearInterval(this.sweeper);
    });
  }
}

function toHeaders(h: Record<string, string> | MsgHdrs | undefined): MsgHdrs {
  const out = natsHeaders();
  if (!h) return out;
  if (typeof (h as MsgHdrs).keys === 'function' && typeof (h as MsgHdrs).values === 'function') {
    const mh = h as MsgHdrs;
    for (const k of mh.keys()) for (const v of mh.values(k)) out.append(k, v);
    return out;
  }
  for (const [k, v] of Object.entries(h as Record<string, string>)) out.set(k, v);
  return out;
}
