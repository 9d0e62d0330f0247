import 'reflect-metadata';
import { NestFactory } from '@nestjs/core';
import { FastifyAdapter, NestFastifyApplication } from '@nestjs/platform-fastify';
import { CONFIG, TidemarkConfig, loadConfig } from '@tidemark/config';
import { JsonLogger } from '@tidemark/observability';
import { IngestionModule } from './ingestion.module';

export async function bootstrap(): Promise<NestFastifyApplication> {
  const config = loadConfig();
  const adapter = new FastifyAdapter({ bodyLimit: config.maxBodyBytes });
  const app = await NestFactory.create<NestFastifyApplication>(IngestionModule, adapter, {
    logger: new JsonLogger('ingestion', config.logLevel),
    bodyParser: false,
  });
  // Every body reaches the controller as a Buffer: JSON, arrays and NDJSON share one parser and one error format.
  const fastify = app.getHttpAdapter().getInstance();
  fastify.removeAllContentTypeParsers();
  fastify.addContentTypeParser('*', { parseAs: 'buffer', bodyLimit: config.maxBodyBytes }, (_req, body, done) => done(null, body));
  app.enableShutdownHooks();
  const cfg = app.get<TidemarkConfig>(CONFIG);
  await app.listen(cfg.ports.ingestion, cfg.host);
  return app;
}

if (require.main === module) {
  void bootstrap();
}
