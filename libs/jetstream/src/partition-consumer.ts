/**
 * PartitionConsumer: one durable pull consumer (one stream, one filter subject = one partition), processed
 * strictly in stream order, one batch at a time, with ack policy `all`.
 *
 *   pull (one request: up to batchSize of what is there now, or, when nothing is, the first to arrive within
 *         idlePollMs and what is there with it: JetStream's `no_wait` with `expires`)
 *   → check continuity (DeliveryTracker) → pull the next batch ahead → handler(batch) → outcome:
 *       ack          → dead letters (if any) published and acknowledged → ack the batch's last message
 *       hold         → dead letters published → the batch stays unacknowledged (kept alive) until
 *                      `commit(seq)` acks up to a checkpoint (in-memory operators, docs/checkpoints.md)
 *       retry        → nak the batch and the one pulled ahead, in order → wait (backoff) → pull again: the
 *                      same batch comes back first
 *       deadLetter   → every message to the DLQ → ack
 *       throws       → like retry; after maxDeliver deliveries, the batch is replayed one message at a time
 *                      in hand and a message that still throws is dead-lettered
 *
 * Nothing later is ever processed before an earlier message is acked or dead-lettered. Usable without Nest.
 */
import { createInbox, headers as natsHeaders, type Msg, type MsgHdrs, type NatsConnection, type Subscription } from '@nats-io/nats-core';
import { DeliverPolicy, jetstreamManager, type ConsumerInfo, type JetStreamManager } from '@nats-io/jetstream';
import { headers as contractHeaders, subjects } from '@tidemark/contracts';
import { JetStreamConnection } from './connection';
import { DeliveryTracker } from './delivery-tracker';
import { parseAckReply, partitionOfSubject, type ConsumedMessage } from './message';
import { backoffDelay, DEFAULT_BACKOFF, isBatchOutcome, type BackoffPolicy, type BatchOutcome, type DeadLetterRequest } from './outcome';
import { JetStreamPublisher } from './publisher';
import { consumerConfigFor, ensureConsumer, type DurableConsumerSpec } from './streams';

export interface BatchContext {
  stream: string;
  durable: string;
  filterSubject: string | undefined;
  /** The partition, when the filter subject ends with a number. */
  partition: number | undefined;
  /** 0 on the first attempt of this batch, then 1, 2, ... for each retry by this consumer. */
  attempt: number;
  /** True when the batch is a single message replayed after its batch kept failing. */
  isolated: boolean;
  /**
   * Acknowledges (policy all) every held message up to stream sequence `seq`: call it once a checkpoint that
   * covers them is durable. Safe to call at any time, from outside the handler too; a no-op when nothing held
   * is at or below `seq`.
   */
  commit(seq: number): Promise<void>;
  /** The stream sequence acknowledged last (the server's ack floor when the consumer (re)started). */
  ackFloor: number;
  /**
   * Grows with every resync of every consumer of this process (a re-creation after `rewind` included): a batch
   * with a generation at or below the one current when `rewind` was called was delivered before the rewind.
   */
  generation: number;
  /**
   * Drops every delivery after stream sequence `afterSeq` and delivers again from `afterSeq + 1` (the consumer
   * is re-created there once the handler returns): for state restored from a checkpoint older than what the
   * consumer delivered or acked.
   */
  rewind(afterSeq: number): void;
}

export type BatchHandler = (messages: ConsumedMessage[], context: BatchContext) => Promise<BatchOutcome | void> | BatchOutcome | void;

export type ConsumerEvent =
  /** `count`: messages, or events with `countOf`. */
  | { type: 'batch'; count: number; firstSeq: number; lastSeq: number; durationMs: number; deadLettered: number }
  | { type: 'retry'; attempt: number; delayMs: number; reason: string; firstSeq: number }
  | { type: 'deadLetter'; seq: number; subject: string; reason: string; deliveryCount: number }
  /** The consumer was re-created to deliver again from `fromSeq` (its ack floor + 1). */
  | { type: 'resync'; reason: string; fromSeq: number }
  | { type: 'error'; error: Error; where: string };

export interface ConsumerLogger {
  log?(message: unknown, ...rest: unknown[]): unknown;
  warn(message: unknown, ...rest: unknown[]): unknown;
  error(message: unknown, ...rest: unknown[]): unknown;
}

