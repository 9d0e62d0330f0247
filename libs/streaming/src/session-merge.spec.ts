import fc from 'fast-check';
import { mergeSessions, planSessionMerge, SessionEntry } from './session-merge';

const concat = (a: number[], b: number[]): number[] => [...a, ...b].sort((x, y) => x - y);

/** Reference: sessions from sorted timestamps, a new one whenever the next event is >= gap after the last. */
function referenceSessions(ts: number[], gap: number): SessionEntry<number[]>[] {
  const sorted = [...ts].sort((a, b) => a - b);
  const out: SessionEntry<number[]>[] = [];
  for (const t of sorted) {
    const last = out[out.length - 1];
    if (last && t - last.value[last.value.length - 1] < gap) {
      last.value.push(t);
      last.end = t + gap;
    } else out.push({ start: t, end: t + gap, value: [t] });
  }
  return out;
}

describe('mergeSessions', () => {
  it('merges intersecting windows and keeps touching ones apart', () => {
    const gap = 10;
    const merged = mergeSessions(
      [0, 5, 14, 23, 33, 40].map((t) => ({ start: t, end: t + gap, value: [t] })),
      concat,
    );
    expect(merged).toEqual([
      { start: 0, end: 33, value: [0, 5, 14, 23] },
      { start: 33, end: 50, value: [33, 40] },
    ]);
    // exactly gap apart: [0,10) and [10,20) touch, do not intersect
    expect(mergeSessions([{ start: 0, end: 10, value: [0] }, { start: 10, end: 20, value: [10] }], concat)).toHaveLength(2);
    expect(mergeSessions([{ start: 0, end: 10, value: [0] }, { start: 9, end: 19, value: [9] }], concat)).toHaveLength(1);
  });

  it('does not modify its input', () => {
    const input = [{ start: 5, end: 15, value: [5] }, { start: 0, end: 10, value: [0] }];
    const copy = JSON.parse(JSON.stringify(input));
    mergeSessions(input, concat);
    expect(input).toEqual(copy);
  });

  it('matches the reference for any order and any grouping of the events', () => {
    fc.assert(
      fc.property(
        fc.array(fc.integer({ min: 0, max: 500 }), { maxLength: 40 }),
        fc.integer({ min: 1, max: 60 }),
        fc.array(fc.nat(), { maxLength: 40 }),
        (ts, gap, cuts) => {
          const expected = referenceSessions(ts, gap);
          const single = ts.map((t) => ({ start: t, end: t + gap, value: [t] }));
          expect(mergeSessions(single, concat)).toEqual(expected);
          // merge in arbitrary groups, then merge the groups' results: same sessions (associativity)
          const groups: SessionEntry<number[]>[][] = [];
          let i = 0;
          for (const c of cuts) {
            if (i >= single.length) break;
            const n = 1 + (c % 5);
            groups.push(single.slice(i, i + n));
            i += n;
          }
          if (i < single.length) groups.push(single.slice(i));
          const partial = groups.flatMap((g) => mergeSessions(g, concat)).reverse();
          expect(mergeSessions(partial, concat)).toEqual(expected);
        },
      ),
    );
  });
});

describe('planSessionMerge', () => {
  const stored = [
    { start: 0, end: 10, id: 'a' },
    { start: 20, end: 30, id: 'b' },
    { start: 30, end: 40, id: 'c' },
    { start: 50, end: 60, id: 'd' },
  ];

  it('finds the stored sessions a new window merges with, transitively', () => {
    const p = planSessionMerge(stored, { start: 8, end: 21 });
    expect(p.merged.map((s) => s.id)).toEqual(['a', 'b']);
    expect(p.kept.map((s) => s.id)).toEqual(['c', 'd']);
    expect([p.start, p.end]).toEqual([0, 30]);
    const q = planSessionMerge(stored, { start: 25, end: 35 });
    expect(q.merged.map((s) => s.id)).toEqual(['b', 'c']);
    expect([q.start, q.end]).toEqual([20, 40]);
  });

  it('touching is not intersecting', () => {
    const p = planSessionMerge(stored, { start: 40, end: 50 });
    expect(p.merged).toEqual([]);
    expect([p.start, p.end]).toEqual([40, 50]);
  });

  it('merging with a long window swallows everything it covers', () => {
    const p = planSessionMerge(stored, { start: 5, end: 55 });
    expect(p.merged).toHaveLength(4);
    expect([p.start, p.end]).toEqual([0, 60]);
  });

  it('agrees with mergeSessions (property)', () => {
    fc.assert(
      fc.property(fc.array(fc.integer({ min: 0, max: 300 }), { maxLength: 30 }), fc.integer({ min: 0, max: 300 }), fc.integer({ min: 1, max: 40 }), (ts, t, gap) => {
        const sessions = mergeSessions(ts.map((x) => ({ start: x, end: x + gap, value: [x] })), concat);
        const p = planSessionMerge(sessions, { start: t, end: t + gap });
        const expected = mergeSessions([...sessions, { start: t, end: t + gap, value: [t] }], concat);
        const mergedSession = expected.find((s) => s.value.includes(t) && s.start <= t && t < s.end)!;
        expect([p.start, p.end]).toEqual([mergedSession.start, mergedSession.end]);
        expect(p.kept.length + 1).toBe(expected.length);
      }),
    );
  });
});
