/**
 * NDJSON framing, for HTTP bodies and the TCP stream. Pure.
 *
 * Lines end with `\n` (a preceding `\r` is dropped). Blank lines are skipped. Lines are numbered from 1,
 * counting every line, so an error names the line the client sent. A line longer than `maxLineBytes` is
 * reported as over-long and skipped up to its end; the stream goes on. Bytes are only decoded once a whole
 * line is there, so a multi-byte character split across chunks is never broken.
 */

export type Frame =
  /** `bytes`: the line as sent (without its newline and a trailing `\r`); `text`: those bytes decoded. */
  | { kind: 'line'; line: number; text: string; bytes: Buffer }
  | { kind: 'overlong'; line: number; bytes: number };

const NL = 0x0a;
const CR = 0x0d;

export class LineFramer {
  private pending: Buffer[] = [];
  private pendingBytes = 0;
  /** Skipping the rest of an over-long line until the next newline. */
  private discarding = false;
  private discardedBytes = 0;
  private lineNo = 0;

  constructor(private readonly maxLineBytes: number) {}

  push(chunk: Buffer): Frame[] {
    const frames: Frame[] = [];
    let start = 0;
    while (start < chunk.length) {
      const nl = chunk.indexOf(NL, start);
      const end = nl === -1 ? chunk.length : nl;
      const piece = chunk.subarray(start, end);
      if (this.discarding) {
        this.discardedBytes += piece.length;
      } else if (this.pendingBytes + piece.length > this.maxLineBytes + 1) {
        // +1: a trailing \r is not part of the line's length.
        this.discarding = true;
        this.discardedBytes = this.pendingBytes + piece.length;
        this.pending = [];
        this.pendingBytes = 0;
      } else if (piece.length > 0) {
        this.pending.push(piece);
        this.pendingBytes += piece.length;
      }
      if (nl === -1) break;
      this.completeLine(frames);
      start = nl + 1;
    }
    return frames;
  }

  /** The stream ended: a last line without a newline still counts. */
  end(): Frame[] {
    const frames: Frame[] = [];
    if (this.discarding || this.pendingBytes > 0) this.completeLine(frames);
    return frames;
  }

  private completeLine(frames: Frame[]): void {
    this.lineNo++;
    if (this.discarding) {
      frames.push({ kind: 'overlong', line: this.lineNo, bytes: this.discardedBytes });
      this.discarding = false;
      this.discardedBytes = 0;
      return;
    }
    let buf = this.pending.length === 1 ? this.pending[0] : Buffer.concat(this.pending, this.pendingBytes);
    this.pending = [];
    this.pendingBytes = 0;
    if (buf.length > 0 && buf[buf.length - 1] === CR) buf = buf.subarray(0, buf.length - 1);
    if (buf.length > this.maxLineBytes) {
      frames.push({ kind: 'overlong', line: this.lineNo, bytes: buf.length });
      return;
    }
    const text = buf.toString('utf8');
    if (text.trim() === '') return;
    frames.push({ kind: 'line', line: this.lineNo, text, bytes: buf });
  }
}

/**
 * One record of a request body: a parsed value, or why it could not be parsed. `raw`: the bytes the value
 * was parsed from, when it came from a line of its own (NDJSON, TCP); ingestion stores them as they are when
 * validation left the event unchanged (planIngest), instead of serialising it again.
 */
export type BodyRecord = { value: unknown; line?: number; raw?: Buffer } | { error: string; line?: number };

/** Splits an NDJSON body into records (blank lines skipped), parsing each line on its own. */
export function parseNdjson(body: Buffer | string, maxLineBytes: number): BodyRecord[] {
  const framer = new LineFramer(maxLineBytes);
  const frames = framer.push(typeof body === 'string' ? Buffer.from(body, 'utf8') : body);
  for (const f of framer.end()) frames.push(f);
  const out = new Array<BodyRecord>(frames.length);
  for (let i = 0; i < frames.length; i++) out[i] = frameToRecord(frames[i]);
  return out;
}

export function frameToRecord(frame: Frame): BodyRecord {
  if (frame.kind === 'overlong') {
    return { line: frame.line, error: `line ${frame.line} is ${frame.bytes} bytes, over the limit` };
  }
  try {
    return { line: frame.line, value: JSON.parse(frame.text), raw: frame.bytes };
  } catch (e) {
    return { line: frame.line, error: `line ${frame.line} is not valid JSON: ${(e as Error).message}` };
  }
}

/**
 * A request body in any accepted shape: a JSON object, a JSON array of objects, or NDJSON. `contentType`
 * decides; without one, a body that parses as one JSON value is JSON, else NDJSON.
 */
export function parseBody(body: Buffer | string, contentType: string | undefined, maxLineBytes: number): BodyRecord[] {
  const ct = (contentType ?? '').split(';')[0].trim().toLowerCase();
  const ndjson = ct === 'application/x-ndjson' || ct === 'application/ndjson' || ct === 'application/jsonl';
  // NDJSON is split as bytes and each line decoded alone: the body is not decoded whole first.
  if (ndjson) return parseNdjson(body, maxLineBytes);
  let parsed: unknown;
  try {
    parsed = JSON.parse(typeof body === 'string' ? body : body.toString('utf8'));
  } catch (e) {
    if (ct === 'application/json') throw new BodyError(`body is not valid JSON: ${(e as Error).message}`);
    return parseNdjson(body, maxLineBytes);
  }
  return jsonToRecords(parsed);
}

export function jsonToRecords(parsed: unknown): BodyRecord[] {
  return Array.isArray(parsed) ? parsed.map((value) => ({ value })) : [{ value: parsed }];
}

/** The body as a whole cannot be read. */
export class BodyError extends Error {
  override readonly name = 'BodyError';
}
