import { Inject, Injectable, Logger, OnApplicationBootstrap, OnApplicationShutdown } from '@nestjs/common';
import type { Msg, Subscription } from '@nats-io/nats-core';
import { RpcReply, rpc } from '@tidemark/contracts';
import { JetStreamConnection } from '@tidemark/jetstream';
import { API_KEY_RING } from '@tidemark/config';
import type { ApiKeyRing } from '@tidemark/auth';
import { rpcDenied } from '@tidemark/runtime';
import { statusOf } from './query.controller';
import { QueryError, QueryService } from './query.service';

/**
 * NATS request-reply on `tidemark.metrics.query` (queue group `aggregation`). Request:
 *   {"op":"range","metric":"gmv","from":…,"to":…,"key":…,"limit":…}   (op defaults to range)
 *   {"op":"top","metric":"top_products","k":5} | {"op":"watermark"} | {"op":"definitions"}
 * Reply: {"status":200,"body":…} or {"status":400|404,"error":"…"}; a range body is {results, truncated}.
 */
@Injectable()
export class QueryRpc implements OnApplicationBootstrap, OnApplicationShutdown {
  private readonly logger = new Logger(QueryRpc.name);
  private sub?: Subscription;

  constructor(
    private readonly query: QueryService,
    private readonly connection: JetStreamConnection,
    @Inject(API_KEY_RING) private readonly ring: ApiKeyRing,
  ) {}

  onApplicationBootstrap(): void {
    this.sub = this.connection.nc.subscribe(rpc.metricsQuery, { queue: 'aggregation', callback: (err, msg) => (err ? this.logger.error(err) : void this.handle(msg)) });
  }

  async onApplicationShutdown(): Promise<void> {
    await this.sub?.drain().catch(() => undefined);
  }

  async answer(data: Uint8Array): Promise<RpcReply<unknown>> {
    let req: { op?: string; metric?: string; from?: number; to?: number; key?: string; limit?: number; k?: number };
    try {
      req = JSON.parse(Buffer.from(data).toString('utf8'));
      if (typeof req !== 'object' || req === null) throw new Error('not an object');
    } catch (e) {
      return { status: 400, error: `the request must be a JSON object: ${(e as Error).message}` };
    }
    try {
      switch (req.op ?? 'range') {
        case 'range':
          return { status: 200, body: await this.query.range(String(req.metric), req) };
        case 'top':
          return { status: 200, body: await this.query.top(String(req.metric), req.k ?? 10) };
        case 'watermark':
          return { status: 200, body: await this.query.watermark() };
        case 'definitions':
          return { status: 200, body: this.query.definitions() };
        default:
          return { status: 400, error: `unknown op "${req.op}": range, top, watermark or definitions` };
      }
    } catch (e) {
      if (e instanceof QueryError) return { status: statusOf(e.code), error: e.message };
      this.logger.error(e);
      return { status: 500, error: 'internal error' };
    }
  }

  private async handle(msg: Msg): Promise<void> {
    const reply = rpcDenied(this.ring, msg.headers, 'read') ?? (await this.answer(msg.data));
    if (msg.reply) msg.respond(Buffer.from(JSON.stringify(reply)));
  }
}
