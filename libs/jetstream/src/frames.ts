/**
 * Reading a batch of frames (events.raw / events.clean) into events, for every consumer alike: a message
 * that is not a frame is dead-lettered whole; an event that is not JSON, or holds a string that is not
 * well-formed Unicode (a lone surrogate, which ingestion refuses but another publisher could store, and
 * which no state store can key), is dead-lettered alone, with its frame's sequence and its index, and the
 * rest of its frame goes on. A consumer that reads only some events may pass `keep`, a test of an event's
 * text: an event it refuses is skipped unparsed (counted, neither given nor dead-lettered). Pure.
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
  /** Events `keep` refused, not parsed. */
  skipped: number;
}

/**
 * A `keep` for decodeFrames: false only for an event whose text names none of `words` (e.g. the event types a
 * consumer reads), which therefore cannot hold any of them as a string — as its `type` or anywhere else. JSON
 * can spell a character only as itself or as an escape, and an escape needs a backslash: a text with one is
 * always kept (parsed and looked at). The words are ASCII, so the text holds one exactly where the bytes do.
 * What it refuses could only ever have been parsed to be ignored: it saves JSON.parse, most of the decoding.
 */
export function mentioning(words: readonly string[]): (text: string) => boolean {
  for (const w of words) if (!/^[\x20-\x7e]+$/.test(w)) throw new Error(`mentioning takes printable ASCII words, not ${JSON.stringify(w)}`);
  return (text) => {
    if (text.includes('\\')) return true;
    for (const w of words) if (text.includes(w)) return true;
    return false;
  };
}

export function decodeFrames(batch: readonly Pick<ConsumedMessage, 'seq' | 'data'>[], keep?: (text: string) => boolean): DecodedBatch {
  const events: FramedEvent[] = [];
  const deadLetters: DeadLetterRequest[] = [];
  let count = 0;
  let skipped = 0;
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
      if (keep !== undefined && !keep(text)) {
        skipped++;
        continue;
      }
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
  return { events, deadLetters, count, skipped };
}