export interface PartitionConsumerOptions {
  stream: string;
  durable: string;
  /** One subject, e.g. `events.raw.3` (required for partitioned streams). */
  filterSubject?: string;
  handler: BatchHandler;
  /** Messages per batch at most (default 500). */
  batchSize?: number;
  /** Bytes per batch at most (JetStream's pull `max_bytes`; default: no bound). Keep it above the largest message. */
  maxBytes?: number;
  /**
   * Events a message holds (frames hold many; default 1 each): `processed` and `lag` then count events
   * (`lag` estimated from the messages pending and the events per message seen so far).
   */
  countOf?: (message: ConsumedMessage) => number;
  /** Long-poll duration while the partition is idle (default 5000 ms). Latency does not depend on it. */
  idlePollMs?: number;
  /**
   * After a pull that brought fewer than batchSize messages, wait this long and take what arrived meanwhile
   * into the same batch (default 0: no wait) — Flink's buffer timeout. Live traffic arrives as small messages
   * (a frame per partition per ingest request), and every batch costs its handler a fixed amount (a pull, a
   * read of state, a plan, metrics); a wait of tens of ms shares that among several messages, for as much
   * latency a hop. The wait overlaps the handler's work on the batch before (the next pull runs ahead).
   */
  lingerMs?: number;
  /** The consumer's ack wait (default 30 000 ms): how long a delivery may stay unacknowledged (kept alive while the handler works). */
  ackWaitMs?: number;
  /** Default 20 000. */
  maxAckPending?: number;
  /** Failed deliveries before a message that keeps throwing is dead-lettered (default 5). */
  maxDeliver?: number;
  /** Retry backoff (default 100 ms doubling up to 10 s). */
  backoff?: Partial<BackoffPolicy>;
  /** Dead-letter subject (default `dlq.<stream>.<durable>`); its stream must exist (contracts `streams.dlq`). */
  dlqSubject?: string;
  /** Publisher for dead letters (default: one of its own on the same connection). */
  publisher?: JetStreamPublisher;
  /** Create/update the durable consumer at start (default true). */
  provision?: boolean;
  /** Timeout for JetStream API calls, acks and no_wait pulls (default 5000 ms). */
  requestTimeoutMs?: number;
  /**
   * A consumer that stays unavailable this long (every pull and API call failing, e.g. its replicas lost
   * their leader after nodes of a NATS cluster were killed in a row) is deleted and created again from the
   * highest floor this process knows (default 15 000 ms): see `unavailableFor`.
   */
  recreateUnavailableAfterMs?: number;
  logger?: ConsumerLogger;
  onEvent?: (event: ConsumerEvent) => void;
}

/** BatchContext.generation, process-wide so that a new consumer of a partition starts above an old one. */
let generations = 0;

class PullError extends Error {
  constructor(
    message: string,
    readonly code?: number,
  ) {
    super(message);
    this.name = 'PullError';
  }
}

interface ActivePull {
  finish: (error?: Error) => void;
}

const sleepAbortable = (ms: number, signal: AbortSignal) =>
  new Promise<void>((resolve) => {
    if (signal.aborted) return resolve();
    const t = setTimeout(done, ms);
    function done() {
      clearTimeout(t);
      signal.removeEventListener('abort', done);
      resolve();
    }
    signal.addEventListener('abort', done);
  });

const ACK = Buffer.from('+ACK');
const NAK = Buffer.from('-NAK');
const WPI = Buffer.from('+WPI');

export class PartitionConsumer {
  readonly stream: string;
  readonly durable: string;
  readonly filterSubject: string | undefined;
  readonly partition: number | undefined;
  private readonly nc: NatsConnection;
  private readonly conn: JetStreamConnection | undefined;
  private readonly handler: BatchHandler;
  private readonly batchSize: number;
  private readonly maxBytes: number | undefined;
  private readonly countOf: ((message: ConsumedMessage) => number) | undefined;
  private processedMessages = 0;
  private readonly idlePollMs: number;
  private readonly lingerMs: number;
  private readonly ackWaitMs: number;
  private readonly maxAckPending: number;
  private readonly maxDeliver: number;
  private readonly backoff: BackoffPolicy;
  private readonly dlqSubject: string;
  private readonly requestTimeoutMs: number;
  private readonly logger: ConsumerLogger | undefined;
  private readonly onEvent: ((event: ConsumerEvent) => void) | undefined;
  private readonly provision: boolean;
  /** The consumer's replicas as provisioned (the stream's), kept when it is re-created. */
  private replicas: number | undefined;
  private publisher: JetStreamPublisher | undefined;
  private ownPublisher = false;
  private jsm: JetStreamManager | undefined;

