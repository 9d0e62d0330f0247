/**
 * How a partial's field is stored (docs/recommendations.md "Where the state lives"): binary, little-endian,
 * so that a checkpoint writes numbers as their 8 bytes instead of formatting them as text (formatting a double
 * costs more than everything else a member costs) and a read or a restore takes them back without parsing.
 *
 *   byte 0      FORMAT (1); a field written by an earlier version is JSON and starts with `[`, and is still read
 *   decayed     f64 epoch (NaN: none), f64 t, (nb) category as a string or the byte-length 0xFFFFFFFF (none),
 *               then per member: id, f64 stored, (nb) u8 level
 *   vs          f64 t, then per member: id, f64 time
 *   u           f64 t, u32 count of recent members, then per member (recent, then bought): id, f64 time
 * A string is its UTF-8 byte length (u32) and the bytes. Members in no particular order: a read sorts.
 * Numbers travel bit for bit, so what a restore reads is what the partial held. Pure.
 */

export const FORMAT = 1;
const NONE = 0xffffffff;

/** A lone UTF-16 surrogate has no UTF-8 form: it would come back as U+FFFD, another id. Refused whole. */
function wellFormed(s: string): string {
  if (!s.isWellFormed()) throw new Error('refused: an id is not well-formed Unicode (a lone surrogate)');
  return s;
}

/**
 * Appends fields to one growing buffer; each finished field is a view of it (a checkpoint's values share one
 * allocation). Growing moves on to a bigger buffer: views already taken keep the old one, which no write touches.
 */
export class FieldWriter {
  private buf: Buffer;
  /** The same bytes as a DataView: its setFloat64 / setUint32 compile to a store, Buffer's write*LE do not. */
  private view: DataView;
  private at = 0;
  private start = 0;

  constructor(size = 4096) {
    this.buf = Buffer.allocUnsafe(size);
    this.view = new DataView(this.buf.buffer, this.buf.byteOffset, this.buf.length);
  }

  private room(n: number): void {
    if (this.at + n <= this.buf.length) return;
    const next = Buffer.allocUnsafe(Math.max(2 * this.buf.length, this.at - this.start + n + 4096));
    this.buf.copy(next, 0, this.start, this.at);
    this.at -= this.start;
    this.start = 0;
    this.buf = next;
    this.view = new DataView(next.buffer, next.byteOffset, next.length);
  }

  /** Forgets what was written (views already taken see later writes: only for a writer whose fields went out by `endInto`). */
  reset(): this {
    this.at = 0;
    this.start = 0;
    return this;
  }

  /** Starts a field (its format byte). */
  begin(): this {
    this.start = this.at;
    this.room(1);
    this.buf[this.at++] = FORMAT;
    return this;
  }

  /** The field begun last, as a view. */
  end(): Buffer {
    const v = this.buf.subarray(this.start, this.at);
    this.start = this.at;
    return v;
  }

  /** The field begun last, handed to `sink` as a range of this writer's buffer (no view made: a checkpoint's many fields). */
  endInto<T>(sink: { bulkRange(src: Uint8Array, start: number, end: number): T }): T {
    const start = this.start;
    this.start = this.at;
    return sink.bulkRange(this.buf, start, this.at);
  }

  f64(x: number): this {
    this.room(8);
    this.view.setFloat64(this.at, x, true);
    this.at += 8;
    return this;
  }

  u32(x: number): this {
    this.room(4);
    this.view.setUint32(this.at, x, true);
    this.at += 4;
    return this;
  }

  u8(x: number): this {
    this.room(1);
    this.buf[this.at++] = x;
    return this;
  }

  str(s: string | null | undefined): this {
    if (s === null || s === undefined) return this.u32(NONE);
    this.room(4 + 3 * s.length);
    // ASCII (most ids) byte by byte: a quarter of Buffer.write's cost for short strings; anything else through it
    const len = s.length;
    const at = this.at + 4;
    let n = 0;
    while (n < len) {
      const c = s.charCodeAt(n);
      if (c > 0x7f) break;
      this.buf[at + n++] = c;
    }
    if (n < len) n = this.buf.write(wellFormed(s), at, 'utf8');
    this.view.setUint32(this.at, n, true);
    this.at += 4 + n;
    return this;
  }
}

/** Reads a field written by FieldWriter. Throws on a truncated or foreign value. */
export class FieldReader {
  private at: number;
  private readonly view: DataView;

  constructor(private readonly buf: Buffer) {
    if (buf.length === 0 || buf[0] !== FORMAT) throw new Error(`not a format-${FORMAT} field`);
    this.at = 1;
    this.view = new DataView(buf.buffer, buf.byteOffset, buf.length);
  }

  get done(): boolean {
    return this.at >= this.buf.length;
  }

  f64(): number {
    const x = this.view.getFloat64(this.at, true);
    this.at += 8;
    return x;
  }

  u32(): number {
    const x = this.view.getUint32(this.at, true);
    this.at += 4;
    return x;
  }

  u8(): number {
    if (this.at >= this.buf.length) throw new RangeError('field ends early');
    return this.buf[this.at++];
  }

  str(): string | null {
    const n = this.u32();
    if (n === NONE) return null;
    if (this.at + n > this.buf.length) throw new RangeError('field ends early');
    const s = this.buf.toString('utf8', this.at, this.at + n);
    this.at += n;
    return s;
  }
}

/** A value as Redis holds it (read as bytes: a binary field is not UTF-8 text): FORMAT 1, or JSON written before it. */
export type StoredValue = Buffer;

/** A stored value's reader, or null for the JSON of an earlier version (it starts with `[`). */
export function binaryField(v: StoredValue): FieldReader | null {
  return v[0] === 0x5b ? null : new FieldReader(v);
}

export function jsonOf(v: StoredValue): unknown[] {
  return JSON.parse(v.toString('utf8')) as unknown[];
}
