/**
 * The NATS connection every Tidemark service uses: fail fast on the first connect (a clear error naming the
 * URL), then reconnect forever with a growing delay; status changes exposed for health checks.
 */
import * as fs from 'node:fs';
import { connect } from '@nats-io/transport-node';
import { credsAuthenticator, nkeyAuthenticator, type ConnectionOptions, type NatsConnection } from '@nats-io/nats-core';
import { jetstreamManager, type JetStreamManager } from '@nats-io/jetstream';
import { redactUrl, type NatsSecurity } from '@tidemark/config';

export type NatsConnectionState = 'connected' | 'reconnecting' | 'closed';

export interface NatsStatusEvent {
  state: NatsConnectionState;
  /** The nats.js status type behind it (`disconnect`, `reconnecting`, `reconnect`, `close`, ...). */
  cause: string;
  server?: string;
}

export interface ConnectNatsOptions {
  /** One URL or several, e.g. `nats://127.0.0.1:4222`. */
  servers: string | string[];
  /** Client name shown by the server's monitoring (e.g. `tidemark-dedup`). */
  name?: string;
  /** First-connect timeout (default 5000 ms). */
  timeoutMs?: number;
  /** Reconnect delay bounds: starts at `min`, grows with the outage, capped at `max` (defaults 100 / 2000 ms). */
  reconnectDelayMs?: { min: number; max: number };
  /** Called on every state change (also available as `onStatus`). */
  onStatus?: (event: NatsStatusEvent) => void;
  /** Credentials and TLS files (config `nats`, docs/security.md "Transport"). */
  security?: NatsSecurity;
  /** Any other nats.js option (wins over ours, except `servers` and `noAsyncTraces`). */
  natsOptions?: Partial<ConnectionOptions>;
}

/**
 * nats.js options for a service's credentials and TLS: user/password, token, an nkey seed file or a creds
 * file (read here, once per connect), and the CA / client certificate files.
 */
export function natsSecurityOptions(security: NatsSecurity | undefined): Partial<ConnectionOptions> {
  if (!security) return {};
  const out: Partial<ConnectionOptions> = {};
  const auth = security.auth;
  switch (auth.kind) {
    case 'userPassword':
      out.user = auth.user;
      out.pass = auth.password;
      break;
    case 'token':
      out.token = auth.token;
      break;
    case 'nkey':
      out.authenticator = nkeyAuthenticator(new TextEncoder().encode(fs.readFileSync(auth.seedFile, 'utf8').trim()));
      break;
    case 'creds':
      out.authenticator = credsAuthenticator(new Uint8Array(fs.readFileSync(auth.credsFile)));
      break;
    case 'none':
      break;
  }
  if (security.tls) out.tls = { ...security.tls };
  return out;
}

export class NatsConnectError extends Error {
  constructor(
    readonly servers: string,
    cause: unknown,
  ) {
    super(`could not connect to NATS at ${servers.split(',').map(redactUrl).join(',')}: ${(cause as Error)?.message ?? String(cause)}`, { cause });
    this.name = 'NatsConnectError';
  }
}

/**
 * A connected NATS client plus its state. `nc` is the nats.js connection; `jsm()` a cached JetStreamManager.
 */
export class JetStreamConnection {
  private stateValue: NatsConnectionState = 'connected';
  private readonly listeners = new Set<(event: NatsStatusEvent) => void>();
  private jsmPromise: Promise<JetStreamManager> | undefined;
  private disconnectedAt = 0;

  private constructor(
    readonly nc: NatsConnection,
    readonly servers: string,
  ) {}