  private readonly tracker = new DeliveryTracker();
  private readonly inboxPrefix = createInbox();
  private pullCounter = 0;
  private active: ActivePull | undefined;
  /** The next batch, pulled while the handler works on the one in hand (one pull in flight at a time). */
  private ahead: Promise<ConsumedMessage[]> | undefined;
  private readonly stopper = new AbortController();
  private loop: Promise<void> | undefined;
  private needsResync = true;
  private resyncReason = 'start';
  private recreateFrom: number | undefined;
  /** The highest stream sequence whose ack (policy all) JetStream confirmed to this process. */
  private confirmedFloor = 0;
  private retryAttempt = 0;
  private retryHeadSeq = 0;
  /** Messages processed with a `hold` outcome, not acknowledged yet, in stream order. */
  private held: ConsumedMessage[] = [];
  private keepHeld: NodeJS.Timeout | undefined;
  /** Set by `rewind`: the next resync re-creates the consumer at this stream sequence. */
  private rewindTo: number | undefined;
  /** Since when every pull or JetStream API call of this consumer failed (undefined: the last one worked). */
  private failingSince: number | undefined;
  private readonly recreateUnavailableAfterMs: number;
  private processedCount = 0;
  private running = false;
  /** BatchContext.generation: raised by every resync. */
  private generation = ++generations;

  constructor(connection: NatsConnection | JetStreamConnection, options: PartitionConsumerOptions) {
    this.conn = connection instanceof JetStreamConnection ? connection : undefined;
    this.nc = connection instanceof JetStreamConnection ? connection.nc : connection;
    this.stream = options.stream;
    this.durable = options.durable;
    this.filterSubject = options.filterSubject;
    this.partition = options.filterSubject ? partitionOfSubject(options.filterSubject) : undefined;
    this.handler = options.handler;
    this.batchSize = Math.max(1, options.batchSize ?? 500);
    this.maxBytes = options.maxBytes;
    this.countOf = options.countOf;
    this.idlePollMs = Math.max(100, options.idlePollMs ?? 5000);
    this.lingerMs = Math.max(0, options.lingerMs ?? 0);
    this.ackWaitMs = options.ackWaitMs ?? 30_000;
    this.maxAckPending = Math.max(options.maxAckPending ?? 20_000, this.batchSize);
    this.maxDeliver = Math.max(1, options.maxDeliver ?? 5);
    this.backoff = { ...DEFAULT_BACKOFF, ...options.backoff };
    this.recreateUnavailableAfterMs = options.recreateUnavailableAfterMs ?? 15_000;
    this.dlqSubject = options.dlqSubject ?? subjects.dlq(options.stream, options.durable);
    this.requestTimeoutMs = options.requestTimeoutMs ?? 5000;
    this.logger = options.logger;
    this.onEvent = options.onEvent;
    this.provision = options.provision ?? true;
    this.publisher = options.publisher;
  }

  /**
   * What JetStream says is waiting for this consumer right now — not yet delivered, or delivered and not yet
   * acked — asked at call time (a consumer that stalls shows a growing lag); with `countOf`, in events
   * (estimated from the events per message seen so far). For metrics scrapes.
   */
  async serverLag(): Promise<number> {
    const jsm = this.jsm ?? (this.conn ? await this.conn.jsm() : await jetstreamManager(this.nc));
    const info = await jsm.consumers.info(this.stream, this.durable);
    const messages = info.num_pending + info.num_ack_pending;
    if (!this.countOf || this.processedMessages === 0) return messages;
    return Math.round((messages * this.processedCount) / this.processedMessages);
  }

  /** Messages (with `countOf`, events) acked (processed or dead-lettered) since start. */
  get processed(): number {
    return this.processedCount;
  }

  get isRunning(): boolean {
    return this.running;
  }

  /** The consumer spec used for provisioning. */
  get spec(): DurableConsumerSpec {
    return { stream: this.stream, durable: this.durable, filterSubject: this.filterSubject, ackWaitMs: this.ackWaitMs, maxAckPending: this.maxAckPending, replicas: this.replicas };
  }

  /** Provisions the durable consumer (unless `provision: false`) and starts consuming in the background. */
  async start(): Promise<void> {
    if (this.loop) return;
    this.jsm = this.conn ? await this.conn.jsm() : await jetstreamManager(this.nc);
    // The consumer's replicas follow its stream's (JETSTREAM_REPLICAS), also when it is re-created (resync).
    const info = this.provision ? (await ensureConsumer(this.jsm, this.spec)).info : await this.jsm.consumers.info(this.stream, this.durable);
    this.replicas = info.config.num_replicas || undefined;
    if (!this.publisher) {
      this.publisher = new JetStreamPublisher(this.nc, { maxInFlight: 256, ackTimeoutMs: this.requestTimeoutMs });
      this.ownPublisher = true;
    }
    this.watchConnection();
    // Held messages would be redelivered after ack_wait: tell JetStream they are still being worked on.
    this.keepHeld = setInterval(() => this.working(this.held), Math.max(250, Math.floor(this.ackWaitMs / 2)));
    this.keepHeld.unref();
    this.running = true;
    this.loop = this.run().finally(() => {
      this.running = false;
    });
  }

