import { Body, Controller, Delete, Get, HttpCode, Param, Post, Query, Res } from '@nestjs/common';
import type { FastifyReply } from 'fastify';
import { Scoped } from '@tidemark/runtime';
import { AlertHub, LiveAlert } from './alert-hub';
import { AlertingService } from './alerting.service';
import { http } from './http';

@Controller('v1')
export class AlertsController {
  constructor(
    private readonly alerting: AlertingService,
    private readonly hub: AlertHub,
  ) {}

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
    reply.hijack();
    const raw = reply.raw;
    raw.writeHead(200, { 'content-type': 'text/event-stream', 'cache-control': 'no-cache', connection: 'keep-alive', 'x-accel-buffering': 'no' });
    const send = (a: LiveAlert) => raw.write(`event: alert\ndata: ${JSON.stringify(a)}\n\n`);
    raw.write(': connected\n\n');
    for (const a of this.alerting.listAlerts()) if (a.state !== 'resolved') send(a);
    const off = this.hub.subscribe(send);
    const ping = setInterval(() => raw.write(': ping\n\n'), 15_000);
    ping.unref();
    raw.on('close', () => {
      off();
      clearInterval(ping);
    });
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
