import { Controller, Get, Header, HttpException, Inject, Param, Query, Req, Res } from '@nestjs/common';
import type { FastifyReply, FastifyRequest } from 'fastify';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { CONFIG, TidemarkConfig } from '@tidemark/config';
import { ProblemException, Public, Scoped, SseClients } from '@tidemark/runtime';
import { DashboardService } from './dashboard.service';
import { OpenStreams } from './open-streams';

/** The page's files live in apps/dashboard/public (no build step); the chart library is served from node_modules. */
const PUBLIC = path.resolve(__dirname, '..', '..', '..', '..', 'apps', 'dashboard', 'public');
const FILES: Record<string, { file: string; type: string }> = {
  '': { file: path.join(PUBLIC, 'index.html'), type: 'text/html; charset=utf-8' },
  'app.js': { file: path.join(PUBLIC, 'app.js'), type: 'text/javascript; charset=utf-8' },
  'style.css': { file: path.join(PUBLIC, 'style.css'), type: 'text/css; charset=utf-8' },
  // The package's exports map hides dist/: find it beside its entry point.
  'vendor/chart.umd.min.js': { file: path.join(path.dirname(require.resolve('chart.js')), 'chart.umd.min.js'), type: 'text/javascript; charset=utf-8' },
};

const USER_ID = /^[\w.:@-]{1,128}$/;

function userParam(userId: string | undefined): string | undefined {
  if (userId === undefined || userId === '') return undefined;
  if (!USER_ID.test(userId)) throw new ProblemException(400, 'user must be 1 to 128 letters, digits or . _ : @ -');
  return userId;
}

@Controller()
export class DashboardController {
  /** SSE_MAX_CLIENTS at once; a client over SSE_MAX_BUFFER_BYTES of unsent data is dropped (docs/settings.md "Limits"). */
  private readonly sse: SseClients;

  constructor(
    private readonly dashboard: DashboardService,
    private readonly streams: OpenStreams,
    @Inject(CONFIG) private readonly config: TidemarkConfig,
  ) {
    this.sse = new SseClients({ maxClients: config.http.sseMaxClients, maxBufferBytes: config.http.sseMaxBufferBytes });
  }

  @Get()
  @Public()
  index(@Res() res: FastifyReply) {
    return this.file('', res);
  }

  @Get(['app.js', 'style.css', 'vendor/chart.umd.min.js'])
  @Public()
  asset(@Req() req: FastifyRequest, @Res() res: FastifyReply) {
    return this.file(req.url.split('?')[0].slice(1), res);
  }

  private file(name: string, res: FastifyReply) {
    const f = FILES[name];
    return res.header('content-type', f.type).header('cache-control', 'no-cache').send(fs.createReadStream(f.file));
  }

  /** The snapshot the page shows, once (JSON). `?user=` adds that user's recommendations. */
  @Get('v1/snapshot')
  @Scoped('read')
  @Header('cache-control', 'no-store')
  snapshot(@Query('user') user?: string) {
    return this.dashboard.snapshot(userParam(user));
  }

  /** Server-sent events: `event: snapshot` every DASHBOARD_REFRESH_MS, the first one at once. */
  @Get('v1/stream')
  @Scoped('read')
  stream(@Res() res: FastifyReply, @Query('user') user?: string) {
    const userId = userParam(user);
    const raw = res.raw;
    const client = this.sse.admit(raw);
    if (!client) {
      if (this.sse.stopping) throw new ProblemException(503, 'the service is shutting down; open the stream again');
      void res.header('retry-after', '5');
      throw new ProblemException(429, 'too many live streams open (SSE_MAX_CLIENTS); try again later');
    }
    res.hijack();
    raw.socket?.setTimeout(0); // the stream's liveness is its updates and the buffer cap, not the idle timeout
    raw.writeHead(200, { 'content-type': 'text/event-stream', 'cache-control': 'no-store', connection: 'keep-alive', 'x-accel-buffering': 'no' });
    let closed = false;
    let timer: NodeJS.Timeout | undefined;
    const send = async () => {
      try {
        const s = await this.dashboard.snapshot(userId);
        if (!closed && !client.send(`event: snapshot\ndata: ${JSON.stringify(s)}\n\n`)) closed = true;
      } catch (e) {
        if (!closed && !client.send(`event: failure\ndata: ${JSON.stringify({ error: (e as Error).message })}\n\n`)) closed = true;
      }
      if (!closed) timer = setTimeout(send, this.config.dashboard.refreshMs);
    };
    const forget = this.streams.add(() => {
      closed = true;
      clearTimeout(timer);
      raw.end();
    });
    raw.on('close', () => {
      closed = true;
      clearTimeout(timer);
      client.close();
      forget();
    });
    void send();
  }

  @Get('v1/recommendations/:userId')
  @Scoped('read')
  async recommendations(@Param('userId') userId: string) {
    try {
      return await this.dashboard.recommendations(userParam(userId)!);
    } catch (e) {
      if (e instanceof HttpException) throw e;
      throw new ProblemException(502, 'the recommendation service did not answer');
    }
  }
}