  /**
   * Drains: lets the batch in hand finish (handler, dead letters, ack), abandons an idle long poll, stops.
   * Resolves when nothing is in flight any more. Idempotent.
   */
  async close(): Promise<void> {
    this.stopper.abort();
    this.active?.finish();
    if (this.loop) await this.loop;
    clearInterval(this.keepHeld);
    if (this.ownPublisher) await this.publisher?.close();
  }

  // -------------------------------------------------------------------------------------------------------------

  private get stopping(): boolean {
    return this.stopper.signal.aborted;
  }

  private emit(event: ConsumerEvent): void {
    try {
      this.onEvent?.(event);
    } catch {
      // observers do not break consumption
    }
  }

  private async run(): Promise<void> {
    let errors = 0;
    // A closed connection ends consumption (a crash, or the owner closed it): nothing is acked past what was processed.
    while (!this.stopping && !this.nc.isClosed()) {
      let batch: ConsumedMessage[] = [];
      try {
        if (this.needsResync) {
          // Whatever the pull ahead brings is dropped: the resync delivers again from the ack floor.
          await this.takeAhead();
          await this.resync();
          if (this.stopping) break;
        }
        const next = this.ahead ?? this.nextBatch();
        this.ahead = undefined;
        batch = await next;
      } catch (error) {
        if (this.stopping || this.nc.isClosed()) break;
        errors++;
        this.failingSince ??= Date.now();
        if (!this.needsResync && unavailableFor(this.failingSince, Date.now(), this.recreateUnavailableAfterMs)) {
          // Pulls alone cannot tell a consumer without a leader from a slow one: the resync asks the server.
          this.needsResync = true;
          this.resyncReason = `unavailable for ${Date.now() - this.failingSince} ms`;
        }
        const delay = backoffDelay(errors, this.backoff);
        this.emit({ type: 'error', error: error as Error, where: 'pull' });
        this.logger?.warn(`consumer ${this.stream}/${this.durable}: ${(error as Error).message}; pulling again in ${delay} ms`);
        await sleepAbortable(delay, this.stopper.signal);
        continue;
      }
      errors = 0;
      this.failingSince = undefined;
      if (batch.length === 0) continue;
      const problem = this.tracker.accept(batch);
      if (problem) {
        // Ack nothing, nak nothing: start again from the server's ack floor.
        this.needsResync = true;
        this.resyncReason = problem;
        continue;
      }
      if (!this.stopping) {
        this.ahead = this.nextBatch();
        this.ahead.catch(() => undefined); // its error is handled where it is awaited
      }
      try {
        await this.process(batch);
      } catch (error) {
        // Unsure what became of the batch in hand: never pull past it; start again from the server's state.
        this.emit({ type: 'error', error: error as Error, where: 'process' });
        this.logger?.error(`consumer ${this.stream}/${this.durable}: ${(error as Error).message}`);
        this.needsResync = true;
        this.resyncReason = `processing failed: ${(error as Error).message}`;
      }
    }
  }

