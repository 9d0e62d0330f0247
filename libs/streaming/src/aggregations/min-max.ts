/**
 * min and max of the records' values (exact: no arithmetic). Delta { value } → compare-and-set. null for no
 * record. -0 is read as 0 (so min(0, -0) does not depend on the order).
 */
import type { Aggregation, ExtremumAcc, MaxDelta, MinDelta } from './aggregation';

const lower = (a: number | null, b: number | null): number | null => (a === null ? b : b === null ? a : b < a ? b : a);
const higher = (a: number | null, b: number | null): number | null => (a === null ? b : b === null ? a : b > a ? b : a);

export const minAggregation: Aggregation<ExtremumAcc, number, MinDelta, number | null> = {
  kind: 'min',
  createAccumulator: () => ({ value: null }),
  add: (acc, v) => {
    acc.value = lower(acc.value, v + 0);
    return acc;
  },
  merge: (a, b) => ({ value: lower(a.value, b.value) }),
  result: (acc) => acc.value,
  deltaOf: (value) => ({ kind: 'min', value: value + 0 }),
  addToDelta: (d, v) => {
    if (v < d.value) d.value = v + 0;
    return d;
  },
  mergeDelta: (a, b) => ({ kind: 'min', value: Math.min(a.value, b.value) }),
  applyDelta: (acc, d) => {
    acc.value = lower(acc.value, d.value);
    return acc;
  },
  finalizeDelta: (d) => d,
};

export const maxAggregation: Aggregation<ExtremumAcc, number, MaxDelta, number | null> = {
  kind: 'max',
  createAccumulator: () => ({ value: null }),
  add: (acc, v) => {
    acc.value = higher(acc.value, v + 0);
    return acc;
  },
  merge: (a, b) => ({ value: higher(a.value, b.value) }),
  result: (acc) => acc.value,
  deltaOf: (value) => ({ kind: 'max', value: value + 0 }),
  addToDelta: (d, v) => {
    if (v > d.value) d.value = v + 0;
    return d;
  },
  mergeDelta: (a, b) => ({ kind: 'max', value: Math.max(a.value, b.value) }),
  applyDelta: (acc, d) => {
    acc.value = higher(acc.value, d.value);
    return acc;
  },
  finalizeDelta: (d) => d,
};
