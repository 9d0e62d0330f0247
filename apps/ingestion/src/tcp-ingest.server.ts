import { Inject, Injectable, Logger, OnApplicationBootstrap, OnApplicationShutdown } from '@nestjs/common';
import * as net from 'node:net';
import { BodyRecord, Frame, LineFramer, frameToRecord } from '@tidemark/contracts';
import { API_KEY_RING, CONFIG, TidemarkConfig } from '@tidemark/config';
import type { ApiKeyRing } from '@tidemark/auth';
import { MetricsRegistry } from '@tidemark/observability';
import { IngestService } from './ingest.service';
import { IngestError } from './ingest.errors';
import { ConnectionLimiter } from './connection-limits';

/**
 * TCP NDJSON on INGESTION_TCP_PORT. One event per line; one reply line per non-blank input line, in order,
 * sent after JetStream acknowledged it:
 *   {"line":1,"status":"accepted"} | {"line":2,"status":"duplicate"} |
 *   {"line":3,"status":"rejected","error":"..."} | {"line":4,"status":"unavailable","error":"..."}
 * An over-long or broken line gets its error line and the connection goes on. Everything that arrived in
 * one read is validated and published as one batch (or several of at most INGESTION_MAX_BATCH_EVENTS); the
 * socket is paused meanwhile.
 *
 * Limits (docs/settings.md "Limits"): reading stops while the unsent replies are over INGESTION_TCP_MAX_REPLY_BUFFER_BYTES
 * (a client that never reads its replies cannot grow our memory; it is closed by the idle timeout);
 * INGESTION_TCP_IDLE_TIMEOUT_MS without traffic closes a connection; INGESTION_TCP_MAX_CONNECTIONS in total and
 * INGESTION_TCP_MAX_CONNECTIONS_PER_PEER per peer address (a refused client gets one `{"error":…}` line).
 * Half-close: a client may end its sending side (shutdown(SHUT_WR), `nc -N`) and still gets every reply; the
 * connection ends after the last one is written.
 * With API keys configured (docs/security.md) the first line must be `AUTH <key>` with the `ingest` scope,
 * answered `{"line":1,"status":"authenticated"}`; anything else gets one error line and the connection is
 * closed, nothing ingested.
 */
@Injectable()
export class TcpIngestServer implements OnApplicationBootstrap, OnApplicationShutdown {
  private readonly logger = new Logger(TcpIngestServer.name);
  private server?: net.Server;
  private readonly sockets = new Set<net.Socket>();
  private readonly limiter: ConnectionLimiter;
  private readonly refused;
  private readonly paused;
  private readonly idleClosed;
  private readonly connections;

  constructor(
    private readonly ingest: IngestService,
    @Inject(CONFIG) private readonly config: TidemarkConfig,
    @Inject(API_KEY_RING) private readonly ring: ApiKeyRing,
    metrics: MetricsRegistry,
  ) {
    this.limiter = new ConnectionLimiter(config.tcp);
    this.refused = metrics.counter('tidemark_tcp_refused_total', 'TCP connections refused by a connection cap');
    this.paused = metrics.counter('tidemark_tcp_backpressure_total', 'Times a TCP connection stopped being read because its unsent replies were over the cap');
    this.idleClosed = metrics.counter('tidemark_tcp_idle_closed_total', 'TCP connections closed by the idle timeout');
    this.connections = metrics.gauge('tidemark_tcp_connections', 'Open TCP ingest connections');
  }

  async onApplicationBootstrap(): Promise<void> {
    this.server = net.createServer({ allowHalfOpen: true }, (socket) => this.handle(socket));
    await new Promise<void>((resolve, reject) => {
      this.server!.once('error', reject);
      this.server!.listen(this.config.ports.ingestionTcp, this.config.host, () => resolve());
    });
    this.logger.log(`TCP NDJSON listening on ${this.config.host}:${this.port}`);
  }

  get port(): number {
    return (this.server?.address() as net.AddressInfo | null)?.port ?? this.config.ports.ingestionTcp;
  }

  async onApplicationShutdown(): Promise<void> {
    for (const s of this.sockets) s.end();
    await new Promise<void>((resolve) => (this.server ? this.server.close(() => resolve()) : resolve()));
  }