  /**
   * Re-reads the server's view of the consumer. When it is consistent and nothing is outstanding (a clean
   * start, a reconnect after our last ack), carries on from it. Otherwise — deliveries pending that we do not
   * hold (a crash of the previous owner, a lost delivery, an anomaly we just dropped) or a state a hard server
   * restart left inconsistent — re-creates the durable consumer to deliver again from its ack floor + 1:
   * immediately, in stream order, nothing skipped (the acked floor is processed by definition; what follows
   * may be a replay, which the handler fences). JetStream's own redelivery (ack_wait expiry) cannot be used
   * for this with ack policy `all`: it redelivers in expiry order, not stream order.
   */
  private async resync(): Promise<void> {
    const jsm = this.jsm!;
    const reason = this.resyncReason;
    // Deliveries not acked come again after a re-creation: what was held is delivered again.
    this.held = [];
    if (this.rewindTo !== undefined) {
      this.recreateFrom = this.rewindTo;
      this.rewindTo = undefined;
      this.emit({ type: 'resync', reason, fromSeq: this.recreateFrom });
      this.logger?.warn(`consumer ${this.stream}/${this.durable}: ${reason}; re-creating it to deliver again from stream seq ${this.recreateFrom}`);
    }
    if (this.recreateFrom === undefined) {
      let info: ConsumerInfo;
      try {
        info = await jsm.consumers.info(this.stream, this.durable);
      } catch (error) {
        if (!unavailableFor(this.failingSince, Date.now(), this.recreateUnavailableAfterMs)) throw error;
        // Unavailable for long (NATS 2.9 can leave a replicated consumer without a leader for good after
        // nodes were killed in a row): delete it and create it again — the meta leader does both, and the
        // new consumer gets a fresh group. It delivers from the highest floor this process knows; what
        // follows may be a replay, which the handler fences.
        this.recreateFrom = Math.max(this.confirmedFloor, this.tracker.ackFloor) + 1;
        this.emit({ type: 'resync', reason: `${reason}; consumer unavailable: ${(error as Error).message}`, fromSeq: this.recreateFrom });
        this.logger?.warn(`consumer ${this.stream}/${this.durable}: unavailable for ${Date.now() - this.failingSince!} ms (${(error as Error).message}); re-creating it to deliver again from stream seq ${this.recreateFrom}`);
        return this.resync();
      }
      const clean = info.num_ack_pending === 0 && info.delivered.stream_seq >= info.ack_floor.stream_seq;
      if (clean && (reason === 'start' || reason === 'reconnect')) {
        this.resetFrom(info);
        return;
      }
      // Everything up to the highest floor anyone knows is processed: the server's ack floor, the start of a
      // consumer we re-created (a hard restart can lose its fresh state), and acks this process saw confirmed.
      const optStart = info.config.deliver_policy === DeliverPolicy.StartSequence ? (info.config.opt_start_seq ?? 1) : 1;
      this.recreateFrom = Math.max(info.ack_floor.stream_seq, optStart - 1, this.confirmedFloor) + 1;
      const why = clean ? reason : `${reason}; ${info.num_ack_pending} delivery(ies) outstanding, delivered ${info.delivered.stream_seq}, ack floor ${info.ack_floor.stream_seq}`;
      this.emit({ type: 'resync', reason: why, fromSeq: this.recreateFrom });
      this.logger?.warn(`consumer ${this.stream}/${this.durable}: ${why}; re-creating it to deliver again from stream seq ${this.recreateFrom}`);
    }
    // Delete and add again (also after a failure half-way: `recreateFrom` stays set until it worked).
    await jsm.consumers.delete(this.stream, this.durable).catch((error) => {
      if (!/not found/i.test((error as Error).message)) throw error;
    });
    await jsm.consumers.add(this.stream, {
      ...consumerConfigFor(this.spec),
      deliver_policy: DeliverPolicy.StartSequence,
      opt_start_seq: this.recreateFrom,
    });
    this.recreateFrom = undefined;
    this.resetFrom(await jsm.consumers.info(this.stream, this.durable));
    this.failingSince = undefined;
  }

  private resetFrom(info: ConsumerInfo): void {
    this.generation = ++generations;
    this.tracker.reset({
      deliveredConsumerSeq: info.delivered.consumer_seq,
      deliveredStreamSeq: info.delivered.stream_seq,
      ackFloorStreamSeq: info.ack_floor.stream_seq,
    });
    this.needsResync = false;
  }

  /**
   * Up to batchSize messages: what is there now, else the first to arrive within idlePollMs and what is there
   * with it. One request: JetStream's `no_wait` with `expires` (nats-server 2.9 and later, which the v3 client
   * needs anyway) waits for the first message only when there is none, then answers at once with what it has
   * (ending with a 408 status when it had fewer than the batch). So a partition that keeps up with its input
   * costs one request a batch; a no_wait pull, then a long poll for one, then a no_wait pull for the rest
   * cost three, each on a fresh inbox.
   */
  private async nextBatch(): Promise<ConsumedMessage[]> {
    const first = await this.pull(this.batchSize, this.idlePollMs);
    if (this.lingerMs === 0 || first.length === 0 || first.length >= this.batchSize) return first;
    // lingerMs: what arrives meanwhile joins the batch (a plain no_wait pull: at once, with what is there)
    await sleepAbortable(this.lingerMs, this.stopper.signal);
    const more = await this.pull(this.batchSize - first.length, 0).catch(() => []);
    return more.length === 0 ? first : first.concat(more);
  }

  /**
   * One pull request on a fresh inbox (see nextBatch). Resolves with the messages delivered for it (also when
   * it ends early on an error after some arrived); rejects only when none did. `expiresMs` 0: a plain
   * no_wait pull, answered at once.
   */
  private pull(batch: number, expiresMs: number): Promise<ConsumedMessage[]> {
    if (this.stopping) return Promise.resolve([]);
    const inbox = `${this.inboxPrefix}.${(++this.pullCounter).toString(36)}`;
    const body: Record<string, unknown> = expiresMs > 0 ? { batch, no_wait: true, expires: expiresMs * 1_000_000 } : { batch, no_wait: true };
    if (this.maxBytes) body.max_bytes = this.maxBytes;
    return new Promise<ConsumedMessage[]>((resolve, reject) => {
      const timeoutMs = expiresMs + this.requestTimeoutMs;
      const messages: ConsumedMessage[] = [];
      let sub: Subscription | undefined;
      const finish = (error?: Error) => {
        if (this.active !== pull) return;
        this.active = undefined;
        clearTimeout(timer);
        // Unsubscribing also withdraws a waiting pull on the server (no interest, no delivery).
        if (!this.nc.isClosed()) sub?.unsubscribe();
        if (error && messages.length === 0) reject(error);
        else resolve(messages);
      };
      const pull: ActivePull = { finish };
      const timer = setTimeout(() => finish(new PullError(`pull timed out after ${timeoutMs} ms`, 408)), timeoutMs);
      this.active = pull;
      try {
        sub = this.nc.subscribe(inbox, { callback: (err, msg) => this.onPullMessage(err, msg, inbox, batch, messages, finish) });
        this.nc.publish(`$JS.API.CONSUMER.MSG.NEXT.${this.stream}.${this.durable}`, Buffer.from(JSON.stringify(body)), { reply: inbox });
      } catch (error) {
        finish(new PullError(`pull failed: ${(error as Error).message}`));
      }
    });
  }

