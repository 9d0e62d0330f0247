import fc from 'fast-check';
import { assign, GroupView, liveMembers, PartitionLease, plan } from './partition-group';

const NOW = 1_000_000;
const TIMEOUT = 6000;
const members = (...ids: string[]) => ids.map((id) => ({ id, heartbeatAt: NOW - 100 }));
const view = (ids: string[], partitions: number, leases: PartitionLease[] = []): GroupView => ({ members: members(...ids), partitions, leases, sessionTimeoutMs: TIMEOUT, now: NOW });
/** Leases that make an assignment real (every partition held by its assigned member). */
const leasesOf = (a: Map<string, number[]>): PartitionLease[] => [...a].flatMap(([m, ps]) => ps.map((p) => ({ partition: p, owner: m, expiresAt: NOW + 5000 })));
const counts = (a: Map<string, number[]>) => [...a.values()].map((ps) => ps.length);
const everyPartitionOnce = (a: Map<string, number[]>, partitions: number) =>
  expect([...a.values()].flat().sort((x, y) => x - y)).toEqual(Array.from({ length: partitions }, (_, i) => i));
/** Partitions whose owner differs between two assignments (a partition absent from one counts as moved). */
function moved(before: Map<string, number[]>, after: Map<string, number[]>): number {
  const owner = (a: Map<string, number[]>) => new Map([...a].flatMap(([m, ps]) => ps.map((p) => [p, m] as const)));
  const b = owner(before);
  let n = 0;
  for (const [p, m] of owner(after)) if (b.get(p) !== m) n++;
  return n;
}

describe('liveMembers', () => {
  it('keeps members whose heartbeat is within the session timeout, sorted and unique', () => {
    expect(liveMembers([{ id: 'b', heartbeatAt: NOW - TIMEOUT }, { id: 'a', heartbeatAt: NOW }, { id: 'c', heartbeatAt: NOW - TIMEOUT - 1 }, { id: 'a', heartbeatAt: NOW }], NOW, TIMEOUT)).toEqual(['a', 'b']);
  });
});

describe('assign', () => {
  it('gives one member everything, and nobody nothing', () => {
    expect(assign(view(['a'], 8)).get('a')).toEqual([0, 1, 2, 3, 4, 5, 6, 7]);
    expect(assign(view([], 8)).size).toBe(0);
  });

  it('is balanced (counts differ by at most one) and covers every partition once, from scratch', () => {
    for (const n of [1, 2, 3, 5, 8, 11]) {
      const ids = Array.from({ length: n }, (_, i) => `m${i}`);
      for (const partitions of [1, 4, 8, 16, 31]) {
        const a = assign(view(ids, partitions));
        everyPartitionOnce(a, partitions);
        expect(Math.max(...counts(a)) - Math.min(...counts(a))).toBeLessThanOrEqual(1);
      }
    }
  });

  it('is a fixed point once the leases match it: nothing flaps', () => {
    const a = assign(view(['a', 'b', 'c'], 8));
    expect(assign(view(['a', 'b', 'c'], 8, leasesOf(a)))).toEqual(a);
  });

  it('does not depend on the order members or leases are listed in', () => {
    const a = assign(view(['a', 'b', 'c'], 8));
    const leases = leasesOf(a).reverse();
    expect(assign({ ...view(['c', 'a', 'b'], 8), leases })).toEqual(assign(view(['a', 'b', 'c'], 8, leasesOf(a))));
  });

  it('moves only the leaving member’s partitions when one leaves', () => {
    const a = assign(view(['a', 'b', 'c'], 8));
    const leases = leasesOf(a).filter((l) => l.owner !== 'b');
    const after = assign(view(['a', 'c'], 8, leases));
    everyPartitionOnce(after, 8);
    expect(counts(after)).toEqual([4, 4]);
    for (const m of ['a', 'c']) for (const p of a.get(m)!) expect(after.get(m)).toContain(p);
    expect(moved(a, after)).toBe(a.get('b')!.length);
  });

  it('moves only what the joining member must get when one joins', () => {
    const a = assign(view(['a', 'b'], 8));
    const after = assign(view(['a', 'b', 'c'], 8, leasesOf(a)));
    everyPartitionOnce(after, 8);
    expect(after.get('c')!.length).toBe(2); // ⌊8/3⌋, the two others keep 3 each
    expect(moved(a, after)).toBe(2);
    for (const m of ['a', 'b']) for (const p of after.get(m)!) expect(a.get(m)).toContain(p);
  });

  it('treats leases of dead members and expired leases as free', () => {
    const leases: PartitionLease[] = [
      { partition: 0, owner: 'dead', expiresAt: NOW + 5000 },
      { partition: 1, owner: 'a', expiresAt: NOW - 1 },
      { partition: 2, owner: 'a', expiresAt: NOW + 1 },
    ];
    const v = { ...view(['a', 'b'], 4, leases), members: [...members('a', 'b'), { id: 'dead', heartbeatAt: NOW - TIMEOUT - 1 }] };
    const a = assign(v);
    expect([...a.keys()]).toEqual(['a', 'b']);
    expect(a.get('a')).toContain(2);
    everyPartitionOnce(a, 4);
  });

  it('gives the extra partitions to the members already holding more (no needless move)', () => {
    // 5 partitions, 2 members: b holds 3, a holds 2 → b keeps its 3 (quota 3), a its 2.
    const leases: PartitionLease[] = [0, 1, 2].map((p) => ({ partition: p, owner: 'b', expiresAt: NOW + 1 })).concat([3, 4].map((p) => ({ partition: p, owner: 'a', expiresAt: NOW + 1 })));
    const a = assign(view(['a', 'b'], 5, leases));
    expect(a.get('b')).toEqual([0, 1, 2]);
    expect(a.get('a')).toEqual([3, 4]);
  });

  it('property: balanced, complete, and minimal movement for any sequence of joins and leaves', () => {
    fc.assert(
      fc.property(
        fc.integer({ min: 1, max: 24 }),
        fc.array(fc.tuple(fc.boolean(), fc.integer({ min: 0, max: 9 })), { minLength: 1, maxLength: 12 }),
        (partitions, steps) => {
          let ids = ['m0'];
          let current = assign(view(ids, partitions));
          for (const [join, k] of steps) {
            const id = `m${k}`;
            if (join && !ids.includes(id)) ids = [...ids, id];
            else if (!join && ids.length > 1 && ids.includes(id)) ids = ids.filter((x) => x !== id);
            else continue;
            const leases = leasesOf(current).filter((l) => ids.includes(l.owner!));
            const next = assign(view(ids, partitions, leases));
            everyPartitionOnce(next, partitions);
            const c = counts(next);
            expect(Math.max(...c) - Math.min(...c)).toBeLessThanOrEqual(1);
            // The least that must move: the orphans (a leaver's), plus what members must shed to reach their new cap.
            const q = Math.floor(partitions / ids.length);
            const orphans = partitions - leases.length;
            const kept = [...current].filter(([m]) => ids.includes(m)).map(([, ps]) => ps.length);
            const extraSlots = partitions % ids.length;
            // Members above q keep at most q + 1, and only `extraSlots` of them can keep q + 1.
            const above = kept.map((n) => Math.max(0, n - q)).sort((x, y) => y - x);
            let shed = 0;
            above.forEach((x, i) => (shed += i < extraSlots ? Math.max(0, x - 1) : x));
            expect(moved(current, next)).toBe(orphans + shed);
            expect(assign(view(ids, partitions, leasesOf(next)))).toEqual(next);
            current = next;
          }
        },
      ),
      { numRuns: 300 },
    );
  });
});

