import { BeforeApplicationShutdown, Body, Controller, Delete, Get, HttpCode, Inject, Param, Post, Query, Res } from '@nestjs/common';
import type { FastifyReply } from 'fastify';
import { CONFIG, TidemarkConfig } from '@tidemark/config';
import { ProblemException, Scoped, SseClients } from '@tidemark/runtime';
import { AlertHub, LiveAlert } from './alert-hub';
import { AlertingService } from './alerting.service';
import { http } from './http';

@Controller('v1')
export class AlertsController implements BeforeApplicationShutdown {
  /** SSE_MAX_CLIENTS at once; a client over SSE_MAX_BUFFER_BYTES of unsent data is dropped (docs/settings.md "Limits"). */
  private readonly sse: SseClients;

  constructor(
    private readonly alerting: AlertingService,
    private readonly hub: AlertHub,
    @Inject(CONFIG) config: TidemarkConfig,
  ) {
    this.sse = new SseClients({ maxClients: config.http.sseMaxClients, maxBufferBytes: config.http.sseMaxBufferBytes });
  }

  /** A stopping service ends its live streams before the HTTP server closes (it would wait for them). */
  beforeApplicationShutdown(): void {
    this.sse.endAll();
  }

  /** `{alerts}`, optionally only one `state` (pending, firing, resolved). */
  @Get('alerts')
  @Scoped('read')
  list(@Query('state') state?: string) {
    return http(() => ({ alerts: this.alerting.listAlerts(state) }));
  }

  /** SSE: `event: alert` with an Alert on every state change; the current non-resolved alerts on connect. */
  @Get('alerts/stream')
  @Scoped('read')
  stream(@Res() reply: FastifyReply): void {
    const raw = reply.raw;
    const client = this.sse.admit(raw);
    if (!client) {
      if (this.sse.stopping) throw new ProblemException(503, 'the service is shutting down; open the stream again');
      void reply.header('retry-after', '5');
      throw new ProblemException(429, 'too many live streams open (SSE_MAX_CLIENTS); try again later');
    }
    reply.hijack();
    raw.socket?.setTimeout(0); // the stream's liveness is its pings and the buffer cap, not the idle timeout
    raw.writeHead(200, { 'content-type': 'text/event-stream', 'cache-control': 'no-cache', connection: 'keep-alive', 'x-accel-buffering': 'no' });
    let off: () => void = () => undefined;
    const ping = setInterval(() => client.send(': ping\n\n'), 15_000);
    ping.unref();
    const close = () => {
      client.close();
      off();
      clearInterval(ping);
    };
    const send = (a: LiveAlert) => {
      if (!client.send(`event: alert\ndata: ${JSON.stringify(a)}\n\n`)) close();
    };
    raw.on('close', close);
    client.send(': connected\n\n');
    for (const a of this.alerting.listAlerts()) if (a.state !== 'resolved') send(a);
    if (!client.dropped) off = this.hub.subscribe(send);
  }

  @Get('silences')
  @Scoped('admin')
  silences() {
    return { silences: this.alerting.listSilences() };
  }

  @Post('silences')
  @Scoped('admin')
  @HttpCode(201)
  createSilence(@Body() body: unknown) {
    return http(() => this.alerting.createSilence(body));
  }

  @Delete('silences/:id')
  @Scoped('admin')
  @HttpCode(204)
  async deleteSilence(@Param('id') id: string) {
    await http(() => this.alerting.deleteSilence(id));
  }
}
