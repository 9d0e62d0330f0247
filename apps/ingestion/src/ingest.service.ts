import { Inject, Injectable, Logger, OnApplicationShutdown } from '@nestjs/common';
import { BodyRecord, IngestReply, RecordStatus, planIngest } from '@tidemark/contracts';
import { CONFIG, TidemarkConfig } from '@tidemark/config';
import { MetricsRegistry } from '@tidemark/observability';
import { JetStreamPublisher } from '@tidemark/jetstream';
import { IngestError, IngestErrorCode } from './ingest.errors';
import { RawFramePublisher } from './raw-frames';

export type Transport = 'http' | 'tcp' | 'nats';

export interface IngestResult {
  reply: IngestReply;
  /** One status per input record, in order. */
  statuses: RecordStatus[];
}

/** The statuses most events get, shared (statuses are only read). */
const ACCEPTED: RecordStatus = Object.freeze({ status: 'accepted' });
const DUPLICATE: RecordStatus = Object.freeze({ status: 'duplicate' });

/**
 * Validates a request's records and publishes the valid ones to `events.raw.<p>` in frames (raw-frames.ts),
 * answering only once JetStream has acknowledged every frame that holds them. `duplicates` counts repeats of
 * an id inside the request, events of a frame JetStream recognised as an exact retry (same frame within the
 * stream's duplicate window: a request sent again), and an id already waiting in the same lingering frame.
 * It is informative: exactly-once does not depend on it (the dedup service drops every later copy of an id).
 */
@Injectable()
export class IngestService implements OnApplicationShutdown {
  private readonly logger = new Logger(IngestService.name);
  private readonly frames: RawFramePublisher;
  private readonly events;
  private readonly latency;

  constructor(
    @Inject(CONFIG) private readonly config: TidemarkConfig,
    publisher: JetStreamPublisher,
    metrics: MetricsRegistry,
  ) {
    const frames = metrics.counter('tidemark_ingest_frames_total', 'Raw frames published');
    const frameEvents = metrics.histogram('tidemark_ingest_frame_events', 'Events per raw frame', [], [1, 2, 5, 10, 50, 100, 500, 1000, 4096]);
    this.frames = new RawFramePublisher(publisher, { maxEvents: config.frameMaxEvents, maxBytes: config.frameMaxBytes }, config.ingestLingerMs, (n) => {
      frames.inc();
      frameEvents.observe(n);
    });
    this.events = metrics.counter('tidemark_ingest_events_total', 'Records received by ingestion, by outcome', ['transport', 'outcome']);
    this.latency = metrics.histogram('tidemark_ingest_request_seconds', 'Time from a request to its JetStream acknowledgement', ['transport']);
  }

  onApplicationShutdown(): void {
    this.frames.flushAll();
  }

  /**
   * Throws `IngestError` when the request is too large, or (unless `partial`) when JetStream did not
   * acknowledge a frame holding some of its events. With `partial` (TCP), those events are `unavailable`.
   * `traceparent` (checked: acceptTraceparent) goes on the raw frames the request opens.
   */
  async ingest(records: BodyRecord[], transport: Transport, now = Date.now(), partial = false, traceparent?: string): Promise<IngestResult> {
    if (records.length > this.config.maxBatchEvents) {
      throw new IngestError(IngestErrorCode.TooLarge, `${records.length} events in one request; the limit is ${this.config.maxBatchEvents}`);
    }
    const end = this.latency.startTimer({ transport });
    const plan = planIngest(records, this.config.partitions, { now, maxFutureMs: this.config.maxFutureMs, limits: this.config.eventLimits });
    // Events of one frame share its promise: settle each frame once, not each event.
    const outcomes = this.frames.submit(plan.events, records.length === 1, traceparent);
    const frames = [...new Set(outcomes)];
    const settledFrames = await Promise.allSettled(frames);
    const settledOf = new Map(frames.map((f, i) => [f, settledFrames[i]]));
    const statuses: RecordStatus[] = new Array(records.length);
    let accepted = 0;
    let duplicates = plan.duplicateIndices.length;
    let failed: unknown;
    let unavailable = 0;
    plan.events.forEach((e, i) => {
      const s = settledOf.get(outcomes[i])!;
      if (s.status === 'rejected') {
        failed ??= s.reason;
        unavailable++;
        statuses[e.index] = { status: 'unavailable', error: `not stored: ${(s.reason as Error)?.message ?? s.reason}; send it again` };
      } else if (s.value === 'duplicate') {
        statuses[e.index] = DUPLICATE;
        duplicates++;
      } else {
        statuses[e.index] = ACCEPTED;
        accepted++;
      }
    });
    for (const i of plan.duplicateIndices) statuses[i] = DUPLICATE;
    for (const r of plan.rejected) statuses[r.index] = { status: 'rejected', error: r.error };
    if (unavailable > 0) {
      this.events.inc({ transport, outcome: 'unavailable' }, unavailable);
      this.logger.warn({ msg: 'JetStream did not acknowledge a frame', events: unavailable, error: (failed as Error)?.message });
      if (!partial) throw new IngestError(IngestErrorCode.Unavailable, `events could not be stored: ${(failed as Error)?.message}; retry the request`);
    }
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
