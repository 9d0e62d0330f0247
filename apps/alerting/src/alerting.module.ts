import { Module } from '@nestjs/common';
import { ApiDocsModule } from '@tidemark/runtime';
import { ALERTING_API, ALERTING_OPERATIONS, ALERTING_SCHEMAS } from './alerting.openapi';
import { ConfigModule } from '@tidemark/config';
import { JetStreamModule } from '@tidemark/jetstream';
import { ObservabilityModule } from '@tidemark/observability';
import { RedisModule } from '@tidemark/state';
import { AlertHub } from './alert-hub';
import { AlertStore } from './alert-store';
import { AlertingConsumer } from './alerting.consumer';
import { AlertingService } from './alerting.service';
import { AlertsController } from './alerts.controller';
import { AlertsRpc } from './alerts.rpc';
import { Notifier } from './notifier';
import { RulesController } from './rules.controller';

@Module({
  imports: [ConfigModule, ObservabilityModule.forService('alerting'), ApiDocsModule.forService(ALERTING_API, ALERTING_OPERATIONS, ALERTING_SCHEMAS), JetStreamModule.forService('alerting'), RedisModule],
  controllers: [AlertingConsumer, RulesController, AlertsController],
  providers: [AlertStore, AlertHub, AlertingService, Notifier, AlertsRpc],
})
export class AlertingModule {}
