import { Inject, Injectable, Logger, OnApplicationBootstrap, OnApplicationShutdown } from '@nestjs/common';
import * as net from 'node:net';
import { BodyRecord, Frame, LineFramer, frameToRecord } from '@tidemark/contracts';
import { API_KEY_RING, CONFIG, TidemarkConfig } from '@tidemark/config';
import type { ApiKeyRing } from '@tidemark/auth';
import { IngestService } from './ingest.service';
import { IngestError } from './ingest.errors';

/**
 * TCP NDJSON on INGESTION_TCP_PORT. One event per line; one reply line per non-blank input line, in order,
 * sent after JetStream acknowledged it:
 *   {"line":1,"status":"accepted"} | {"line":2,"status":"duplicate"} |
 *   {"line":3,"status":"rejected","error":"..."} | {"line":4,"status":"unavailable","error":"..."}
 * An over-long or broken line gets its error line and the connection goes on. Everything that arrived in
 * one read is validated and published as one batch; the socket is paused meanwhile (backpressure).
 * With API keys configured (docs/security.md) the first line must be `AUTH <key>` with the `ingest` scope,
 * answered `{"line":1,"status":"authenticated"}`; anything else gets one error line and the connection is
 * closed, nothing ingested.
 */
@Injectable()
export class TcpIngestServer implements OnApplicationBootstrap, OnApplicationShutdown {
  private readonly logger = new Logger(TcpIngestServer.name);
  private server?: net.Server;
  private readonly sockets = new Set<net.Socket>();

  constructor(
    private readonly ingest: IngestService,
    @Inject(CONFIG) private readonly config: TidemarkConfig,
    @Inject(API_KEY_RING) private readonly ring: ApiKeyRing,
  ) {}

  async onApplicationBootstrap(): Promise<void> {
    this.server = net.createServer((socket) => this.handle(socket));
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
    this.sockets.add(socket);
    const framer = new LineFramer(this.config.maxLineBytes);
    let queue: Promise<void> = Promise.resolve();
    let authed = !this.ring.enabled;
    let refused = false;
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
      queue = queue.then(() => this.process(socket, frames)).finally(() => {
        if (!socket.destroyed) socket.resume();
      });
    };
    socket.on('data', (chunk: Buffer) => enqueue(framer.push(chunk)));
    socket.on('end', () => {
      enqueue(framer.end());
      queue.finally(() => socket.end());
    });
    socket.on('error', (e) => this.logger.debug(`TCP client error: ${e.message}`));
    socket.on('close', () => this.sockets.delete(socket));
  }

  private async process(socket: net.Socket, frames: Frame[]): Promise<void> {
    const records: BodyRecord[] = frames.map(frameToRecord);
    const lines = frames.map((f) => f.line);
    let out: string;
    try {
      const { statuses } = await this.ingest.ingest(records, 'tcp', Date.now(), true);
      out = statuses.map((r, i) => JSON.stringify({ line: lines[i], ...r })).join('\n') + '\n';
    } catch (e) {
      const error = e instanceof IngestError ? e.message : 'internal error';
      out = lines.map((line) => JSON.stringify({ line, status: 'unavailable', error })).join('\n') + '\n';
    }
    if (!socket.destroyed) socket.write(out);
  }
}
