/**
 * The NestJS transport: a thin `CustomTransportStrategy` over PartitionConsumer. Each configured consumer
 * (one per stream × partition) is bound to the `@EventPattern` handler whose pattern matches its filter
 * subject (NATS wildcards), e.g. `@EventPattern('events.raw.*')` for every raw partition. The handler gets
 * the whole batch and a JetStreamContext, and returns a BatchOutcome (or nothing = ack).
 */
import { Server, BaseRpcContext, EventPattern, type CustomTransportStrategy, type MessageHandler } from '@nestjs/microservices';
import { isObservable, lastValueFrom } from 'rxjs';
import type { NatsConnection } from '@nats-io/nats-core';
import type { StreamSpec } from '@tidemark/contracts';
import { connectNats, JetStreamConnection, type NatsStatusEvent } from './connection';
import type { ConsumedMessage } from './message';
import { subjectMatches } from './message';
import { isBatchOutcome, type BatchOutcome } from './outcome';
import { PartitionConsumer, type BatchContext, type ConsumerEvent, type PartitionConsumerOptions } from './partition-consumer';
import { JetStreamPublisher } from './publisher';
import { ensureStreams } from './streams';

/**
 * `@EventPattern(pattern)` for batch handlers. Same metadata as Nest's decorator, typed as a plain
 * MethodDecorator so `handle(batch: ConsumedMessage[], ctx: JetStreamContext)` type-checks (Nest 12's typed
 * overload of `@EventPattern('...')` wants the extra parameters as `unknown`).
 */
export function BatchPattern(pattern: string): MethodDecorator {
  return EventPattern<string>(pattern);
}

/** The RPC context a JetStream batch handler receives (`@Ctx() ctx: JetStreamContext`). */
export class JetStreamContext extends BaseRpcContext<[BatchContext]> {
  constructor(batch: BatchContext) {
    super([batch]);
  }
  get batch(): BatchContext {
    return this.args[0];
  }
  getStream(): string {
    return this.args[0].stream;
  }
  getDurable(): string {
    return this.args[0].durable;
  }
  getPartition(): number | undefined {
    return this.args[0].partition;
  }
  getAttempt(): number {
    return this.args[0].attempt;
  }
}

/** One consumer of the transport: PartitionConsumer options minus the handler, plus the pattern to bind. */
export interface JetStreamConsumerBinding extends Omit<PartitionConsumerOptions, 'handler' | 'publisher' | 'logger'> {
  /** The `@EventPattern` to call; default: the registered pattern that matches `filterSubject`. */
  pattern?: string;
}

/** One binding per partition: `partitionConsumers({ stream: streams.raw, durable: durables.dedup, subject: subjects.raw, partitions: [0, 1] })`. */
export function partitionConsumers(options: {
  stream: StreamSpec | string;
  durable: (partition: number) => string;
  subject: (partition: number) => string;
  partitions: readonly number[];
  pattern?: string;
} & Omit<JetStreamConsumerBinding, 'stream' | 'durable' | 'filterSubject' | 'pattern'>): JetStreamConsumerBinding[] {
  const { stream, durable, subject, partitions, ...rest } = options;
  const name = typeof stream === 'string' ? stream : stream.name;
  return partitions.map((p) => ({ ...rest, stream: name, durable: durable(p), filterSubject: subject(p) }));
}

export interface JetStreamServerOptions {
  /** NATS URL(s); ignored when `connection` is given. */
  servers?: string | string[];
  /** Share an existing connection (not closed by the server). */
  connection?: JetStreamConnection;
  /** Client name for a connection of its own. */
  name?: string;
  /** Streams provisioned (idempotently) before consuming, e.g. `ALL_STREAMS`. */
  streams?: readonly StreamSpec[];
  consumers: readonly JetStreamConsumerBinding[];
  /** Receives every consumer event (batches, retries, dead letters, resyncs, errors), e.g. for metrics. */
  onEvent?: (event: ConsumerEvent, consumer: PartitionConsumer) => void;
  /** Runs first in `close`, while the consumers and the connection still work (e.g. give partitions back). */
  beforeClose?: () => Promise<void> | void;
}

export type JetStreamServerStatus = 'connected' | 'reconnecting' | 'disconnected';

export class JetStreamServer extends Server<Record<string, Function>, JetStreamServerStatus> implements CustomTransportStrategy {
  override readonly propagatesEventHandlerErrors = true;
  private connection: JetStreamConnection | undefined;
  private ownConnection = false;
  private publisher: JetStreamPublisher | undefined;
  private readonly running: PartitionConsumer[] = [];
  private readonly statusListeners: ((event: NatsStatusEvent) => void)[] = [];

  constructor(private readonly options: JetStreamServerOptions) {
    super();
  }

  /** The consumers, once listening (for health and metrics: `serverLag()`, `processed`, `isRunning`). */
  get consumers(): readonly PartitionConsumer[] {
    return this.running;
  }

  async listen(callback: (error?: unknown, ...info: unknown[]) => void): Promise<void> {
    try {
      await this.start();
      callback();
    } catch (error) {
      await this.close().catch(() => undefined);
      callback(error);
    }
  }

  async close(): Promise<void> {
    await Promise.resolve(this.options.beforeClose?.()).catch((e) => this.logger.warn(`before close: ${(e as Error).message}`));
    await Promise.all(this.running.splice(0).map((c) => c.close()));
    await this.publisher?.close();
    this.publisher = undefined;
    if (this.ownConnection) await this.connection?.drain();
    this.connection = undefined;
    this._status$.next('disconnected');
  }

