/** Injection token for the JetStream publisher used by ingestion (see ingestion.module.ts). */
export const EVENT_PUBLISHER = Symbol('EVENT_PUBLISHER');

export interface PublishItem {
  subject: string;
  data: Buffer;
  msgId: string;
}

/** Resolves only when JetStream has acknowledged every item; rejects when any could not be stored. */
export interface EventPublisher {
  publishBatch(items: PublishItem[]): Promise<{ duplicate: boolean }[]>;
}

/** Injection token for the service's NATS connection. */
export const NATS_CONNECTION = Symbol('NATS_CONNECTION');
