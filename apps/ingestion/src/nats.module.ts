import { Global, Inject, Logger, Module, OnApplicationShutdown } from '@nestjs/common';
import { connect } from '@nats-io/transport-node';
import type { NatsConnection } from '@nats-io/nats-core';
import { jetstream, jetstreamManager } from '@nats-io/jetstream';
import { streams } from '@tidemark/contracts';
import { CONFIG, TidemarkConfig } from '@tidemark/config';
import { HealthRegistry } from '@tidemark/observability';
import { EVENT_PUBLISHER, EventPublisher, NATS_CONNECTION, PublishItem } from './ingestion.constants';

/** Provisional: ingestion's NATS connection and JetStream publisher (to move into libs/jetstream). */
class JsPublisher implements EventPublisher {
  private readonly js;
  constructor(nc: NatsConnection) {
    this.js = jetstream(nc);
  }
  async publishBatch(items: PublishItem[]): Promise<{ duplicate: boolean }[]> {
    const acks = await Promise.all(items.map((i) => this.js.publish(i.subject, i.data, { msgID: i.msgId })));
    return acks.map((a) => ({ duplicate: a.duplicate }));
  }
}

@Global()
@Module({
  providers: [
    {
      provide: NATS_CONNECTION,
      inject: [CONFIG, HealthRegistry],
      useFactory: async (config: TidemarkConfig, health: HealthRegistry) => {
        const nc = await connect({ servers: config.natsUrl, noAsyncTraces: true, maxReconnectAttempts: -1, name: 'tidemark-ingestion' });
        const jsm = await jetstreamManager(nc);
        const spec = streams.raw;
        await jsm.streams.add({ name: spec.name, subjects: spec.subjects, duplicate_window: spec.duplicateWindowMs * 1e6, max_age: spec.maxAgeMs * 1e6 }).catch(async () => {
          await jsm.streams.info(spec.name);
        });
        health.register('nats', () => {
          if (nc.isClosed()) throw new Error('NATS connection closed');
        });
        health.register('jetstream', async () => {
          await jsm.streams.info(spec.name);
        });
        return nc;
      },
    },
    { provide: EVENT_PUBLISHER, inject: [NATS_CONNECTION], useFactory: (nc: NatsConnection) => new JsPublisher(nc) },
  ],
  exports: [NATS_CONNECTION, EVENT_PUBLISHER],
})
export class NatsModule implements OnApplicationShutdown {
  constructor(@Inject(NATS_CONNECTION) private readonly nc: NatsConnection) {}
  async onApplicationShutdown() {
    await this.nc.drain().catch((e) => new Logger('NatsModule').warn(e));
  }
}