  private onPullMessage(err: Error | null, msg: Msg, inbox: string, batch: number, messages: ConsumedMessage[], finish: (error?: Error) => void): void {
    if (err) return finish(new PullError(`pull subscription failed: ${err.message}`));
    if (msg.subject === inbox) {
      // A status from JetStream.
      const code = msg.headers?.code ?? 0;
      const description = msg.headers?.description ?? '';
      if (code === 404 || code === 408) return finish();
      if (code === 100) return; // idle heartbeat
      if (code === 409) {
        if (/deleted|not found/i.test(description)) return finish(new PullError(`consumer ${this.stream}/${this.durable}: ${description}`, 409));
        // The next message alone is larger than max_bytes: an error (pulled again after a backoff), never a busy loop.
        if (/exceeds maxbytes/i.test(description)) return finish(new PullError(`consumer ${this.stream}/${this.durable}: ${description} (max_bytes ${this.maxBytes})`, 409));
        return finish(); // max ack pending / max waiting / leadership change: pull again
      }
      if (code === 503) return finish(new PullError(`JetStream unavailable (503 no responders) for ${this.stream}/${this.durable}`, 503));
      return finish(new PullError(`pull status ${code} ${description}`, code));
    }
    const info = parseAckReply(msg.reply);
    if (!info) return finish(new PullError(`unreadable ack subject "${msg.reply}" on ${msg.subject}`));
    messages.push({
      subject: msg.subject,
      data: msg.data,
      // Decoded on first use only (the dead-letter path): most handlers never read them.
      get headers() {
        return msg.headers;
      },
      seq: info.streamSeq,
      deliveryCount: info.deliveryCount,
      partition: partitionOfSubject(msg.subject),
      timestampMs: info.timestampMs,
      deliverySeq: info.deliverySeq,
      pending: info.pending,
      reply: msg.reply!,
    });
    if (messages.length >= batch) finish();
  }

  private context(attempt: number, isolated: boolean): BatchContext {
    return {
      stream: this.stream,
      durable: this.durable,
      filterSubject: this.filterSubject,
      partition: this.partition,
      attempt,
      isolated,
      ackFloor: this.tracker.ackFloor,
      generation: this.generation,
      commit: this.commit,
      rewind: this.rewind,
    };
  }

  /** See BatchContext.commit. */
  readonly commit = async (seq: number): Promise<void> => {
    let i = -1;
    for (let j = 0; j < this.held.length && this.held[j].seq <= seq; j++) i = j;
    if (i < 0) return;
    const last = this.held[i];
    const batch = this.held;
    await this.ack(last);
    // A resync meanwhile replaced the held list: what it delivers again is another delivery.
    if (this.held !== batch) return;
    this.tracker.acked(last.seq);
    this.held = this.held.slice(i + 1);
  };

  /** See BatchContext.rewind. */
  readonly rewind = (afterSeq: number): void => {
    this.rewindTo = Math.max(1, afterSeq + 1);
    // Acks seen above it no longer count as processed: a later resync must not skip past the rewind.
    this.confirmedFloor = Math.min(this.confirmedFloor, afterSeq);
    this.needsResync = true;
    this.resyncReason = `rewind to the checkpoint at stream seq ${afterSeq}`;
  };

  /** Runs the handler, keeping the batch's ack timers alive while it works. Thrown errors come back as `failed`. */
  private async runHandler(batch: ConsumedMessage[], attempt: number, isolated: boolean): Promise<BatchOutcome | { kind: 'failed'; error: Error }> {
    const keepAlive = setInterval(() => this.working(batch), Math.max(250, Math.floor(this.ackWaitMs / 2)));
    try {
      const out = await this.handler(batch, this.context(attempt, isolated));
      if (out === undefined || out === null) return { kind: 'ack' };
      if (!isBatchOutcome(out)) return { kind: 'failed', error: new Error(`handler returned ${JSON.stringify(out)}, not an outcome`) };
      return out;
    } catch (error) {
      return { kind: 'failed', error: error instanceof Error ? error : new Error(String(error)) };
    } finally {
      clearInterval(keepAlive);
    }
  }

