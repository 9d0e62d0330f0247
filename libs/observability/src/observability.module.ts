import { Controller, DynamicModule, Get, Global, Module, Res, SetMetadata } from '@nestjs/common';
import type { FastifyReply } from 'fastify';
import { SCOPE_METADATA } from '@tidemark/auth';
import { HealthRegistry } from './health';
import { MetricsRegistry } from './metrics';

@Controller()
export class ObservabilityController {
  constructor(
    private readonly health: HealthRegistry,
    private readonly metrics: MetricsRegistry,
  ) {}

  @Get('health/live')
  @SetMetadata(SCOPE_METADATA, 'public')
  live() {
    return { status: 'ok' };
  }

  @Get('health/ready')
  @SetMetadata(SCOPE_METADATA, 'public')
  async ready(@Res() reply: FastifyReply) {
    const report = await this.health.readiness();
    reply.status(report.status === 'ok' ? 200 : 503).send(report);
  }

  /** Prometheus scrapes with a `read` key (`authorization: { credentials: … }`) when keys are configured. */
  @Get('metrics')
  @SetMetadata(SCOPE_METADATA, 'read')
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
