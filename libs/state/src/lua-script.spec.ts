import fc from 'fast-check';
import { Command } from 'ioredis';
import { LuaScript, RespArgs } from './lua-script';

/** What ioredis itself sends for this command (its own encoder: the reference). */
function ioredisBytes(name: string, args: (string | Buffer)[]): Buffer {
  const c = new Command(name, args);
  c.stringifyArguments();
  const w = c.toWritable({} as never);
  return typeof w === 'string' ? Buffer.from(w, 'utf8') : w;
}

/** The command LuaScript hands to a client, captured instead of sent. */
function captured(script: LuaScript, keys: string[], args: RespArgs | (string | number | Buffer)[]): Command {
  let got: Command | undefined;
  const sink = { sendCommand: (c: Command) => (got = c) };
  void script.call(sink as never, keys, args).catch(() => undefined);
  return got!;
}

// well-formed strings only: code points, not UTF-16 units (a lone surrogate is refused, tested below)
const text = fc.oneof(
  fc.string({ unit: 'binary' }),
  fc.string(),
  fc.string({ unit: 'binary', minLength: 30, maxLength: 200 }), // past the JS loop's length: written natively
  fc.string({ minLength: 30, maxLength: 200 }),
  fc.constantFrom('', 'a', 'Z:r', '{p1}', '会话', '😀', 'é'.repeat(40), 'x'.repeat(32), 'x'.repeat(33)),
);
const arg = fc.oneof(
  text,
  fc.uint8Array({ maxLength: 300 }).map((a) => Buffer.from(a)),
  fc.oneof(fc.integer(), fc.double({ noNaN: true })),
);

describe('RespArgs', () => {
  it('encodes arguments as ioredis does (property)', () => {
    fc.assert(
      fc.property(fc.array(arg, { maxLength: 40 }), fc.integer({ min: 1, max: 512 }), (args, capacity) => {
        const w = new RespArgs(capacity);
        for (const a of args) w.arg(a);
        expect(w.count).toBe(args.length);
        const asIoredis = args.map((a) => (typeof a === 'number' ? String(a) : a));
        const ref = ioredisBytes('x', asIoredis);
        // ioredis' bytes are `*<n+1>\r\n$1\r\nx\r\n` then the arguments
        const head = Buffer.byteLength(`*${args.length + 1}\r\n$1\r\nx\r\n`);
        expect(w.bytes().equals(ref.subarray(head))).toBe(true);
      }),
      { numRuns: 300 },
    );
  });

  it('a range of a buffer is the argument ioredis sends for that range as a Buffer, short or long (property)', () => {
    fc.assert(
      fc.property(fc.uint8Array({ maxLength: 400 }), fc.nat(), fc.nat(), fc.integer({ min: 1, max: 256 }), (bytes, a, b, capacity) => {
        const src = Buffer.from(bytes);
        const [start, end] = [a % (src.length + 1), b % (src.length + 1)].sort((x, y) => x - y);
        const w = new RespArgs(capacity).str('k').bulkRange(src, start, end);
        expect(w.count).toBe(2);
        const ref = ioredisBytes('x', ['k', Buffer.from(src.subarray(start, end))]);
        expect(w.bytes().equals(ref.subarray(Buffer.byteLength('*3\r\n$1\r\nx\r\n')))).toBe(true);
      }),
      { numRuns: 300 },
    );
  });

  it('grows past its capacity without losing what it holds', () => {
    const w = new RespArgs(64);
    const big = Buffer.alloc(10_000, 7);
    w.str('a').bulk(big).str('ü'.repeat(3000)).num(12345);
    const head = Buffer.byteLength('*5\r\n$1\r\nx\r\n');
    expect(w.bytes().equals(ioredisBytes('x', ['a', big, 'ü'.repeat(3000), '12345']).subarray(head))).toBe(true);
  });

  it('refuses a lone surrogate and writes nothing of it', () => {
    const w = new RespArgs(64).str('ok');
    const before = Buffer.from(w.bytes());
    for (const bad of ['\ud800', 'a\udc00b', 'x😀\ud83d', `${'a'.repeat(40)}\ud800`, `${'é'.repeat(40)}\udc00`]) expect(() => w.str(bad)).toThrow(/^refused: .*lone surrogate/);
    expect(w.bytes().equals(before)).toBe(true);
    expect(w.count).toBe(1);
  });
});

describe('LuaScript', () => {
  const lua = "return {KEYS[1], ARGV[1]}";
  const script = new LuaScript(lua);

  it('sends EVAL on a connection that has not run it, EVALSHA after, with the keys and arguments as ioredis would', () => {
    const socket = {};
    const keys = ['k{1}', 'k{1}:b'];
    const args = ['a', Buffer.from([0, 255, 13, 10]), 'ü'];
    const first = captured(script, keys, args).toWritable(socket as never);
    expect(Buffer.from(first).equals(ioredisBytes('eval', [lua, '2', ...keys, ...args]))).toBe(true);
    const second = captured(script, keys, args).toWritable(socket as never);
    expect(Buffer.from(second).equals(ioredisBytes('evalsha', [script.sha, '2', ...keys, ...args]))).toBe(true);
    // another connection has not run it
    const other = captured(script, keys, args).toWritable({} as never);
    expect(Buffer.from(other).equals(ioredisBytes('eval', [lua, '2', ...keys, ...args]))).toBe(true);
  });

  it('carries its keys for Redis Cluster routing', () => {
    expect(captured(script, ['a{x}', 'b{x}'], new RespArgs().str('v')).getKeys()).toEqual(['a{x}', 'b{x}']);
    expect(captured(script, [], ['v']).getKeys()).toEqual([]);
  });

  it('a NOSCRIPT reply makes the connection send EVAL again', () => {
    const socket = {};
    captured(script, [], ['v']).toWritable(socket as never); // EVAL: now loaded
    const c = captured(script, [], ['v']);
    expect(String(c.toWritable(socket as never))).toContain('evalsha');
    c.reject(new Error('NOSCRIPT No matching script.'));
    expect(String(captured(script, [], ['v']).toWritable(socket as never))).toContain(`\r\neval\r\n`);
  });

  it('refuses a target that cannot send commands', () => {
    expect(() => script.call({} as never, [], [])).toThrow(TypeError);
  });
});