  private async process(batch: ConsumedMessage[]): Promise<void> {
    const started = Date.now();
    const head = batch[0].seq;
    if (head !== this.retryHeadSeq) {
      this.retryAttempt = 0;
      this.retryHeadSeq = head;
    }
    const outcome = await this.runHandler(batch, this.retryAttempt, false);
    switch (outcome.kind) {
      case 'ack':
        await this.deadLetterThenAck(batch, outcome.deadLetters ?? [], started);
        return;
      case 'hold':
        await this.deadLetterThenAck(batch, outcome.deadLetters ?? [], started, true);
        return;
      case 'deadLetter':
        await this.deadLetterThenAck(
          batch,
          batch.map((m) => ({ seq: m.seq, reason: outcome.reason })),
          started,
        );
        return;
      case 'retry':
        await this.retry(batch, outcome.delayMs, outcome.reason ?? 'handler asked for a retry');
        return;
      case 'failed': {
        const deliveries = Math.min(...batch.map((m) => m.deliveryCount));
        if (deliveries >= this.maxDeliver) {
          await this.isolate(batch, outcome.error);
          return;
        }
        this.logger?.warn(`consumer ${this.stream}/${this.durable}: handler threw on seq ${head}..${batch[batch.length - 1].seq}: ${outcome.error.message}`);
        await this.retry(batch, undefined, `handler threw: ${outcome.error.message}`);
        return;
      }
    }
  }

  /**
   * The batch failed on its maxDeliver-th delivery: replay it one message at a time, in hand and in order.
   * A message that throws on its own is dead-lettered; a retry outcome puts the rest back for later.
   */
  private async isolate(batch: ConsumedMessage[], batchError: Error): Promise<void> {
    for (let i = 0; i < batch.length; i++) {
      const m = batch[i];
      const started = Date.now();
      const outcome = batch.length === 1 ? { kind: 'failed' as const, error: batchError } : await this.runHandler([m], this.retryAttempt, true);
      switch (outcome.kind) {
        case 'ack':
          await this.deadLetterThenAck([m], outcome.deadLetters ?? [], started);
          break;
        case 'hold':
          await this.deadLetterThenAck([m], outcome.deadLetters ?? [], started, true);
          break;
        case 'deadLetter':
          await this.deadLetterThenAck([m], [{ seq: m.seq, reason: outcome.reason }], started);
          break;
        case 'failed':
          await this.deadLetterThenAck([m], [{ seq: m.seq, reason: `failed ${m.deliveryCount} deliveries: ${outcome.error.message}` }], started);
          break;
        case 'retry':
          await this.retry(batch.slice(i), outcome.delayMs, outcome.reason ?? 'handler asked for a retry');
          return;
      }
    }
  }

  /**
   * Dead letters first (each published and acknowledged by JetStream), then ack the batch's last message (and
   * with it every held one before it) — or, with `hold`, keep the batch unacknowledged until `commit`.
   */
  private async deadLetterThenAck(batch: ConsumedMessage[], deadLetters: DeadLetterRequest[], started: number, hold = false): Promise<void> {
    if (deadLetters.length > 0) {
      const bySeq = new Map(batch.map((m) => [m.seq, m]));
      const items = deadLetters.map((d) => {
        const m = bySeq.get(d.seq);
        if (!m) throw new Error(`handler dead-lettered seq ${d.seq}, which is not in the batch ${batch[0].seq}..${batch[batch.length - 1].seq}`);
        return { m, d, reason: d.reason };
      });
      try {
        await this.publisher!.publishBatch(items.map(({ m, d }) => this.deadLetterItem(m, d)));
      } catch (error) {
        // The handler's effects are committed (fenced on replay); the dead letters are not stored: do it again.
        await this.retry(batch, undefined, `dead letter publish failed: ${(error as Error).message}`);
        return;
      }
      for (const { m, reason } of items) {
        this.emit({ type: 'deadLetter', seq: m.seq, subject: m.subject, reason, deliveryCount: m.deliveryCount });
        this.logger?.warn(`consumer ${this.stream}/${this.durable}: dead-lettered seq ${m.seq} (${m.subject}) to ${this.dlqSubject}: ${reason}`);
      }
    }
    const last = batch[batch.length - 1];
    if (hold) this.held.push(...batch);
    else {
      await this.ack(last);
      this.tracker.acked(last.seq);
      if (this.held.length > 0) this.held = this.held.filter((m) => m.seq > last.seq);
    }
    let events = batch.length;
    if (this.countOf) {
      events = 0;
      for (const m of batch) events += this.countOf(m);
    }
    this.processedMessages += batch.length;
    this.processedCount += events;
    this.retryAttempt = 0;
    this.retryHeadSeq = 0;
    this.emit({ type: 'batch', count: events, firstSeq: batch[0].seq, lastSeq: last.seq, durationMs: Date.now() - started, deadLettered: deadLetters.length });
  }

