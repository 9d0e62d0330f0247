import { Module } from '@nestjs/common';
import { ConfigModule } from '@tidemark/config';
import { ObservabilityModule } from '@tidemark/observability';
import { DashboardController } from './dashboard.controller';
import { DashboardService } from './dashboard.service';

/** The dashboard reads the other services over HTTP only: no NATS or Redis connection of its own. */
@Module({
  imports: [ConfigModule, ObservabilityModule.forService('dashboard')],
  controllers: [DashboardController],
  providers: [DashboardService],
})
export class DashboardModule {}