  /** Listens to connection state changes: `on('status', (e: NatsStatusEvent) => ...)`. */
  on(event: string, callback: Function): void {
    if (event !== 'status') throw new Error(`JetStreamServer: unknown event "${event}" (only "status")`);
    const listener = callback as (event: NatsStatusEvent) => void;
    this.statusListeners.push(listener);
    this.connection?.onStatus(listener);
  }

  /** The underlying nats.js connection. */
  unwrap<T = NatsConnection>(): T {
    if (!this.connection) throw new Error('JetStreamServer is not listening: no connection to unwrap');
    return this.connection.nc as T;
  }

  private async start(): Promise<void> {
    const o = this.options;
    if (o.connection) this.connection = o.connection;
    else {
      if (!o.servers) throw new Error('JetStreamServer needs `servers` or `connection`');
      this.connection = await connectNats({ servers: o.servers, name: o.name });
      this.ownConnection = true;
    }
    const conn = this.connection;
    this._status$.next('connected');
    conn.onStatus((e) => this._status$.next(e.state === 'closed' ? 'disconnected' : e.state));
    for (const l of this.statusListeners) conn.onStatus(l);
    if (o.streams?.length) await ensureStreams(await conn.jsm(), o.streams);
    this.publisher = new JetStreamPublisher(conn);
    const bindings = o.consumers.map((b) => ({ binding: b, pattern: this.patternFor(b) }));
    for (const { binding, pattern } of bindings) await this.startConsumer(binding, pattern);
  }

  /**
   * Starts consuming one more binding at runtime (a partition this instance just took). Idempotent by durable
   * and filter subject.
   */
  async addConsumer(binding: JetStreamConsumerBinding): Promise<PartitionConsumer> {
    if (!this.connection) throw new Error('JetStreamServer is not listening');
    const existing = this.running.find((c) => c.durable === binding.durable && c.filterSubject === binding.filterSubject);
    if (existing) return existing;
    return this.startConsumer(binding, this.patternFor(binding));
  }

  /**
   * Stops consuming a binding at runtime (a partition moving to another instance): no more pulls, the batch in
   * hand finishes (its handler returns; `hold`s stay unacknowledged), a batch pulled ahead is abandoned
   * unacknowledged. What is not acked is delivered again to the next consumer of the durable (it re-creates
   * the consumer at its ack floor on start: partition-consumer.ts `resync`). Resolves when nothing is in flight.
   */
  async removeConsumer(durable: string, filterSubject?: string): Promise<void> {
    const i = this.running.findIndex((c) => c.durable === durable && (filterSubject === undefined || c.filterSubject === filterSubject));
    if (i < 0) return;
    const [consumer] = this.running.splice(i, 1);
    await consumer.close();
  }

  private async startConsumer(binding: JetStreamConsumerBinding, pattern: string): Promise<PartitionConsumer> {
    const o = this.options;
    // Looked up once: Nest's lookup parses the pattern as JSON first, and a subject pattern throws there — it
    // would be an exception a batch.
    const handler = this.getHandlerByPattern(pattern);
    if (!handler) throw new Error(`no handler for pattern ${pattern}`);
    const consumer: PartitionConsumer = new PartitionConsumer(this.connection!, {
      ...binding,
      publisher: this.publisher,
      logger: this.logger,
      handler: (messages, context) => this.invoke(pattern, handler, messages, context),
      onEvent: o.onEvent ? (event) => o.onEvent!(event, consumer) : undefined,
    });
    await consumer.start();
    this.running.push(consumer);
    return consumer;
  }

  private patternFor(binding: JetStreamConsumerBinding): string {
    const registered = [...this.getHandlers().keys()];
    if (binding.pattern !== undefined) {
      if (!this.getHandlerByPattern(binding.pattern)) {
        throw new Error(`JetStreamServer: no @EventPattern('${binding.pattern}') handler for consumer ${binding.stream}/${binding.durable} (registered: ${registered.join(', ') || 'none'})`);
      }
      return binding.pattern;
    }
    const subject = binding.filterSubject;
    const matches = subject ? registered.filter((p) => p === subject || subjectMatches(p, subject)) : [];
    if (matches.length === 0) {
      throw new Error(`JetStreamServer: no handler pattern matches ${binding.stream}/${binding.durable} (filter "${subject ?? ''}"; registered: ${registered.join(', ') || 'none'})`);
    }
    // The most specific: an exact match first, then the longest pattern.
    matches.sort((a, b) => (a === subject ? -1 : b === subject ? 1 : b.length - a.length));
    return matches[0];
  }

  private async invoke(pattern: string, handler: MessageHandler, messages: ConsumedMessage[], context: BatchContext): Promise<BatchOutcome | void> {
    let result: unknown;
    try {
      result = await handler(messages, new JetStreamContext(context));
      if (isObservable(result)) result = await lastValueFrom(result, { defaultValue: undefined });
    } catch (error) {
      // Nest's exception layer turns errors into `{ status: 'error', message }`.
      if (error instanceof Error) throw error;
      const message = (error as { message?: unknown })?.message;
      throw new Error(typeof message === 'string' ? message : JSON.stringify(error));
    }
    if (result === undefined || result === null) return undefined;
    if (isBatchOutcome(result)) return result;
    throw new Error(`handler for ${pattern} returned ${JSON.stringify(result)}; expected a BatchOutcome ({ kind: 'ack' | 'retry' | 'deadLetter' }) or nothing`);
  }
}
