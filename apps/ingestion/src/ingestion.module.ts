import { Module } from '@nestjs/common';
import { ApiDocsModule } from '@tidemark/runtime';
import { INGESTION_API, INGESTION_OPERATIONS, INGESTION_SCHEMAS } from './ingestion.openapi';
import { ConfigModule } from '@tidemark/config';
import { ObservabilityModule } from '@tidemark/observability';
import { JetStreamModule } from '@tidemark/jetstream';
import { IngestController } from './ingest.controller';
import { IngestRpc } from './ingest.rpc';
import { IngestService } from './ingest.service';
import { TcpIngestServer } from './tcp-ingest.server';

@Module({
  imports: [ConfigModule, ObservabilityModule.forService('ingestion'), ApiDocsModule.forService(INGESTION_API, INGESTION_OPERATIONS, INGESTION_SCHEMAS), JetStreamModule.forService('ingestion')],
  controllers: [IngestController],
  providers: [IngestService, TcpIngestServer, IngestRpc],
})
export class IngestionModule {}
