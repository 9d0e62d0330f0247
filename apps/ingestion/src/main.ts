import { startService } from '@tidemark/runtime';
import { IngestionModule } from './ingestion.module';

/** HTTP `POST /v1/events`, TCP NDJSON and NATS `tidemark.ingest` into events.raw.<p>. */
export function bootstrap() {
  return startService({
    name: 'ingestion',
    module: IngestionModule,
    port: (c) => c.ports.ingestion,
    bodyParser: false,
    configureHttp: (app, config) => {
      // Every body reaches the controller as a Buffer: JSON, arrays and NDJSON share one parser and one error format.
      const fastify = app.getHttpAdapter().getInstance();
      fastify.removeAllContentTypeParsers();
      fastify.addContentTypeParser('*', { parseAs: 'buffer', bodyLimit: config.maxBodyBytes }, (_req, body, done) => done(null, body));
    },
  });
}

if (require.main === module) void bootstrap();
