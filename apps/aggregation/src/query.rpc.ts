import { Inject, Injectable, Logger, OnApplicationBootstrap, OnApplicationShutdown } from '@nestjs/common';
import type { Msg, Subscription } from '@nats-io/nats-core';
import { RpcReply, rpc } from '@tidemark/contracts';
import { JetStreamConnection } from '@tidemark/jetstream';
import { API_KEY_RING } from '@tidemark/config';
import type { ApiKeyRing } from '@tidemark/auth';
import { Problem, rpcDenied, rpcProblem } from '@tidemark/runtime';
import { statusOf } from './query.controller';
import { QueryError, QueryErrorCode, QueryService, RangeQuery } from './query.service';
import { pagedRange } from './paged-range';

/**
 * NATS request-reply on `tidemark.metrics.query` (queue group `aggregation`). Request:
 *   {"op":"range","metric":"gmv","from":…,"to":…,"key":…,"limit":…,"cursor":…}   (op defaults to range)
 *   {"op":"top","metric":"top_products","k":5} | {"op":"watermark"} | {"op":"definitions"}
 * Reply: {"status":200,"body":…} or the problem HTTP would answer (docs/platform.md "Errors"); a range body is {results, truncated, nextCursor?}
 * (pass nextCursor as cursor for the next page: docs/metrics.md "Paging through a range").
 */
/** The range parameters of a NATS request, checked like the HTTP query's (a 400 naming the field, never a 500). */
export function rangeQueryOf(req: Record<string, unknown>): RangeQuery {
  const time = (name: 'from' | 'to'): number | undefined => {
    const v = req[name];
    if (v === undefined || v === null) return undefined;
    if (typeof v !== 'number' || !Number.isSafeInteger(v)) throw new QueryError(QueryErrorCode.BadParameter, `${name} must be epoch milliseconds (an integer)`);
    return v;
  };
  const key = req.key;
  if (key !== undefined && key !== null && typeof key !== 'string') throw new QueryError(QueryErrorCode.BadParameter, 'key must be a string');
  const limit = req.limit;
  if (limit !== undefined && limit !== null && typeof limit !== 'number') throw new QueryError(QueryErrorCode.BadParameter, 'limit must be a number');
  return { from: time('from'), to: time('to'), key: (key ?? undefined) as string | undefined, limit: (limit ?? undefined) as number | undefined };
}

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

  async answer(data: Uint8Array): Promise<RpcReply<unknown> | Problem> {
    let req: { op?: string; metric?: string; from?: number; to?: number; key?: string; limit?: number; k?: number; cursor?: string | null };
    try {
      req = JSON.parse(Buffer.from(data).toString('utf8'));
      if (typeof req !== 'object' || req === null || Array.isArray(req)) throw new Error('not an object');
    } catch (e) {
      return rpcProblem(400, `the request must be a JSON object: ${(e as Error).message}`);
    }
    // A non-string op or metric is a 400: turning a deeply nested array into text overflows the stack (a 500).
    for (const field of ['op', 'metric'] as const) {
      if (req[field] !== undefined && typeof req[field] !== 'string') return rpcProblem(400, `${field} must be a string`);
    }
    try {
      switch (req.op ?? 'range') {
        case 'range':
          if (req.cursor !== undefined && req.cursor !== null && typeof req.cursor !== 'string') return rpcProblem(400, 'cursor must be a string');
          return { status: 200, body: await pagedRange(this.query, String(req.metric), rangeQueryOf(req as Record<string, unknown>), req.cursor ?? undefined) };
        case 'top':
          return { status: 200, body: await this.query.top(String(req.metric), typeof req.k === 'number' ? req.k : req.k === undefined ? 10 : NaN) };
        case 'watermark':
          return { status: 200, body: await this.query.watermark() };
        case 'definitions':
          return { status: 200, body: this.query.definitions() };
        default:
          return rpcProblem(400, `unknown op "${req.op}": range, top, watermark or definitions`);
      }
    } catch (e) {
      if (e instanceof QueryError) return rpcProblem(statusOf(e.code), e.message);
      this.logger.error(e);
      return rpcProblem(500, 'internal error');
    }
  }

  private async handle(msg: Msg): Promise<void> {
    const reply = rpcDenied(this.ring, msg.headers, 'read') ?? (await this.answer(msg.data));
    if (msg.reply) msg.respond(Buffer.from(JSON.stringify(reply)));
  }
}