  private deadLetterItem(m: ConsumedMessage, d: DeadLetterRequest) {
    const reason = d.reason;
    const h: MsgHdrs = natsHeaders();
    if (m.headers) {
      for (const k of m.headers.keys()) {
        if (/^nats-/i.test(k)) continue;
        for (const v of m.headers.values(k)) h.append(k, v);
      }
    }
    h.set(contractHeaders.dlqError, reason.replace(/[\r\n]+/g, ' ').slice(0, 1024));
    h.set(contractHeaders.dlqStream, this.stream);
    h.set(contractHeaders.dlqConsumer, this.durable);
    h.set(contractHeaders.dlqSubject, m.subject);
    h.set(contractHeaders.dlqSeq, String(m.seq));
    h.set(contractHeaders.dlqDeliveries, String(m.deliveryCount));
    if (d.index === undefined) return { subject: this.dlqSubject, data: m.data, headers: h, msgId: `dlq:${this.stream}:${this.durable}:${m.seq}` };
    h.set(contractHeaders.dlqFrameIndex, String(d.index));
    return { subject: this.dlqSubject, data: d.data ?? new Uint8Array(0), headers: h, msgId: `dlq:${this.stream}:${this.durable}:${m.seq}:${d.index}` };
  }

  /** Nak the batch in order (so it comes back first, in order), then wait before pulling again. */
  /** Waits for the batch pulled ahead, if any, and takes it out of the loop's hands ([] if its pull failed). */
  private async takeAhead(): Promise<ConsumedMessage[]> {
    const ahead = this.ahead;
    this.ahead = undefined;
    return ahead ? ahead.catch(() => []) : [];
  }

  private async retry(batch: ConsumedMessage[], delayMs: number | undefined, reason: string): Promise<void> {
    this.retryAttempt++;
    const delay = delayMs ?? backoffDelay(this.retryAttempt, this.backoff);
    this.emit({ type: 'retry', attempt: this.retryAttempt, delayMs: delay, reason, firstSeq: batch[0].seq });
    // The batch pulled ahead goes back too, after this one: nothing later is processed before it.
    const ahead = await this.takeAhead();
    if (ahead.length > 0) {
      const problem = this.tracker.accept(ahead);
      if (problem) {
        this.needsResync = true;
        this.resyncReason = problem;
      } else batch = batch.concat(ahead);
    }
    try {
      for (let i = 0; i < batch.length - 1; i++) this.nc.publish(batch[i].reply, NAK);
      // The last nak with a reply: once answered, every nak before it has been processed.
      await this.nc.request(batch[batch.length - 1].reply, NAK, { timeout: this.requestTimeoutMs });
      this.tracker.naked(batch.map((m) => m.seq));
    } catch (error) {
      // Not sure what the server recorded: start again from its ack floor.
      this.needsResync = true;
      this.resyncReason = `nak failed: ${(error as Error).message}`;
    }
    await sleepAbortable(delay, this.stopper.signal);
  }

  private async ack(m: ConsumedMessage): Promise<void> {
    try {
      await this.nc.request(m.reply, ACK, { timeout: this.requestTimeoutMs });
      if (m.seq > this.confirmedFloor) this.confirmedFloor = m.seq;
    } catch (error) {
      // Effects are committed; if the ack was lost the batch is redelivered later and fenced by the handler.
      this.emit({ type: 'error', error: error as Error, where: 'ack' });
      this.logger?.warn(`consumer ${this.stream}/${this.durable}: ack of seq ${m.seq} not confirmed: ${(error as Error).message}`);
    }
  }

  private working(batch: ConsumedMessage[]): void {
    try {
      for (const m of batch) this.nc.publish(m.reply, WPI);
    } catch {
      // disconnected: nothing to extend
    }
  }

  private watchConnection(): void {
    void (async () => {
      for await (const s of this.nc.status()) {
        if (this.stopping) break;
        if (s.type === 'reconnect') {
          // A restarted server may have an older consumer state: start again from what it says.
          if (!this.needsResync) {
            this.needsResync = true;
            this.resyncReason = 'reconnect';
          }
          this.active?.finish();
        }
      }
    })().catch(() => undefined);
  }
}

/**
 * Whether a consumer failing since `since` (every pull and API call; undefined: the last one worked) has
 * been unavailable long enough to be re-created (pure).
 */
export function unavailableFor(since: number | undefined, now: number, limitMs: number): boolean {
  return since !== undefined && now - since >= limitMs;
}
