import { DynamicModule, Global, Inject, Logger, Module, OnApplicationShutdown } from '@nestjs/common';
import { ALL_STREAMS, streamsWithMaxBytes } from '@tidemark/contracts';
import { CONFIG, TidemarkConfig } from '@tidemark/config';
import { HealthRegistry, MetricsRegistry } from '@tidemark/observability';
import { JetStreamConnection, connectNats } from './connection';
import { JetStreamPublisher } from './publisher';
import { ensureStreams } from './streams';

/**
 * A service's NATS side, the same everywhere: one connection (fail fast at boot, reconnect forever), every
 * stream provisioned idempotently, one publisher, readiness checks `nats` and `jetstream`, and a drain on
 * shutdown (after the consumers stopped, since Nest closes modules in reverse order of import).
 */
@Global()
@Module({})
export class JetStreamModule implements OnApplicationShutdown {
  private readonly logger = new Logger(JetStreamModule.name);

  constructor(
    @Inject(JetStreamConnection) private readonly connection: JetStreamConnection,
    @Inject(JetStreamPublisher) private readonly publisher: JetStreamPublisher,
  ) {}

  static forService(service: string): DynamicModule {
    return {
      module: JetStreamModule,
      providers: [
        {
          provide: JetStreamConnection,
          inject: [CONFIG, HealthRegistry, MetricsRegistry],
          useFactory: async (config: TidemarkConfig, health: HealthRegistry, metrics: MetricsRegistry) => {
            const logger = new Logger('NATS');
            const connection = await connectNats({
              servers: config.natsUrl,
              name: `tidemark-${service}`,
              security: config.nats,
              onStatus: (e) => (e.state === 'connected' ? logger.log(`NATS ${e.cause}`) : logger.warn(`NATS ${e.state} (${e.cause})`)),
            });
            await ensureStreams(await connection.jsm(), streamsWithMaxBytes(config.streamMaxBytes), { defaults: ALL_STREAMS });
            const up = metrics.gauge('tidemark_nats_connected', '1 while the NATS connection is up');
            up.set(1);
            connection.onStatus((e) => up.set(e.state === 'connected' ? 1 : 0));
            health.register('nats', () => {
              if (!connection.isConnected) throw new Error(`NATS at ${config.natsUrl} is ${connection.state}`);
            });
            health.register('jetstream', () => connection.checkJetStream());
            return connection;
          },
        },
        {
          provide: JetStreamPublisher,
          inject: [JetStreamConnection, CONFIG],
          useFactory: (c: JetStreamConnection, config: TidemarkConfig) => new JetStreamPublisher(c, { maxInFlight: config.publishMaxInFlight }),
        },
      ],
      exports: [JetStreamConnection, JetStreamPublisher],
    };
  }

  async onApplicationShutdown(): Promise<void> {
    await this.publisher.close().catch((e) => this.logger.warn(`publisher close: ${(e as Error).message}`));
    await this.connection.drain().catch((e) => this.logger.warn(`NATS drain: ${(e as Error).message}`));
  }
}
