/**
 * Waiting for asynchronous effects without bare sleeps: retry an assertion until a deadline, or wait until a
 * JetStream consumer has nothing pending.
 */
import type { NatsConnection } from '@nats-io/nats-core';
import { jetstreamManager, type ConsumerInfo, type JetStreamManager } from '@nats-io/jetstream';

export interface EventuallyOptions {
  /** Give up after this long (default 20 000 ms); the last error is rethrown. */
  timeoutMs?: number;
  /** Pause between attempts (default 50 ms). */
  intervalMs?: number;
}

const pause = (ms: number) => new Promise<void>((r) => setTimeout(r, ms));

/** Thrown by an assertion that can never pass any more (e.g. the process it waits for has died): no retry. */
export class GiveUp extends Error {
  override name = 'GiveUp';
}

/**
 * Runs `assertion` until it returns (or resolves) without throwing, and returns its value. After `timeoutMs`
 * the last error is rethrown (its message prefixed with how long was waited), so a failing `expect` reads as usual.
 */
export async function eventually<T>(assertion: () => T | Promise<T>, options: EventuallyOptions = {}): Promise<T> {
  const timeoutMs = options.timeoutMs ?? 20_000;
  const intervalMs = options.intervalMs ?? 50;
  const deadline = Date.now() + timeoutMs;
  let attempts = 0;
  for (;;) {
    attempts++;
    try {
      return await assertion();
    } catch (error) {
      if (error instanceof GiveUp) throw error;
      if (Date.now() + intervalMs > deadline) {
        if (error instanceof Error) {
          error.message = `eventually: still failing after ${timeoutMs} ms (${attempts} attempts): ${error.message}`;
          throw error;
        }
        throw error;
      }
    }
    await pause(intervalMs);
  }
}

export interface QuiescenceOptions extends EventuallyOptions {
  /** Also require the consumer's ack floor to have reached this stream sequence. */
  minAckFloor?: number;
}

/**
 * Waits until the durable consumer `durable` on `stream` has no message pending delivery and none awaiting
 * an ack (`num_pending + num_ack_pending == 0`): everything it filters is processed and acknowledged.
 * Accepts a connection or a JetStreamManager. Returns the final consumer info.
 */
export async function waitForQuiescence(
  conn: NatsConnection | JetStreamManager,
  stream: string,
  durable: string,
  options: QuiescenceOptions = {},
): Promise<ConsumerInfo> {
  const jsm = 'consumers' in conn ? conn : await jetstreamManager(conn);
  return eventually(
    async () => {
      const info = await jsm.consumers.info(stream, durable);
      if (info.num_pending + info.num_ack_pending !== 0) {
        throw new Error(`consumer ${stream}/${durable} not quiescent: num_pending=${info.num_pending} num_ack_pending=${info.num_ack_pending}`);
      }
      if (options.minAckFloor !== undefined && info.ack_floor.stream_seq < options.minAckFloor) {
        throw new Error(`consumer ${stream}/${durable}: ack floor ${info.ack_floor.stream_seq} < ${options.minAckFloor}`);
      }
      return info;
    },
    { timeoutMs: options.timeoutMs ?? 20_000, intervalMs: options.intervalMs ?? 50 },
  );
}
