import { InMemoryFencedWriter } from '@tidemark/state';
import { KEYS, SessionSpan, deltaOps, dueMember, indexMember, sessionDeltaOps, sessionMember } from './window-store';

const MIN = 60_000;
const w = (start: number, end: number) => ({ metric: 'ab', key: 's1', start, end });

async function apply(writer: InMemoryFencedWriter, seq: number, stored: SessionSpan[], start: number, end: number, started: number) {
  const out = sessionDeltaOps(w(start, end), 'abandonment', { kind: 'abandonment', started, completed: 0 }, stored, 1000);
  await writer.apply({ key: 'p', expectedSeq: seq, newSeq: seq + 1 }, out.ops);
  return out;
}

describe('sessionDeltaOps', () => {
  it('keeps apart sessions that do not intersect, merges the ones a new session bridges', async () => {
    const writer = new InMemoryFencedWriter();
    const stored: SessionSpan[] = [];
    await apply(writer, 0, stored, 0, 30 * MIN, 1);
    await apply(writer, 1, stored, 30 * MIN, 60 * MIN, 2); // touching: a new session
    expect(stored).toEqual([
      { start: 0, end: 30 * MIN },
      { start: 30 * MIN, end: 60 * MIN },
    ]);
    // a fired first session: version 1
    writer.hashes.get(KEYS.window(w(0, 30 * MIN)))!.set('_v', '1').set('_f', '1');
    const out = await apply(writer, 2, stored, 10 * MIN, 40 * MIN, 4);
    expect(out.window).toEqual(w(0, 60 * MIN));
    expect(out.merged.map((s) => [s.start, s.end])).toEqual([
      [0, 30 * MIN],
      [30 * MIN, 60 * MIN],
    ]);
    expect(stored).toEqual([{ start: 0, end: 60 * MIN }]);
    const merged = writer.hashes.get(KEYS.window(w(0, 60 * MIN)))!;
    // counts added; updates summed (+1 for the delta) above the firing it carries, so it re-fires as version 2
    expect(Object.fromEntries(merged)).toEqual({ started: '7', completed: '0', _u: '3', _f: '1', _v: '1' });
    expect(writer.hashes.has(KEYS.window(w(0, 30 * MIN)))).toBe(false);
    expect(writer.hashes.has(KEYS.window(w(30 * MIN, 60 * MIN)))).toBe(false);
    expect([...writer.zsets.get(KEYS.sessions('ab', 's1'))!.keys()]).toEqual([sessionMember({ start: 0, end: 60 * MIN })]);
    expect([...writer.zsets.get(KEYS.index('ab'))!.keys()]).toEqual([indexMember(w(0, 60 * MIN))]);
    expect([...writer.zsets.get(KEYS.due)!.keys()]).toEqual([dueMember(w(0, 60 * MIN))]);
  });

  it('adds an event inside a session to it without moving it', async () => {
    const writer = new InMemoryFencedWriter();
    const stored: SessionSpan[] = [];
    await apply(writer, 0, stored, 0, 30 * MIN, 1);
    const out = await apply(writer, 1, stored, 0, 20 * MIN, 1);
    expect(out.window).toEqual(w(0, 30 * MIN));
    expect(Object.fromEntries(writer.hashes.get(KEYS.window(w(0, 30 * MIN)))!)).toEqual({ started: '2', completed: '0', _u: '2' });
  });
});

describe('window keys are encoded: no key value names another key', () => {
  it('a distinct metric keyed `a` and `a:hll`: each its own hash and HyperLogLog', async () => {
    const writer = new InMemoryFencedWriter();
    const ops = [
      ...deltaOps({ metric: 'uv', key: 'a', start: 0, end: MIN }, { kind: 'distinct', members: ['u1'] }, 1000),
      ...deltaOps({ metric: 'uv', key: 'a:hll', start: 0, end: MIN }, { kind: 'distinct', members: ['u2'] }, 1000),
    ];
    expect(await writer.apply({ key: 'p', expectedSeq: 0, newSeq: 1 }, ops)).toEqual({ status: 'applied' });
    expect(writer.hashes.get(KEYS.window({ metric: 'uv', key: 'a:hll', start: 0, end: MIN }))!.get('_u')).toBe('1');
    expect([...writer.hll.get(`${KEYS.window({ metric: 'uv', key: 'a', start: 0, end: MIN })}:hll`)!]).toEqual(['u1']);
  });

  it.each([':', '{x}', '*', 'a:b:r', '😀', '中文', ' ', 'x'.repeat(128)])('%j: window and session keys keep their shape', (key) => {
    expect(KEYS.window({ metric: 'm', key, start: 0, end: MIN }).split(':')).toHaveLength(7);
    expect(KEYS.sessions('m', key).split(':')).toHaveLength(5);
    expect(KEYS.window({ metric: 'm', key, start: 0, end: MIN })).not.toMatch(/[{}* ]/);
  });
});
