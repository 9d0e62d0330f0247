/** count: the number of records. Delta { count } → HINCRBY. */
import type { Aggregation, CountAcc, CountDelta } from './aggregation';

export const countAggregation: Aggregation<CountAcc, unknown, CountDelta, number> = {
  kind: 'count',
  createAccumulator: () => ({ count: 0 }),
  add: (acc) => {
    acc.count++;
    return acc;
  },
  merge: (a, b) => ({ count: a.count + b.count }),
  result: (acc) => acc.count,
  deltaOf: () => ({ kind: 'count', count: 1 }),
  addToDelta: (d) => {
    d.count++;
    return d;
  },
  mergeDelta: (a, b) => ({ kind: 'count', count: a.count + b.count }),
  applyDelta: (acc, d) => {
    acc.count += d.count;
    return acc;
  },
  finalizeDelta: (d) => d,
};
