import { Inject, Injectable, Logger, OnApplicationBootstrap, OnApplicationShutdown } from '@nestjs/common';
import type { Msg, Subscription } from '@nats-io/nats-core';
import { JetStreamConnection } from '@tidemark/jetstream';
import { BodyError, IngestReply, RpcReply, acceptTraceparent, parseBody, rpc } from '@tidemark/contracts';
import { API_KEY_RING, CONFIG, TidemarkConfig } from '@tidemark/config';
import type { ApiKeyRing } from '@tidemark/auth';
import { Problem, rpcDenied, rpcProblem } from '@tidemark/runtime';
import { IngestService, nothingValid } from './ingest.service';
import { IngestError, NOTHING_VALID, statusOf } from './ingest.errors';

/**
 * NATS request-reply on `tidemark.ingest` (queue group `ingestion`): the request body is what
 * `POST /v1/events` takes (a JSON object, an array, or NDJSON); the reply is `{status: 202, body}`, or the
 * problem the HTTP API would have answered (docs/platform.md "Errors"; its `status` is the HTTP status).
 */
@Injectable()
export class IngestRpc implements OnApplicationBootstrap, OnApplicationShutdown {
  private readonly logger = new Logger(IngestRpc.name);
  private sub?: Subscription;

  constructor(
    private readonly ingest: IngestService,
    private readonly connection: JetStreamConnection,
    @Inject(CONFIG) private readonly config: TidemarkConfig,
    @Inject(API_KEY_RING) private readonly ring: ApiKeyRing,
  ) {}

  onApplicationBootstrap(): void {
    this.sub = this.connection.nc.subscribe(rpc.ingest, { queue: 'ingestion', callback: (err, msg) => (err ? this.logger.error(err) : void this.handle(msg)) });
  }

  async onApplicationShutdown(): Promise<void> {
    await this.sub?.drain().catch(() => undefined);
  }

  async answer(data: Uint8Array, contentType: string | undefined, traceparent?: string): Promise<RpcReply<IngestReply> | Problem> {
    const empty = { accepted: 0, duplicates: 0, rejected: [] };
    try {
      if (data.byteLength > this.config.maxBodyBytes) return rpcProblem(413, `request of ${data.byteLength} bytes is over the limit`, empty);
      const records = parseBody(Buffer.from(data.buffer, data.byteOffset, data.byteLength), contentType, this.config.maxLineBytes);
      if (records.length === 0) return rpcProblem(400, 'the request has no events', empty);
      const { reply } = await this.ingest.ingest(records, 'nats', undefined, false, acceptTraceparent(traceparent));
      // `body` stays beside the problem members: NATS clients read the counters there, as before.
      return nothingValid(reply) ? { ...rpcProblem(400, NOTHING_VALID, { ...reply }), body: reply } : { status: 202, body: reply };
    } catch (e) {
      if (e instanceof BodyError) return rpcProblem(400, e.message, empty);
      if (e instanceof IngestError) return rpcProblem(statusOf(e.code), e.message, empty);
      this.logger.error(e);
      return rpcProblem(500, 'internal error');
    }
  }

  private async handle(msg: Msg): Promise<void> {
    const reply = rpcDenied(this.ring, msg.headers, 'ingest') ?? (await this.answer(msg.data, msg.headers?.get('Content-Type') || undefined, msg.headers?.get('traceparent') || undefined));
    if (msg.reply) msg.respond(Buffer.from(JSON.stringify(reply)));
  }
}
