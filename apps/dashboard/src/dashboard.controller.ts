import { Controller, Get, HttpException, Param, Query, Req, Res } from '@nestjs/common';
import type { FastifyReply, FastifyRequest } from 'fastify';
import { Asset, loadAssets } from './assets';
import { DashboardService } from './dashboard.service';
import { parseRecommendationQuery } from './recommendation-query';

/** The page, its assets, the SSE feed of snapshots, and the per-user recommendation look-up. */
@Controller()
export class DashboardController {
  private readonly assets: Map<string, Asset> = loadAssets();

  constructor(private readonly dashboard: DashboardService) {}

  @Get()
  index(@Res() reply: FastifyReply) {
    this.send(reply, '/');
  }

  @Get('assets/:file')
  asset(@Param('file') file: string, @Res() reply: FastifyReply) {
    this.send(reply, `/assets/${file}`);
  }

  @Get('vendor/:file')
  vendor(@Param('file') file: string, @Res() reply: FastifyReply) {
    this.send(reply, `/vendor/${file}`);
  }

  /** One snapshot as JSON (what the stream pushes). */
  @Get('v1/snapshot')
  snapshot() {
    return this.dashboard.snapshot();
  }

  /** Server-sent events: `event: snapshot` with a Snapshot JSON, now and every DASHBOARD_REFRESH_MS. */
  @Get('v1/stream')
  stream(@Req() req: FastifyRequest, @Res() reply: FastifyReply) {
    reply.hijack();
    const res = reply.raw;
    res.writeHead(200, {
      'content-type': 'text/event-stream; charset=utf-8',
      'cache-control': 'no-cache, no-transform',
      connection: 'keep-alive',
      'x-accel-buffering': 'no',
    });
    res.write('retry: 2000\n\n');
    const unsubscribe = this.dashboard.subscribe(
      (s) => res.write(`event: snapshot\ndata: ${JSON.stringify(s)}\n\n`),
      () => res.end(),
    );
    req.raw.once('close', unsubscribe);
  }

  /** Recommendations for a user, from the recommendation service (502 with the reason when it does not answer). */
  @Get('v1/recommendations/users/:userId')
  async recommendations(@Param('userId') userId: string, @Query('k') k?: string) {
    const q = parseRecommendationQuery(userId, k);
    if (!q.ok) throw new HttpException({ error: q.errors.map((e) => `${e.field} ${e.reason}`).join('; '), errors: q.errors }, 400);
    const answer = await this.dashboard.recommendations(q.userId, q.k);
    if (!answer.ok) throw new HttpException({ error: `recommendation service unavailable: ${answer.error}` }, 502);
    return answer.value;
  }

  private send(reply: FastifyReply, url: string) {
    const asset = this.assets.get(url);
    if (!asset) {
      reply.status(404).send({ error: `no such file: ${url}` });
      return;
    }
    reply.header('content-type', asset.type).header('cache-control', 'no-cache').send(asset.body);
  }
}
