import fc from 'fast-check';
import { DEFAULT_FRAME_LIMITS, FrameError, chunkFrames, decodeFrame, encodeFrame, frameCount, frameSize, isFrame, type FrameEntry } from './frame';

const entry = (id: string, body: unknown): FrameEntry => ({ id: Buffer.from(id), body: Buffer.from(JSON.stringify(body)) });

describe('frames', () => {
  it('round-trips ids and bodies in order, and the body is NDJSON', () => {
    const entries = [entry('a', { id: 'a', n: 1 }), entry('é😀', { id: 'é😀', s: 'x\ny' }), entry('', {})];
    const bytes = encodeFrame(entries);
    expect(bytes.length).toBe(frameSize(entries));
    expect(isFrame(bytes)).toBe(true);
    expect(frameCount(bytes)).toBe(3);
    const f = decodeFrame(bytes);
    expect(f.count).toBe(3);
    expect(f.ids.map((b) => b.toString())).toEqual(['a', 'é😀', '']);
    expect(f.bodies.map((b) => JSON.parse(b.toString()))).toEqual([{ id: 'a', n: 1 }, { id: 'é😀', s: 'x\ny' }, {}]);
    const body = bytes.subarray(bytes.length - f.bodies.reduce((n, b) => n + b.length + 1, 0)).toString();
    expect(body.split('\n').filter(Boolean).map((l) => JSON.parse(l))).toEqual([{ id: 'a', n: 1 }, { id: 'é😀', s: 'x\ny' }, {}]);
  });

  it('decodes an empty frame', () => {
    expect(decodeFrame(encodeFrame([]))).toEqual({ count: 0, ids: [], bodies: [] });
  });

  it('round-trips any entries (property)', () => {
    fc.assert(
      fc.property(fc.array(fc.tuple(fc.string({ maxLength: 128 }), fc.jsonValue()), { maxLength: 50 }), (items) => {
        const entries = items.map(([id, v]) => entry(id, v));
        const f = decodeFrame(encodeFrame(entries));
        expect(f.ids.map((b) => b.toString())).toEqual(entries.map((e) => e.id.toString()));
        expect(f.bodies.map((b) => b.toString())).toEqual(entries.map((e) => e.body.toString()));
      }),
    );
  });

  it('refuses anything that is not a whole frame, with a FrameError (never another error)', () => {
    const good = encodeFrame([entry('a', { id: 'a' }), entry('b', { id: 'b' })]);
    expect(() => decodeFrame(Buffer.from('{"id":"a"}'))).toThrow(/not a frame/);
    expect(() => decodeFrame(good.subarray(0, good.length - 1))).toThrow(FrameError);
    expect(() => decodeFrame(Buffer.concat([good, Buffer.from('x')]))).toThrow(/stray bytes/);
    const huge = Buffer.from(good);
    huge.writeUInt32LE(0xffffffff, 4);
    expect(() => decodeFrame(huge)).toThrow(/claims/);
    fc.assert(
      fc.property(fc.nat(good.length - 1), fc.integer({ min: 0, max: 255 }), (at, byte) => {
        const bad = Buffer.from(good);
        bad[at] = byte;
        try {
          decodeFrame(bad);
        } catch (e) {
          expect(e).toBeInstanceOf(FrameError);
        }
      }),
    );
  });

  it('chunks entries within both limits, in order, never splitting an entry', () => {
    fc.assert(
      fc.property(fc.array(fc.string({ maxLength: 40 }), { maxLength: 200 }), fc.integer({ min: 1, max: 20 }), fc.integer({ min: 30, max: 400 }), (ids, maxEvents, maxBytes) => {
        const entries = ids.map((id, i) => entry(`${i}`, { id, i }));
        const chunks = chunkFrames(entries, { maxEvents, maxBytes });
        expect(chunks.flat()).toEqual(entries);
        for (const c of chunks) {
          expect(c.length).toBeGreaterThan(0);
          expect(c.length).toBeLessThanOrEqual(maxEvents);
          if (c.length > 1) expect(frameSize(c)).toBeLessThanOrEqual(maxBytes);
        }
      }),
    );
    expect(DEFAULT_FRAME_LIMITS.maxBytes).toBeLessThan(1024 * 1024);
  });
});
