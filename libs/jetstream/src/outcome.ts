/**
 * Batch outcomes: a handler says what happened, the transport acts (ack, redeliver, dead-letter).
 *
 * - `ack`: the batch's effects are committed. Optional `deadLetters` names messages (by stream sequence) that
 *   can never succeed (undecodable, invalid): they are published to `dlq.<stream>.<consumer>` first, then the
 *   whole batch is acked. Decide them independently of any replay fence, so a redelivered batch names them again.
 * - `retry`: nothing was applied, a transient failure (Redis or NATS away): the whole batch comes again, in
 *   order, after `delayMs` (default: exponential backoff). Retries never dead-letter.
 * - `deadLetter`: every message of the batch goes to the DLQ with `reason`, then the batch is acked.
 * A handler that throws is a failure of unknown kind: the batch is retried with backoff; once its messages
 * have been delivered `maxDeliver` times they are retried one by one, and a single message that still throws
 * with a delivery count above `maxDeliver` is dead-lettered (so one poison message costs its partition a few
 * retries, never blocks it, and never vanishes). Returning nothing (undefined) means `ack`.
 */
export interface DeadLetterRequest {
  /** Stream sequence of the message. */
  seq: number;
  reason: string;
  /**
   * One event of a frame (the message at `seq`): its position in the frame. Only that event goes to the DLQ
   * (`data`, its own bytes), with the frame's sequence and this index in headers; the rest of the frame goes on.
   */
  index?: number;
  data?: Uint8Array;
}

export type BatchOutcome =
  | { kind: 'ack'; deadLetters?: DeadLetterRequest[] }
  /**
   * The batch is applied to state held in memory that is not durable yet: its dead letters are published now,
   * its messages stay unacknowledged (kept alive) until the handler's owner commits a checkpoint covering
   * them (`BatchContext.commit`). Nothing later is held back: the consumer goes on with the next batch.
   */
  | { kind: 'hold'; deadLetters?: DeadLetterRequest[] }
  | { kind: 'retry'; delayMs?: number; reason?: string }
  | { kind: 'deadLetter'; reason: string };

export const Outcome = {
  ack: (deadLetters?: DeadLetterRequest[]): BatchOutcome => (deadLetters && deadLetters.length ? { kind: 'ack', deadLetters } : { kind: 'ack' }),
  hold: (deadLetters?: DeadLetterRequest[]): BatchOutcome => (deadLetters && deadLetters.length ? { kind: 'hold', deadLetters } : { kind: 'hold' }),
  retry: (delayMs?: number, reason?: string): BatchOutcome => ({ kind: 'retry', delayMs, reason }),
  deadLetter: (reason: string): BatchOutcome => ({ kind: 'deadLetter', reason }),
} as const;

export function isBatchOutcome(value: unknown): value is BatchOutcome {
  const k = (value as { kind?: unknown } | null)?.kind;
  return k === 'ack' || k === 'hold' || k === 'retry' || k === 'deadLetter';
}

export interface BackoffPolicy {
  initialMs: number;
  maxMs: number;
  factor: number;
}

export const DEFAULT_BACKOFF: BackoffPolicy = { initialMs: 100, maxMs: 10_000, factor: 2 };

/** Delay before retry number `attempt` (1-based): initial × factor^(attempt-1), capped. */
export function backoffDelay(attempt: number, policy: BackoffPolicy = DEFAULT_BACKOFF): number {
  const n = Math.max(1, Math.floor(attempt));
  const d = policy.initialMs * Math.pow(policy.factor, n - 1);
  return Math.min(policy.maxMs, Number.isFinite(d) ? Math.round(d) : policy.maxMs);
}