  /** Connects (rejects with `NatsConnectError` if the first attempt fails), then reconnects forever. */
  static async connect(options: ConnectNatsOptions): Promise<JetStreamConnection> {
    const servers = Array.isArray(options.servers) ? options.servers.join(',') : options.servers;
    const delay = options.reconnectDelayMs ?? { min: 100, max: 2000 };
    let self: JetStreamConnection | undefined;
    let nc: NatsConnection;
    try {
      nc = await connect({
        name: options.name,
        timeout: options.timeoutMs ?? 5000,
        reconnect: true,
        maxReconnectAttempts: -1,
        waitOnFirstConnect: false,
        reconnectJitter: 0,
        // Grows with the length of the outage: min, then about half the time since the disconnect, up to max.
        reconnectDelayHandler: () => {
          const since = self && self.disconnectedAt ? Date.now() - self.disconnectedAt : 0;
          return Math.min(delay.max, Math.max(delay.min, Math.floor(since / 2)));
        },
        pingInterval: 10_000,
        maxPingOut: 3,
        ...natsSecurityOptions(options.security),
        ...options.natsOptions,
        servers: options.servers,
        noAsyncTraces: true,
      });
    } catch (error) {
      throw new NatsConnectError(servers, error);
    }
    self = new JetStreamConnection(nc, servers.split(',').map(redactUrl).join(','));
    if (options.onStatus) self.onStatus(options.onStatus);
    self.watch();
    return self;
  }

  get state(): NatsConnectionState {
    return this.stateValue;
  }

  get isConnected(): boolean {
    return this.stateValue === 'connected';
  }

  /** Registers a listener for state changes; returns a function that removes it. */
  onStatus(listener: (event: NatsStatusEvent) => void): () => void {
    this.listeners.add(listener);
    return () => this.listeners.delete(listener);
  }

  /** A JetStreamManager on this connection (created once). */
  jsm(): Promise<JetStreamManager> {
    if (!this.jsmPromise) {
      this.jsmPromise = jetstreamManager(this.nc).catch((e) => {
        this.jsmPromise = undefined;
        throw e;
      });
    }
    return this.jsmPromise;
  }

  /** Throws unless connected and JetStream answers (for readiness checks). */
  async checkJetStream(): Promise<void> {
    if (!this.isConnected) throw new Error(`NATS at ${this.servers} is ${this.stateValue}`);
    const jsm = await this.jsm();
    await jsm.getAccountInfo();
  }

  /** Drains (flushes what is buffered, lets subscriptions finish) and closes. Idempotent. */
  async drain(): Promise<void> {
    if (this.nc.isClosed()) return;
    if (this.nc.isDraining()) {
      await this.nc.closed();
      return;
    }
    await this.nc.drain().catch(() => this.nc.close());
  }

  /** Closes at once. Idempotent. */
  async close(): Promise<void> {
    if (!this.nc.isClosed()) await this.nc.close();
  }

  private emit(state: NatsConnectionState, cause: string, server?: string): void {
    if (state === 'reconnecting' && this.stateValue !== 'reconnecting') this.disconnectedAt = Date.now();
    if (state === 'connected') this.disconnectedAt = 0;
    const changed = state !== this.stateValue;
    this.stateValue = state;
    if (!changed) return;
    for (const l of this.listeners) {
      try {
        l({ state, cause, server });
      } catch {
        // a listener's failure is its own
      }
    }
  }

  private watch(): void {
    void (async () => {
      for await (const s of this.nc.status()) {
        switch (s.type) {
          case 'disconnect':
          case 'reconnecting':
          case 'staleConnection':
            this.emit('reconnecting', s.type, 'server' in s ? s.server : undefined);
            break;
          case 'reconnect':
            this.emit('connected', s.type, s.server);
            break;
          case 'close':
            this.emit('closed', s.type);
            break;
          default:
            break;
        }
      }
    })().catch(() => undefined);
    void this.nc.closed().then(() => this.emit('closed', 'close'));
  }
}

/** Shorthand for `JetStreamConnection.connect(options)`. */
export function connectNats(options: ConnectNatsOptions): Promise<JetStreamConnection> {
  return JetStreamConnection.connect(options);
}
