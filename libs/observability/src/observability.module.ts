import { Controller, DynamicModule, Get, Global, Module, Res } from '@nestjs/common';
import type { FastifyReply } from 'fastify';
import { HealthRegistry } from './health';
import { MetricsRegistry } from './metrics';

@Controller()
export class ObservabilityController {
  constructor(
    private readonly health: HealthRegistry,
    private readonly metrics: MetricsRegistry,
  ) {}

  @Get('health/live')
  live() {
    return { status: 'ok' };
  }

  @Get('health/ready')
  async ready(@Res() reply: FastifyReply) {
    const report = await this.health.readiness();
    reply.status(report.status === 'ok' ? 200 : 503).send(report);
  }

  @Get('metrics')
  async render(@Res() reply: FastifyReply) {
    reply.header('content-type', this.metrics.contentType).send(await this.metrics.render());
  }
}

/** `/health/live`, `/health/ready`, `/metrics` for a service; other modules inject the registries. */
@Global()
@Module({})
export class ObservabilityModule {
  static forService(service: string): DynamicModule {
    return {
      module: ObservabilityModule,
      controllers: [ObservabilityController],
      providers: [{ provide: MetricsRegistry, useValue: new MetricsRegistry(service) }, HealthRegistry],
      exports: [MetricsRegistry, HealthRegistry],
    };
  }
}
