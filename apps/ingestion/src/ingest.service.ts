import { Inject, Injectable, Logger } from '@nestjs/common';
import { BodyRecord, IngestReply, RecordStatus, planIngest } from '@tidemark/contracts';
import { CONFIG, TidemarkConfig } from '@tidemark/config';
import { MetricsRegistry } from '@tidemark/observability';
import { JetStreamPublisher } from '@tidemark/jetstream';
import { IngestError, IngestErrorCode } from './ingest.errors';

export type Transport = 'http' | 'tcp' | 'nats';

export interface IngestResult {
  reply: IngestReply;
  /** One status per input record, in order. */
  statuses: RecordStatus[];
}

/**
 * Validates a request's records, publishes the valid ones to `events.raw.<p>` with `Nats-Msg-Id` = event id,
 * and answers only once JetStream has acknowledged every one. A retry of the same request finds its events
 * as duplicates: nothing is stored twice, nothing reported accepted is lost.
 */
@Injectable()
export class IngestService {
  private readonly logger = new Logger(IngestService.name);
  private readonly events;
  private readonly latency;

  constructor(
    @Inject(CONFIG) private readonly config: TidemarkConfig,
    private readonly publisher: JetStreamPublisher,
    metrics: MetricsRegistry,
  ) {
    this.events = metrics.counter('tidemark_ingest_events_total', 'Records received by ingestion, by outcome', ['transport', 'outcome']);
    this.latency = metrics.histogram('tidemark_ingest_request_seconds', 'Time from a request to its JetStream acknowledgement', ['transport']);
  }

  /** Throws `IngestError` when the request is too large or JetStream did not acknowledge every event. */
  async ingest(records: BodyRecord[], transport: Transport, now = Date.now()): Promise<IngestResult> {
    if (records.length > this.config.maxBatchEvents) {
      throw new IngestError(IngestErrorCode.TooLarge, `${records.length} events in one request; the limit is ${this.config.maxBatchEvents}`);
    }
    const end = this.latency.startTimer({ transport });
    const plan = planIngest(records, this.config.partitions, { now, maxFutureMs: this.config.maxFutureMs });
    let acks: { duplicate: boolean }[] = [];
    if (plan.events.length > 0) {
      try {
        acks = await this.publisher.publishBatch(plan.events.map((e) => ({ subject: e.subject, data: e.data, msgId: e.event.id })));
      } catch (e) {
        this.events.inc({ transport, outcome: 'unavailable' }, plan.events.length);
        this.logger.warn({ msg: 'JetStream did not acknowledge a batch', events: plan.events.length, error: (e as Error).message });
        throw new IngestError(IngestErrorCode.Unavailable, `events could not be stored: ${(e as Error).message}; retry the request`);
      }
    }
    const statuses: RecordStatus[] = new Array(records.length);
    let accepted = 0;
    plan.events.forEach((e, i) => {
      if (acks[i].duplicate) statuses[e.index] = { status: 'duplicate' };
      else {
        statuses[e.index] = { status: 'accepted' };
        accepted++;
      }
    });
    for (const i of plan.duplicateIndices) statuses[i] = { status: 'duplicate' };
    for (const r of plan.rejected) statuses[r.index] = { status: 'rejected', error: r.error };
    const duplicates = plan.events.length - accepted + plan.duplicateIndices.length;
    this.events.inc({ transport, outcome: 'accepted' }, accepted);
    this.events.inc({ transport, outcome: 'duplicate' }, duplicates);
    this.events.inc({ transport, outcome: 'rejected' }, plan.rejected.length);
    end();
    return { reply: { accepted, duplicates, rejected: plan.rejected }, statuses };
  }
}

/** True when nothing in a request was valid (HTTP 400). */
export function nothingValid(reply: IngestReply): boolean {
  return reply.accepted === 0 && reply.duplicates === 0;
}
