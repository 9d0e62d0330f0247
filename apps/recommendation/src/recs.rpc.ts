import { Inject, Injectable, Logger, OnApplicationBootstrap, OnApplicationShutdown } from '@nestjs/common';
import type { Msg, Subscription } from '@nats-io/nats-core';
import { rpc } from '@tidemark/contracts';
import { JetStreamConnection } from '@tidemark/jetstream';
import { API_KEY_RING } from '@tidemark/config';
import type { ApiKeyRing } from '@tidemark/auth';
import { rpcDenied, rpcProblem } from '@tidemark/runtime';
import { statusOf } from './recs.controller';
import { RecsQueryError, RecsQueryService } from './recs-query.service';

type Kind = 'user' | 'similar' | 'trending';

/**
 * NATS request-reply (queue group `recommendation`):
 *   tidemark.recs.user {userId, k?} · tidemark.recs.similar {productId, k?} · tidemark.recs.trending {categoryId?, k?}
 * Reply: the HTTP body plus `status: 200`, or the problem HTTP would answer (docs/platform.md "Errors").
 */
@Injectable()
export class RecsRpc implements OnApplicationBootstrap, OnApplicationShutdown {
  private readonly logger = new Logger(RecsRpc.name);
  private readonly subs: Subscription[] = [];

  constructor(
    private readonly recs: RecsQueryService,
    private readonly connection: JetStreamConnection,
    @Inject(API_KEY_RING) private readonly ring: ApiKeyRing,
  ) {}

  onApplicationBootstrap(): void {
    const bind = (subject: string, kind: Kind) =>
      this.subs.push(this.connection.nc.subscribe(subject, { queue: 'recommendation', callback: (err, msg) => (err ? this.logger.error(err) : void this.handle(kind, msg)) }));
    bind(rpc.recsUser, 'user');
    bind(rpc.recsSimilar, 'similar');
    bind(rpc.recsTrending, 'trending');
  }

  async onApplicationShutdown(): Promise<void> {
    await Promise.all(this.subs.splice(0).map((s) => s.drain().catch(() => undefined)));
  }

  async answer(kind: Kind, data: Uint8Array): Promise<Record<string, unknown>> {
    let req: Record<string, unknown>;
    try {
      req = data.length ? JSON.parse(Buffer.from(data).toString('utf8')) : {};
      if (typeof req !== 'object' || req === null || Array.isArray(req)) throw new Error('not an object');
    } catch (e) {
      return rpcProblem(400, `the request must be a JSON object: ${(e as Error).message}`);
    }
    try {
      const body = kind === 'user' ? await this.recs.forUser(req.userId, req.k) : kind === 'similar' ? await this.recs.similar(req.productId, req.k) : await this.recs.trending(req.categoryId, req.k);
      return { status: 200, ...body };
    } catch (e) {
      if (e instanceof RecsQueryError) return rpcProblem(statusOf(e.code), e.message);
      this.logger.error(e);
      return rpcProblem(500, 'internal error');
    }
  }

  private async handle(kind: Kind, msg: Msg): Promise<void> {
    const reply = rpcDenied(this.ring, msg.headers, 'read') ?? (await this.answer(kind, msg.data));
    if (msg.reply) msg.respond(Buffer.from(JSON.stringify(reply)));
  }
}