describe('plan', () => {
  it('claims its share from scratch', () => {
    const p = plan('a', view(['a', 'b'], 4));
    expect(p.claim).toEqual(p.target);
    expect(p.target.length).toBe(2);
    expect(p.keep).toEqual([]);
    expect(p.release).toEqual([]);
  });

  it('counts itself as a member before its first heartbeat is visible', () => {
    expect(plan('a', view([], 3)).claim).toEqual([0, 1, 2]);
  });

  it('keeps what it holds and may keep, releases the rest for a joiner', () => {
    const leases = [0, 1, 2, 3].map((p) => ({ partition: p, owner: 'a', expiresAt: NOW + 5000 }));
    const p = plan('a', view(['a', 'b'], 4, leases));
    expect(p.keep.length).toBe(2);
    expect(p.release.length).toBe(2);
    expect([...p.keep, ...p.release].sort()).toEqual([0, 1, 2, 3]);
    // The joiner waits for them: still leased to a.
    const q = plan('b', view(['a', 'b'], 4, leases));
    expect(q.claim).toEqual([]);
    expect(q.wait.sort()).toEqual(p.release.sort());
  });

  it('claims a partition only once its lease is released or expired, never while a dead member’s lease runs', () => {
    const leases: PartitionLease[] = [
      { partition: 0, owner: 'gone', expiresAt: NOW + 3000 }, // dead (no heartbeat), lease still running
      { partition: 1, owner: 'gone', expiresAt: NOW }, // expired just now
    ];
    const p = plan('a', view(['a'], 2, leases));
    expect(p.target).toEqual([0, 1]);
    expect(p.wait).toEqual([0]);
    expect(p.claim).toEqual([1]);
    expect(plan('a', { ...view(['a'], 2, leases), now: NOW + 3000 }).claim).toEqual([0, 1]);
  });

  it('does not count an expired lease of its own as held', () => {
    const p = plan('a', view(['a'], 1, [{ partition: 0, owner: 'a', expiresAt: NOW - 1 }]));
    expect(p.keep).toEqual([]);
    expect(p.claim).toEqual([0]);
  });

  it('every member planning from the same view claims disjoint partitions', () => {
    const ids = ['a', 'b', 'c', 'd'];
    const all = ids.flatMap((m) => plan(m, view(ids, 10)).claim);
    expect(all.sort((x, y) => x - y)).toEqual(Array.from({ length: 10 }, (_, i) => i));
  });
});
