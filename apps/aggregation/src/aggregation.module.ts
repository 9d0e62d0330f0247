import { Module } from '@nestjs/common';
import { ApiDocsModule } from '@tidemark/runtime';
import { AGGREGATION_API, AGGREGATION_OPERATIONS, AGGREGATION_SCHEMAS } from './aggregation.openapi';
import { CONFIG, ConfigModule, TidemarkConfig } from '@tidemark/config';
import { JetStreamModule } from '@tidemark/jetstream';
import { ObservabilityModule } from '@tidemark/observability';
import { RedisModule } from '@tidemark/state';
import { METRICS } from './aggregation.constants';
import { AggregationConsumer } from './aggregation.consumer';
import { AggregationService } from './aggregation.service';
import { Firer } from './firer';
import { loadMetrics } from './metric-loader';
import { QueryController } from './query.controller';
import { QueryRpc } from './query.rpc';
import { QueryService } from './query.service';

@Module({
  imports: [ConfigModule, ObservabilityModule.forService('aggregation'), ApiDocsModule.forService(AGGREGATION_API, AGGREGATION_OPERATIONS, AGGREGATION_SCHEMAS), JetStreamModule.forService('aggregation'), RedisModule],
  controllers: [AggregationConsumer, QueryController],
  providers: [
    { provide: METRICS, inject: [CONFIG], useFactory: (config: TidemarkConfig) => loadMetrics(config.metricsFile) },
    AggregationService,
    Firer,
    QueryService,
    QueryRpc,
  ],
})
export class AggregationModule {}
