import { Module } from '@nestjs/common';
import { ConfigModule } from '@tidemark/config';
import { ObservabilityModule } from '@tidemark/observability';
import { DashboardController } from './dashboard.controller';
import { DashboardService } from './dashboard.service';
import { OpenStreams } from './open-streams';

@Module({
  imports: [ConfigModule, ObservabilityModule.forService('dashboard')],
  controllers: [DashboardController],
  providers: [DashboardService, OpenStreams],
})
export class DashboardModule {}
