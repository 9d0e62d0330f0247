/** Payload types of the HTTP and NATS APIs. */

export interface RejectedRecord {
  /** 0-based position of the record in the request (array index, or n-th non-blank NDJSON line). */
  index: number;
  /** 1-based NDJSON line, when the body was NDJSON. */
  line?: number;
  /** One line for humans, e.g. `price must be >= 0; productId is required`. */
  error: string;
  /** Each failing field and why. */
  errors: { field: string; reason: string }[];
  id?: string;
}

/** Reply of `POST /v1/events`, `tidemark.ingest` (plus `status` there) and, per batch, the TCP listener. */
export interface IngestReply {
  accepted: number;
  duplicates: number;
  rejected: RejectedRecord[];
}

/** What became of one record of a request (TCP replies one such line per input line). */
export type RecordStatus =
  | { status: 'accepted' }
  | { status: 'duplicate' }
  | { status: 'rejected'; error: string }
  /** Its frame was not stored (JetStream did not acknowledge it): send it again. TCP only; HTTP/NATS answer 503. */
  | { status: 'unavailable'; error: string };

/** NATS replies carry the HTTP status they would have had, and an error message when it is not 202. */
export interface RpcReply<T> {
  status: number;
  body?: T;
  error?: string;
}

export interface WindowResultDto {
  metric: string;
  key: string;
  windowStart: number;
  windowEnd: number;
  value: unknown;
  final: boolean;
  version: number;
}

export interface WatermarkDto {
  watermark: number | null;
  partitions: Record<string, number>;
}

export interface RecommendationItem {
  productId: string;
  score: number;
  reason: string;
}
