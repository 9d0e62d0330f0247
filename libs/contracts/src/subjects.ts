/** Subjects, stream names and durable consumer names: everything that crosses a process boundary over NATS. */

export const subjects = {
  raw: (partition: number) => `events.raw.${partition}`,
  clean: (partition: number) => `events.clean.${partition}`,
  late: (metric: string) => `events.late.${metric}`,
  result: (metric: string) => `results.${metric}`,
  alert: (rule: string) => `alerts.${rule}`,
  /** Dead letters: `dlq.<stream>.<consumer>`. */
  dlq: (stream: string, consumer: string) => `dlq.${stream}.${consumer}`,
} as const;

/** NATS request-reply subjects (core NATS, not JetStream). */
export const rpc = {
  ingest: 'tidemark.ingest',
  metricsQuery: 'tidemark.metrics.query',
  recsUser: 'tidemark.recs.user',
  recsSimilar: 'tidemark.recs.similar',
  recsTrending: 'tidemark.recs.trending',
  alertsList: 'tidemark.alerts.list',
} as const;

export interface StreamSpec {
  name: string;
  subjects: string[];
  /** Max age in milliseconds (0 = unlimited). */
  maxAgeMs: number;
  /** JetStream de-duplication window for `Nats-Msg-Id`, milliseconds. */
  duplicateWindowMs: number;
  /**
   * Size bound in bytes (JetStream `max_bytes`; discard old beyond it); absent = unlimited. The values below
   * are the defaults; `STREAM_MAX_BYTES_<NAME>` overrides one (docs/settings.md "Limits").
   */
  maxBytes?: number;
}

const DAY = 24 * 60 * 60 * 1000;
const TWO_MINUTES = 2 * 60 * 1000;
const GIB = 1024 ** 3;

export const streams = {
  raw: { name: 'EVENTS_RAW', subjects: ['events.raw.*'], maxAgeMs: 7 * DAY, duplicateWindowMs: TWO_MINUTES, maxBytes: 8 * GIB },
  clean: { name: 'EVENTS_CLEAN', subjects: ['events.clean.*'], maxAgeMs: 7 * DAY, duplicateWindowMs: TWO_MINUTES, maxBytes: 8 * GIB },
  late: { name: 'EVENTS_LATE', subjects: ['events.late.>'], maxAgeMs: 7 * DAY, duplicateWindowMs: TWO_MINUTES, maxBytes: GIB },
  results: { name: 'RESULTS', subjects: ['results.>'], maxAgeMs: 7 * DAY, duplicateWindowMs: TWO_MINUTES, maxBytes: 2 * GIB },
  alerts: { name: 'ALERTS', subjects: ['alerts.>'], maxAgeMs: 30 * DAY, duplicateWindowMs: TWO_MINUTES, maxBytes: GIB },
  dlq: { name: 'DLQ', subjects: ['dlq.>'], maxAgeMs: 30 * DAY, duplicateWindowMs: TWO_MINUTES, maxBytes: GIB },
} satisfies Record<string, StreamSpec>;

/** The contract streams with their sizes from the configuration (`{EVENTS_RAW: bytes, …}`; absent = the default). */
export function streamsWithMaxBytes(maxBytes: Record<string, number>): StreamSpec[] {
  return ALL_STREAMS.map((s) => ({ ...s, maxBytes: maxBytes[s.name] ?? s.maxBytes }));
}

export const ALL_STREAMS: StreamSpec[] = Object.values(streams);

/** Durable consumer names: `<service>-p<partition>`. */
export const durables = {
  dedup: (partition: number) => `dedup-p${partition}`,
  aggregation: (partition: number) => `aggregation-p${partition}`,
  recommendation: (partition: number) => `recommendation-p${partition}`,
  alerting: 'alerting-results',
} as const;

/** Header carrying the reason a message was dead-lettered, and its origin. */
export const headers = {
  msgId: 'Nats-Msg-Id',
  dlqError: 'Tidemark-Error',
  dlqStream: 'Tidemark-Stream',
  dlqConsumer: 'Tidemark-Consumer',
  dlqSubject: 'Tidemark-Subject',
  dlqSeq: 'Tidemark-Stream-Seq',
  dlqDeliveries: 'Tidemark-Deliveries',
  /** The position of a dead-lettered event in its frame (the message at Tidemark-Stream-Seq). */
  dlqFrameIndex: 'Tidemark-Frame-Index',
  /** On a clean frame: the last raw stream sequence it covers (dedup resumes after it). */
  rawSeq: 'Tidemark-Raw-Seq',
  /** On a clean frame: when the earliest raw frame it covers was stored (epoch ms), i.e. accepted by ingestion. */
  ingestedAt: 'Tidemark-Ingested-At',
  /** On a raw frame: the W3C trace context of the request that opened it (trace.ts), when it sent one. */
  traceparent: 'traceparent',
} as const;
