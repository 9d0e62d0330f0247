/**
 * Reading a batch of frames (events.raw / events.clean) into events, for every consumer alike: a message
 * that is not a frame is dead-lettered whole; an event that is not JSON is dead-lettered alone, with its
 * frame's sequence and its index, and the rest of its frame goes on. Pure.
 */
import { frameBodies } from '@tidemark/contracts';
import type { ConsumedMessage } from './message';
import type { DeadLetterRequest } from './outcome';

export interface FramedEvent {
  /** The frame's stream sequence (shared by all its events). */
  seq: number;
  /** The event's position in its frame. */
  index: number;
  event: unknown;
}

export interface DecodedBatch {
  events: FramedEvent[];
  deadLetters: DeadLetterRequest[];
  /** Events the batch's frames hold, broken ones included. */
  count: number;
}

export function decodeFrames(batch: readonly Pick<ConsumedMessage, 'seq' | 'data'>[]): DecodedBatch {
  const events: FramedEvent[] = [];
  const deadLetters: DeadLetterRequest[] = [];
  let count = 0;
  for (const m of batch) {
    let bodies: Buffer[];
    try {
      bodies = frameBodies(m.data);
    } catch (e) {
      deadLetters.push({ seq: m.seq, reason: `unreadable frame: ${(e as Error).message}` });
      continue;
    }
    count += bodies.length;
    for (let index = 0; index < bodies.length; index++) {
      try {
        events.push({ seq: m.seq, index, event: JSON.parse(bodies[index].toString('utf8')) });
      } catch (e) {
        deadLetters.push({ seq: m.seq, index, data: bodies[index], reason: `not JSON: ${(e as Error).message}` });
      }
    }
  }
  return { events, deadLetters, count };
}
