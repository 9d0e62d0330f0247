/**
 * Frames: one JetStream message on `events.raw.<p>` and `events.clean.<p>` carries many events of one
 * partition, in order (docs/architecture.md, "Frames on the wire"). Pure: no I/O.
 *
 * Layout (little-endian), version 1:
 *
 *   "TMF1"                     4 bytes, magic and version
 *   count                      u32: events in the frame
 *   index                      count × { bodyLength u32, idLength u16, id (UTF-8, idLength bytes) }
 *   body                       the events' JSON, each followed by "\n" (so the body is NDJSON)
 *
 * The index lets dedup read ids and cut a frame into a smaller one without parsing a single event; the
 * consumers parse each event on its own, so one broken event is dead-lettered alone (its frame sequence
 * and index say where it came from) and the rest of its frame goes on.
 */

export const FRAME_MAGIC = 'TMF1';
const MAGIC = Buffer.from(FRAME_MAGIC, 'latin1');
const HEADER = 8;
const ENTRY = 6;
/** An id is at most 128 UTF-16 code units: at most 384 UTF-8 bytes. u16 is plenty. */
const MAX_ID_BYTES = 0xffff;

/** Frame size limits: ingestion and dedup never build a larger frame; consumers refuse a larger one. */
export interface FrameLimits {
  /** Events per frame at most (default 1000). */
  maxEvents: number;
  /** Bytes per frame at most, index included (default 256 KiB, well under NATS' 1 MiB max_payload). */
  maxBytes: number;
}

export const DEFAULT_FRAME_LIMITS: FrameLimits = { maxEvents: 1000, maxBytes: 256 * 1024 };

/** Bytes a frame of these entries takes. */
export function frameSize(entries: readonly { id: Buffer; body: Buffer }[]): number {
  let n = HEADER;
  for (const e of entries) n += ENTRY + e.id.length + e.body.length + 1;
  return n;
}

/** Bytes one more entry adds to a frame. */
export const entrySize = (idBytes: number, bodyBytes: number): number => ENTRY + idBytes + bodyBytes + 1;
export const EMPTY_FRAME_SIZE = HEADER;

export interface FrameEntry {
  /** The event id, UTF-8. */
  id: Buffer;
  /** The event's JSON, without the trailing newline. */
  body: Buffer;
}

/** Encodes entries (in order) into one frame. */
export function encodeFrame(entries: readonly FrameEntry[]): Buffer {
  const out = Buffer.allocUnsafe(frameSize(entries));
  MAGIC.copy(out, 0);
  out.writeUInt32LE(entries.length, 4);
  let at = HEADER;
  for (const e of entries) {
    if (e.id.length > MAX_ID_BYTES) throw new RangeError(`event id of ${e.id.length} bytes does not fit a frame`);
    out.writeUInt32LE(e.body.length, at);
    out.writeUInt16LE(e.id.length, at + 4);
    e.id.copy(out, at + ENTRY);
    at += ENTRY + e.id.length;
  }
  for (const e of entries) {
    e.body.copy(out, at);
    at += e.body.length;
    out[at++] = 0x0a;
  }
  return out;
}

/** A decoded frame: views into the message's bytes (no copies). */
export interface EventFrame {
  count: number;
  /** ids[i]: the i-th event's id (UTF-8 bytes). */
  ids: Buffer[];
  /** bodies[i]: the i-th event's JSON (no newline). */
  bodies: Buffer[];
}

export class FrameError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'FrameError';
  }
}

function asBuffer(data: Uint8Array): Buffer {
  return Buffer.isBuffer(data) ? data : Buffer.from(data.buffer, data.byteOffset, data.byteLength);
}

/** True when the bytes start like a frame (the magic). */
export function isFrame(data: Uint8Array): boolean {
  return data.byteLength >= HEADER && asBuffer(data).compare(MAGIC, 0, 4, 0, 4) === 0;
}