  private handle(socket: net.Socket): void {
    const peer = socket.remoteAddress ?? 'unknown';
    const admission = this.limiter.admit(peer);
    if (!admission.ok) {
      this.refused.inc();
      socket.on('error', () => undefined);
      socket.end(JSON.stringify({ error: admission.reason }) + '\n');
      socket.setTimeout(1000, () => socket.destroy());
      return;
    }
    this.sockets.add(socket);
    this.connections.set(this.limiter.connections);
    const framer = new LineFramer(this.config.maxLineBytes);
    const { maxReplyBufferBytes, idleTimeoutMs } = this.config.tcp;
    let queue: Promise<void> = Promise.resolve();
    let authed = !this.ring.enabled;
    let refused = false;
    let busy = 0;
    const enqueue = (frames: Frame[]) => {
      if (refused) return;
      if (!authed && frames.length > 0) {
        const first = frames[0];
        const secret = first.kind === 'line' ? /^AUTH (\S+)$/.exec(first.text.trim())?.[1] : undefined;
        const d = this.ring.authorize(secret, 'ingest');
        if (!d.ok) {
          refused = true;
          const status = secret === undefined ? 'unauthorized' : d.status === 401 ? 'unauthorized' : 'forbidden';
          const why = secret === undefined ? 'the first line must be AUTH <key> (a key with the ingest scope)' : d.reason;
          socket.end(JSON.stringify({ line: first.line, status, error: why }) + '\n');
          return;
        }
        authed = true;
        queue = queue.then(() => void (socket.destroyed || socket.write(JSON.stringify({ line: first.line, status: 'authenticated' }) + '\n')));
        frames = frames.slice(1);
      }
      if (frames.length === 0) return;
      socket.pause();
      busy++;
      queue = queue
        .then(() => this.process(socket, frames))
        .then(() => this.drained(socket, maxReplyBufferBytes))
        .finally(() => {
          busy--;
          if (!socket.destroyed) socket.resume();
        });
    };
    socket.setTimeout(idleTimeoutMs, () => {
      // Waiting for JetStream is not idleness; a client that does not read its replies is (nothing moves).
      if (busy > 0 && socket.writableLength <= maxReplyBufferBytes) return;
      this.idleClosed.inc();
      socket.destroy();
    });
    socket.on('data', (chunk: Buffer) => enqueue(framer.push(chunk)));
    socket.on('end', () => {
      // The client ended its sending side: answer what is left, then end ours once every reply is written.
      enqueue(framer.end());
      void queue.finally(() => {
        if (!socket.destroyed) socket.end();
      });
    });
    socket.on('error', (e) => this.logger.debug(`TCP client error: ${e.message}`));
    socket.on('close', () => {
      this.sockets.delete(socket);
      this.limiter.release(peer);
      this.connections.set(this.limiter.connections);
    });
  }

  /** Resolves once the unsent replies are within the cap (at once when they are), or the socket is gone. */
  private drained(socket: net.Socket, cap: number): Promise<void> {
    if (socket.destroyed || socket.writableLength <= cap) return Promise.resolve();
    this.paused.inc();
    return new Promise((resolve) => {
      const done = () => {
        socket.off('drain', done);
        socket.off('close', done);
        resolve();
      };
      socket.on('drain', done);
      socket.on('close', done);
    });
  }

  private async process(socket: net.Socket, frames: Frame[]): Promise<void> {
    const max = this.config.maxBatchEvents;
    for (let i = 0; i < frames.length && !socket.destroyed; i += max) {
      const slice = frames.slice(i, i + max);
      const records: BodyRecord[] = slice.map(frameToRecord);
      const lines = slice.map((f) => f.line);
      let out: string;
      try {
        const { statuses } = await this.ingest.ingest(records, 'tcp', Date.now(), true);
        out = statuses.map((r, j) => JSON.stringify({ line: lines[j], ...r })).join('\n') + '\n';
      } catch (e) {
        const error = e instanceof IngestError ? e.message : 'internal error';
        if (!(e instanceof IngestError)) this.logger.error(e);
        out = lines.map((line) => JSON.stringify({ line, status: 'unavailable', error })).join('\n') + '\n';
      }
      if (!socket.destroyed) socket.write(out);
    }
  }
}
