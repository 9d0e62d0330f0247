import { Module } from '@nestjs/common';
import { ApiDocsModule } from '@tidemark/runtime';
import { DASHBOARD_API, DASHBOARD_OPERATIONS } from './dashboard.openapi';
import { ConfigModule } from '@tidemark/config';
import { ObservabilityModule } from '@tidemark/observability';
import { DashboardController } from './dashboard.controller';
import { DashboardService } from './dashboard.service';
import { OpenStreams } from './open-streams';

@Module({
  imports: [ConfigModule, ObservabilityModule.forService('dashboard'), ApiDocsModule.forService(DASHBOARD_API, DASHBOARD_OPERATIONS)],
  controllers: [DashboardController],
  providers: [DashboardService, OpenStreams],
})
export class DashboardModule {}
