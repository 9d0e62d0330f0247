import { InMemoryFencedWriter } from '@tidemark/state';
import { JOIN_KEYS, decideJoin, decodeJoin, joinDeltaOps, joinLatenessDeadline, joinMember } from './join-store';

const B = { lowerMs: 0, upperMs: 900_000 };
const L = 60_000;
const left = { ts: 1_000_000, id: 'o1', fields: { userId: 'u1', amount: 9 } };

describe('joinDeltaOps', () => {
  it('keeps the earliest left, the rights, a due time that only moves earlier and a cleanup time that only moves later', async () => {
    const w = new InMemoryFencedWriter();
    await w.apply({ key: 'p', expectedSeq: 0, newSeq: 1 }, joinDeltaOps('unpaid', 'k', { kind: 'join', left, rights: [] }, B, L, 1000));
    await w.apply({ key: 'p', expectedSeq: 1, newSeq: 2 }, joinDeltaOps('unpaid', 'k', { kind: 'join', left: { ...left, ts: 2_000_000, id: 'o0' }, rights: [1_500_000, 3_000_000] }, B, L, 1000));
    const h = Object.fromEntries(w.hashes.get(JOIN_KEYS.state('unpaid', 'k'))!);
    expect(decodeJoin(h)).toEqual({ left, updates: 2, resolved: false, emitted: null });
    expect([...w.zsets.get(JOIN_KEYS.rights('unpaid', 'k'))!.keys()]).toEqual(['1500000', '3000000']);
    expect(w.zsets.get(JOIN_KEYS.due)!.get(joinMember('unpaid', 'k'))).toBe(1_500_000); // the right's time: earlier than the left's deadline (1_900_000)
    expect(w.zsets.get(JOIN_KEYS.purge)!.get(joinMember('unpaid', 'k'))).toBe(3_000_000 + 900_000 + L);
  });

  it('guards the apply with the earliest lateness deadline of its sides', () => {
    expect(joinLatenessDeadline({ kind: 'join', left, rights: [] }, B, L)).toBe(1_000_000 + 900_000 + L);
    expect(joinLatenessDeadline({ kind: 'join', left, rights: [1_200_000] }, B, L)).toBe(1_200_000 + L);
    expect(joinLatenessDeadline({ kind: 'join', left: null, rights: [] }, B, L)).toBe(Infinity);
  });
});

describe('decideJoin', () => {
  const stored = { left, updates: 1, resolved: false, emitted: null };
  const end = left.ts + B.upperMs;

  it('drops a key without a left, waits for the deadline', () => {
    expect(decideJoin(null, null, end, B)).toEqual({ kind: 'drop' });
    expect(decideJoin({ ...stored, left: null }, 5, end, B)).toEqual({ kind: 'drop' });
    expect(decideJoin(stored, null, end - 1, B)).toEqual({ kind: 'wait', due: end });
  });

  it('publishes an unmatched left once its deadline passed, nothing for one matched in time', () => {
    expect(decideJoin(stored, null, end, B)).toEqual({
      kind: 'resolve',
      emit: { windowStart: left.ts, windowEnd: end, version: 1, value: { status: 'unmatched', leftId: 'o1', leftTs: left.ts, matchedTs: null, fields: left.fields } },
    });
    expect(decideJoin(stored, left.ts + 5, end, B)).toEqual({ kind: 'resolve', emit: null });
  });

  it('re-publishes with the next version when a late match flips it, and only then', () => {
    const emitted = { ...stored, resolved: true, emitted: { version: 1, status: 'unmatched' as const, leftTs: left.ts, leftId: 'o1' } };
    expect(decideJoin(emitted, null, end + 10, B)).toEqual({ kind: 'resolve', emit: null });
    const flipped = decideJoin(emitted, left.ts + 7, end + 10, B);
    expect(flipped).toMatchObject({ kind: 'resolve', emit: { version: 2, value: { status: 'matched', matchedTs: left.ts + 7 } } });
  });
});

describe('join keys are encoded: no orderId names the keys of another order', () => {
  it('order `Z` paid, then order `Z:r`: both batches apply, each key its own state', async () => {
    const w = new InMemoryFencedWriter();
    await w.apply({ key: 'p', expectedSeq: 0, newSeq: 1 }, joinDeltaOps('unpaid', 'Z', { kind: 'join', left, rights: [1_100_000] }, B, L, 1000));
    const other = { ts: 1_200_000, id: 'o2', fields: { amount: 10 } };
    expect(await w.apply({ key: 'p', expectedSeq: 1, newSeq: 2 }, joinDeltaOps('unpaid', 'Z:r', { kind: 'join', left: other, rights: [] }, B, L, 1000))).toEqual({ status: 'applied' });
    expect(decodeJoin(Object.fromEntries(w.hashes.get(JOIN_KEYS.state('unpaid', 'Z'))!))?.left).toEqual(left);
    expect(decodeJoin(Object.fromEntries(w.hashes.get(JOIN_KEYS.state('unpaid', 'Z:r'))!))?.left).toEqual(other);
    expect([...w.zsets.get(JOIN_KEYS.rights('unpaid', 'Z'))!.keys()]).toEqual(['1100000']);
  });

  it.each(['Z:r', ':', '{', '}', '*', 'a:b:r', '😀', '中文', 'x'.repeat(128)])('%j: the state and payments keys have no `:` in the key part', (key) => {
    expect(JOIN_KEYS.state('unpaid', key).split(':')).toHaveLength(5);
    expect(JOIN_KEYS.rights('unpaid', key).split(':')).toHaveLength(6);
    expect(JOIN_KEYS.state('unpaid', key)).not.toMatch(/[{}*]/);
    expect(JOIN_KEYS.state('unpaid', key)).not.toBe(JOIN_KEYS.rights('unpaid', key.replace(/:r$/, '')));
  });
});
