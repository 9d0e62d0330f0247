import { durables, streams } from '@tidemark/contracts';
import { startService } from '@tidemark/runtime';
import { AlertingModule } from './alerting.module';

/** Consumes `results.>` (one durable, the stream is not partitioned); rules, alerts, silences and notifications. */
export function bootstrap() {
  return startService({
    name: 'alerting',
    module: AlertingModule,
    port: (c) => c.ports.alerting,
    consumers: (c) => [{ stream: streams.results.name, durable: durables.alerting, filterSubject: 'results.>', ackWaitMs: c.ackWaitMs }],
    // PARTITION_ASSIGNMENT=group: one active instance, the others wait as standbys (no double notifications).
    singleton: 'alerting',
  });
}

if (require.main === module) void bootstrap();
