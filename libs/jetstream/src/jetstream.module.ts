import { DynamicModule, Global, Inject, Logger, Module, OnApplicationShutdown } from '@nestjs/common';
import { ALL_STREAMS, streamsWithMaxBytes } from '@tidemark/contracts';
import { CONFIG, TidemarkConfig } from '@tidemark/config';
import { HealthRegistry, MetricsRegistry } from '@tidemark/observability';
import { JetStreamConnection, connectNats } from './connection';
import { JetStreamPublisher } from './publisher';
import { checkStreams, ensureStreams, retrying } from './streams';

/**
 * A service's NATS side, the same everywhere: one connection to NATS_URL's server(s) (fail fast at boot,
 * reconnect forever), every stream provisioned idempotently (JETSTREAM_PROVISION, JETSTREAM_REPLICAS; an
 * operator's settings are never lowered, differences logged at warn), one publisher, readiness checks `nats`
 * and `jetstream`, and a drain on shutdown (after the consumers stopped, since Nest closes modules in reverse order of import).
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
              servers: config.natsServers,
              name: `tidemark-${service}`,
              security: config.nats,
              onStatus: (e) => (e.state === 'connected' ? logger.log(`NATS ${e.cause}`) : logger.warn(`NATS ${e.state} (${e.cause})`)),
            });
            const specs = streamsWithMaxBytes(config.streamMaxBytes);
            // Its first JetStream API request may meet a cluster electing its meta leader: retried, like provisioning.
            const jsm = await retrying(() => connection.jsm());
            if (config.jetstream.provision === 'off') {
              await checkStreams(jsm, specs);
            } else {
              const results = await ensureStreams(jsm, specs, { defaults: ALL_STREAMS, replicas: config.jetstream.replicas });
              for (const r of results) {
                if (r.action !== 'unchanged') logger.log(`stream ${r.name} ${r.action}${r.changed.length ? ` (${r.changed.join(', ')})` : ''}`);
                for (const w of r.warnings) logger.warn(w);
              }
            }
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
