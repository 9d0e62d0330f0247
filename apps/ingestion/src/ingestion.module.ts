import { Module } from '@nestjs/common';
import { ConfigModule } from '@tidemark/config';
import { ObservabilityModule } from '@tidemark/observability';
import { NatsModule } from './nats.module';
import { IngestController } from './ingest.controller';
import { IngestRpc } from './ingest.rpc';
import { IngestService } from './ingest.service';
import { TcpIngestServer } from './tcp-ingest.server';

@Module({
  imports: [ConfigModule, ObservabilityModule.forService('ingestion'), NatsModule],
  controllers: [IngestController],
  providers: [IngestService, TcpIngestServer, IngestRpc],
})
export class IngestionModule {}
