/**
 * A Lua script called with its arguments already encoded: `RespArgs` writes each argument as a RESP bulk string
 * straight into one buffer while the caller produces it, and `LuaScript` sends that buffer behind the
 * EVALSHA header as one ioredis command.
 *
 * Why: the hot scripts take thousands of arguments a call (dedup's claims, three an id; recommendation's
 * checkpoints, two a changed field). ioredis' `defineCommand` copies such an argument list several times
 * (spreads, `flat()`), then frames every argument as three pieces and copies them again; on the services'
 * profiles that was a fifth of dedup's CPU and a tenth of recommendation's (docs/benchmarks.md). Here an
 * argument costs one write into a buffer that grows by doubling.
 *
 * Everything else stays ioredis': the command goes through the client's or the pipeline's `sendCommand`, so
 * the offline queue, reconnects, timeouts, Redis Cluster routing (by the keys, which the command still
 * carries) and MOVED/ASK redirections behave as for any command. As ioredis does for defined commands, a
 * connection's first call sends EVAL with the script's text and later ones EVALSHA; a NOSCRIPT reply (the
 * server restarted, or SCRIPT FLUSH) sends the call again as EVAL. A script that did not run changed nothing,
 * so the resend is safe.
 */
import { createHash } from 'node:crypto';
import { Command, type ChainableCommander } from 'ioredis';
import type { RedisClient } from './redis-client';

const CR = 0x0d;
const LF = 0x0a;
/** Strings up to this length are written by a loop in JS; longer ones natively (faster from ~40 characters). */
const SHORT = 32;

/** A script call's arguments (its ARGV), encoded as RESP bulk strings into one growing buffer. */
export class RespArgs {
  private buf: Buffer;
  private at = 0;
  private n = 0;

  constructor(capacity = 4096) {
    this.buf = Buffer.allocUnsafe(Math.max(64, capacity));
  }

  /** Arguments written so far. */
  get count(): number {
    return this.n;
  }

  /** The encoded arguments (a view: valid until the next write). */
  bytes(): Buffer {
    return this.buf.subarray(0, this.at);
  }

  /** Bytes as they are. */
  bulk(b: Uint8Array): this {
    return this.bulkRange(b, 0, b.length);
  }

  /** Bytes `start` to `end` of `src`, as they are (short ones copied by a loop: a view of them would cost more). */
  bulkRange(src: Uint8Array, start: number, end: number): this {
    const n = end - start;
    this.room(n + 16);
    this.header(n);
    const buf = this.buf;
    // a plain view, not src.subarray: a Buffer's subarray builds another Buffer (species lookup, a bigger object)
    if (n > SHORT * 4) buf.set(new Uint8Array(src.buffer, src.byteOffset + start, n), this.at);
    else for (let i = 0, at = this.at; i < n; i++) buf[at + i] = src[start + i];
    this.at += n;
    return this.end();
  }

  /**
   * A string as UTF-8. A string that is not well-formed Unicode (a lone UTF-16 surrogate) has no UTF-8 form:
   * encoding would replace the surrogate and name another value, so it is refused (a RangeError whose message
   * starts `refused:`) and nothing of it is written.
   */
  str(s: string): this {
    const len = s.length;
    if (len > SHORT) return this.long(s);
    // A short string (an id, a number) byte by byte while it is ASCII: its byte length is then its length.
    this.room(len + 16);
    const start = this.at;
    this.header(len);
    const body = this.at;
    const buf = this.buf;
    for (let i = 0; i < len; i++) {
      const c = s.charCodeAt(i);
      if (c >= 0x80) {
        this.at = start;
        return this.long(s);
      }
      buf[body + i] = c;
    }
    this.at = body + len;
    return this.end();
  }

  /** A number in decimal (as `String(x)`). */
  num(x: number): this {
    return this.str(String(x));
  }

  /** Any of the above by type (a Buffer as it is, a number in decimal, a string as UTF-8). */
  arg(x: string | number | Uint8Array): this {
    return typeof x === 'string' ? this.str(x) : typeof x === 'number' ? this.num(x) : this.bulk(x);
  }

  /** Natively: a byte length equal to the length means ASCII (any other character takes 2 bytes or more). */
  private long(s: string): this {
    const bytes = Buffer.byteLength(s, 'utf8');
    const ascii = bytes === s.length;
    if (!ascii && !s.isWellFormed()) throw new RangeError('refused: an argument is not well-formed Unicode (a lone surrogate)');
    this.room(bytes + 16);
    this.header(bytes);
    this.at += this.buf.write(s, this.at, ascii ? 'latin1' : 'utf8');
    return this.end();
  }

