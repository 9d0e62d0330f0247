/**
 * Reading a batch of frames (events.raw / events.clean) into events, for every consumer alike: a message
 * that is not a frame is dead-lettered whole; an event that is not JSON, or holds a string that is not
 * well-formed Unicode (a lone surrogate, which ingestion refuses but another publisher could store, and
 * which no state store can key), is dead-lettered alone, with its frame's sequence and its index, and the
 * rest of its frame goes on. Pure.
 */
import { frameBodies, illFormedStrings } from '@tidemark/contracts';
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
      const text = bodies[index].toString('utf8');
      let event: unknown;
      try {
        event = JSON.parse(text);
      } catch (e) {
        deadLetters.push({ seq: m.seq, index, data: bodies[index], reason: `not JSON: ${(e as Error).message}` });
        continue;
      }
      // Only a \u escape can make a lone surrogate (UTF-8 bytes cannot): the walk runs only then.
      const illFormed = text.includes('\\u') ? illFormedStrings(event) : [];
      if (illFormed.length > 0) {
        deadLetters.push({ seq: m.seq, index, data: bodies[index], reason: `strings that are not well-formed Unicode: ${illFormed.join(', ')}` });
        continue;
      }
      events.push({ seq: m.seq, index, event });
    }
  }
  return { events, deadLetters, count };
}