/** Decodes a frame; throws FrameError when the bytes are not a whole, well-formed frame. */
export function decodeFrame(data: Uint8Array): EventFrame {
  const buf = asBuffer(data);
  if (!isFrame(buf)) throw new FrameError(`not a frame (no ${FRAME_MAGIC} magic)`);
  const count = buf.readUInt32LE(4);
  // Each entry takes at least ENTRY + 1 bytes: a count beyond that cannot be honest (and must not allocate).
  if (count * (ENTRY + 1) > buf.length - HEADER) throw new FrameError(`frame claims ${count} events in ${buf.length} bytes`);
  const ids: Buffer[] = new Array(count);
  const lengths: number[] = new Array(count);
  let at = HEADER;
  for (let i = 0; i < count; i++) {
    if (at + ENTRY > buf.length) throw new FrameError(`frame index cut short at event ${i}`);
    lengths[i] = buf.readUInt32LE(at);
    const idLength = buf.readUInt16LE(at + 4);
    at += ENTRY;
    if (at + idLength > buf.length) throw new FrameError(`frame index cut short in the id of event ${i}`);
    ids[i] = buf.subarray(at, at + idLength);
    at += idLength;
  }
  const bodies: Buffer[] = new Array(count);
  for (let i = 0; i < count; i++) {
    const end = at + lengths[i];
    if (end >= buf.length) throw new FrameError(`frame body cut short at event ${i}`);
    if (buf[end] !== 0x0a) throw new FrameError(`event ${i} of the frame does not end with a newline`);
    bodies[i] = buf.subarray(at, end);
    at = end + 1;
  }
  if (at !== buf.length) throw new FrameError(`${buf.length - at} stray bytes after the frame's last event`);
  return { count, ids, bodies };
}

/** The number of events a frame says it holds, without decoding it (0 when it is not a frame). */
export function frameCount(data: Uint8Array): number {
  return isFrame(data) ? asBuffer(data).readUInt32LE(4) : 0;
}

/**
 * Groups entries, in order, into frames within the limits (a new frame starts when the next entry would
 * pass either). An entry larger than `maxBytes` on its own still gets a frame of its own: the caller has
 * already bounded event sizes (ingestion's body limit), and splitting an event is not possible.
 */
export function chunkFrames<T extends FrameEntry>(entries: readonly T[], limits: FrameLimits = DEFAULT_FRAME_LIMITS): T[][] {
  const out: T[][] = [];
  let current: T[] = [];
  let bytes = HEADER;
  for (const e of entries) {
    const size = entrySize(e.id.length, e.body.length);
    if (current.length > 0 && (current.length >= limits.maxEvents || bytes + size > limits.maxBytes)) {
      out.push(current);
      current = [];
      bytes = HEADER;
    }
    current.push(e);
    bytes += size;
  }
  if (current.length > 0) out.push(current);
  return out;
}

/**
 * The events of a message on events.raw / events.clean: a frame's, or a single JSON event (the format
 * before frames, still read so that messages stored by an older version drain after an upgrade).
 * Throws FrameError when neither can be read (for a single event: no JSON object with a string id).
 */
export function readFrame(data: Uint8Array): EventFrame {
  if (isFrame(data)) return decodeFrame(data);
  const buf = asBuffer(data);
  let id: unknown;
  try {
    id = (JSON.parse(buf.toString('utf8')) as { id?: unknown } | null)?.id;
  } catch (e) {
    throw new FrameError(`neither a frame nor a JSON event: ${(e as Error).message}`);
  }
  if (typeof id !== 'string' || id.length === 0) throw new FrameError('a single-event message without a string id');
  return { count: 1, ids: [Buffer.from(id)], bodies: [buf] };
}

/** The events' bodies of a message (a frame's, or the message itself when it is a single JSON event). */
export function frameBodies(data: Uint8Array): Buffer[] {
  return isFrame(data) ? decodeFrame(data).bodies : [asBuffer(data)];
}