  /** `$<length>\r\n` */
  private header(length: number): void {
    const buf = this.buf;
    buf[this.at++] = 0x24;
    if (length < 10) buf[this.at++] = 0x30 + length;
    else {
      // the digits from the last, in place: no string, no native call
      let end = this.at + 1;
      for (let x = length; x >= 10; x = Math.floor(x / 10)) end++;
      this.at = end;
      for (let x = length; x > 0; x = Math.floor(x / 10)) buf[--end] = 0x30 + (x % 10);
    }
    buf[this.at++] = CR;
    buf[this.at++] = LF;
  }

  private end(): this {
    this.buf[this.at++] = CR;
    this.buf[this.at++] = LF;
    this.n++;
    return this;
  }

  private room(bytes: number): void {
    if (this.at + bytes <= this.buf.length) return;
    let size = this.buf.length * 2;
    while (size < this.at + bytes) size *= 2;
    const next = Buffer.allocUnsafe(size);
    this.buf.copy(next, 0, 0, this.at);
    this.buf = next;
  }
}

/** Where a command can be sent: a client, or a pipeline (whose type does not declare what it has). */
interface CommandSink {
  sendCommand(command: Command): unknown;
}

function canSend(target: object): target is CommandSink {
  return typeof (target as Partial<CommandSink>).sendCommand === 'function';
}

/** A pipeline's or a client's socket object, as ioredis hands it to toWritable (used only as a WeakSet key). */
type Socket = object;

/** One call of a script: ioredis' command, carrying the keys (for routing) and the encoded ARGV. */
class ScriptCall extends Command {
  constructor(
    private readonly script: LuaScript<unknown>,
    keys: readonly string[],
    private readonly argv: Buffer,
    private readonly argc: number,
    replyEncoding: 'utf8' | null,
  ) {
    super('evalsha', [script.sha, String(keys.length), ...keys], { replyEncoding });
  }

  override toWritable(socket: Socket): Buffer {
    // As ioredis' defined commands: EVAL on a connection that has not run the script, EVALSHA after.
    const loaded = this.script.loadedOn(socket);
    if (!loaded) this.script.markLoaded(socket);
    const reject = this.reject;
    this.reject = (err: Error) => {
      if (err.message.includes('NOSCRIPT')) this.script.forget(socket);
      reject.call(this, err);
    };
    const w = new RespArgs(256 + (loaded ? 0 : Buffer.byteLength(this.script.lua)));
    w.str(loaded ? 'evalsha' : 'eval').str(loaded ? this.script.sha : this.script.lua);
    for (let i = 1; i < this.args.length; i++) w.arg(this.args[i] as string);
    const head = Buffer.from(`*${2 + (this.args.length - 1) + this.argc}\r\n`, 'latin1');
    return Buffer.concat([head, w.bytes(), this.argv]);
  }
}

/** A script's reply: bulk strings as strings ('utf8', the default) or as Buffers ('buffer': binary values). */
export type ScriptReply = 'utf8' | 'buffer';

/**
 * A script whose reply is an `R`, called with RespArgs (or a short argument list) on a client or in a pipeline.
 * One instance per script, at module level: it remembers which connections have run it.
 */
export class LuaScript<R = unknown> {
  readonly sha: string;
  private readonly sockets = new WeakSet<Socket>();
  private readonly encoding: 'utf8' | null;

  constructor(
    readonly lua: string,
    options: { reply?: ScriptReply } = {},
  ) {
    this.sha = createHash('sha1').update(lua).digest('hex');
    this.encoding = options.reply === 'buffer' ? null : 'utf8';
  }

  /**
   * Calls the script with these keys and arguments on a client, or queues the call in a pipeline (then its
   * reply comes with the pipeline's, and the promise returned here settles with it). A RespArgs passed here
   * belongs to the call: write no more to it.
   */
  call(target: RedisClient | ChainableCommander, keys: readonly string[], args: RespArgs | readonly (string | number | Uint8Array)[] = []): Promise<R> {
    if (!canSend(target)) throw new TypeError('not a Redis client or pipeline');
    let encoded: RespArgs;
    if (args instanceof RespArgs) encoded = args;
    else {
      encoded = new RespArgs(256);
      for (const a of args) encoded.arg(a);
    }
    const argv = encoded.bytes();
    const command = new ScriptCall(this, keys, argv, encoded.count, this.encoding);
    command.promise = command.promise.catch((err: Error) => {
      if (!err.message.includes('NOSCRIPT')) throw err;
      // the connection lost the script (a restart, SCRIPT FLUSH): send it again, as EVAL this time
      const again = new ScriptCall(this, keys, argv, encoded.count, this.encoding);
      const client: object = 'isPipeline' in target && target.isPipeline && 'redis' in target ? (target.redis as object) : target;
      if (!canSend(client)) throw err;
      client.sendCommand(again);
      return again.promise;
    });
    target.sendCommand(command);
    return command.promise as Promise<R>;
  }

  loadedOn(socket: Socket): boolean {
    return this.sockets.has(socket);
  }

  markLoaded(socket: Socket): void {
    this.sockets.add(socket);
  }

  forget(socket: Socket): void {
    this.sockets.delete(socket);
  }
}
