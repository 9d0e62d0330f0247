/**
 * Exact top-K by count. Accumulator: the count of every member. Delta: per-member count increments →
 * ZINCRBY. Result: the K members with the highest counts, ties broken by member ascending (JS string order,
 * UTF-16 code units) — so a service reading a Redis sorted set must apply the same tie-break (`topK`).
 */
import { emptyRecord } from './aggregation';
import type { Aggregation, TopKAcc, TopKDelta, TopKEntry } from './aggregation';

/** The k entries with the highest counts, count descending then member ascending. */
export function topK(counts: Iterable<readonly [string, number]>, k: number): TopKEntry[] {
  const all: TopKEntry[] = [];
  for (const [member, count] of counts) if (count > 0) all.push({ member, count });
  all.sort((a, b) => b.count - a.count || (a.member < b.member ? -1 : a.member > b.member ? 1 : 0));
  return all.length > k ? all.slice(0, k) : all;
}

/** Adds b's counts to a's; mutates and returns a. */
function addCounts(a: TopKAcc, b: TopKAcc): TopKAcc {
  for (const [m, n] of b.counts) a.counts.set(m, (a.counts.get(m) ?? 0) + n);
  return a;
}

export function topKAggregation(k: number): Aggregation<TopKAcc, string, TopKDelta, TopKEntry[]> {
  if (!(Number.isInteger(k) && k > 0)) throw new RangeError(`top-K needs a positive integer k (got ${k})`);
  return {
    kind: 'topK',
    createAccumulator: () => ({ counts: new Map() }),
    add: (acc, member) => {
      acc.counts.set(member, (acc.counts.get(member) ?? 0) + 1);
      return acc;
    },
    merge: (a, b) => addCounts({ counts: new Map(a.counts) }, b),
    absorb: addCounts,
    result: (acc) => topK(acc.counts, k),
    deltaOf: (member) => {
      const counts = emptyRecord<number>();
      counts[member] = 1;
      return { kind: 'topK', counts };
    },
    addToDelta: (d, member) => {
      d.counts[member] = (d.counts[member] ?? 0) + 1;
      return d;
    },
    mergeDelta: (a, b) => {
      const counts = emptyRecord<number>();
      for (const m in a.counts) counts[m] = a.counts[m];
      for (const m in b.counts) counts[m] = (counts[m] ?? 0) + b.counts[m];
      return { kind: 'topK', counts };
    },
    applyDelta: (acc, d) => {
      for (const m in d.counts) acc.counts.set(m, (acc.counts.get(m) ?? 0) + d.counts[m]);
      return acc;
    },
    finalizeDelta: (d) => d,
  };
}
