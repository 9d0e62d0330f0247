/**
 * A `ClientProxy` whose `emit(subject, data)` publishes into JetStream through JetStreamPublisher and
 * completes with the PubAck. Request-response (`send`) is not offered: JetStream is not RPC.
 */
import { ClientProxy, type ReadPacket, type WritePacket } from '@nestjs/microservices';
import type { MsgHdrs, NatsConnection } from '@nats-io/nats-core';
import { connectNats, JetStreamConnection, type NatsStatusEvent } from './connection';
import { JetStreamPublisher, type JetStreamPublisherOptions, type PublishResult } from './publisher';

/** Payload plus publish options: `client.emit('events.raw.3', new JetStreamRecord(buf, { msgId }))`. */
export class JetStreamRecord {
  constructor(
    readonly data: Uint8Array,
    readonly options: { msgId?: string; headers?: Record<string, string> | MsgHdrs } = {},
  ) {}
}

export interface JetStreamClientOptions {
  servers?: string | string[];
  /** Share an existing connection (not closed by the client). */
  connection?: JetStreamConnection;
  name?: string;
  publisher?: JetStreamPublisherOptions;
}

export class JetStreamClientProxy extends ClientProxy<Record<never, Function>, 'connected' | 'reconnecting' | 'disconnected'> {
  private connection: JetStreamConnection | undefined;
  private publisher: JetStreamPublisher | undefined;
  private connecting: Promise<JetStreamPublisher> | undefined;
  private ownConnection = false;
  private readonly listeners: ((e: NatsStatusEvent) => void)[] = [];

  constructor(private readonly options: JetStreamClientOptions) {
    super();
  }

  async connect(): Promise<JetStreamPublisher> {
    if (this.publisher) return this.publisher;
    this.connecting ??= (async () => {
      if (this.options.connection) this.connection = this.options.connection;
      else {
        if (!this.options.servers) throw new Error('JetStreamClientProxy needs `servers` or `connection`');
        this.connection = await connectNats({ servers: this.options.servers, name: this.options.name });
        this.ownConnection = true;
      }
      this.connection.onStatus((e) => this._status$.next(e.state === 'closed' ? 'disconnected' : e.state));
      for (const l of this.listeners) this.connection.onStatus(l);
      this._status$.next('connected');
      this.publisher = new JetStreamPublisher(this.connection, this.options.publisher);
      return this.publisher;
    })().finally(() => {
      this.connecting = undefined;
    });
    return this.connecting;
  }

  async close(): Promise<void> {
    await this.publisher?.close();
    this.publisher = undefined;
    if (this.ownConnection) await this.connection?.drain();
    this.connection = undefined;
    this._status$.next('disconnected');
  }

  override on(event: never, callback: never): void {
    if ((event as string) !== 'status') throw new Error(`JetStreamClientProxy: unknown event "${String(event)}" (only "status")`);
    const l = callback as unknown as (e: NatsStatusEvent) => void;
    this.listeners.push(l);
    this.connection?.onStatus(l);
  }

  unwrap<T = NatsConnection>(): T {
    if (!this.connection) throw new Error('JetStreamClientProxy is not connected');
    return this.connection.nc as T;
  }

  protected async dispatchEvent<T = PublishResult>(packet: ReadPacket): Promise<T> {
    const publisher = await this.connect();
    const subject = this.normalizePattern(packet.pattern);
    const { data, options } = toRecord(packet.data);
    return (await publisher.publish(subject, data, options)) as T;
  }

  protected publish(packet: ReadPacket, callback: (packet: WritePacket) => void): () => void {
    callback({ err: new Error(`JetStreamClientProxy does not do request-response ("${this.normalizePattern(packet.pattern)}"); use emit()`), isDisposed: true });
    return () => undefined;
  }
}

function toRecord(value: unknown): JetStreamRecord {
  if (value instanceof JetStreamRecord) return value;
  if (value instanceof Uint8Array) return new JetStreamRecord(value);
  if (typeof value === 'string') return new JetStreamRecord(Buffer.from(value, 'utf8'));
  return new JetStreamRecord(Buffer.from(JSON.stringify(value ?? null), 'utf8'));
}
