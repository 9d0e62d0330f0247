/**
 * sum and avg over fixed-point values. The input is the record's value already in micro-units
 * (toMicros(value)); sums of integers are exact whatever the order. Results remove the scale:
 * sum = micros / 1e6; avg = (micros / 1e6) / count, null for no record.
 */
import { addMicros, fromMicros } from '../fixed-point';
import type { Aggregation, AvgAcc, AvgDelta, SumAcc, SumDelta } from './aggregation';

export const sumAggregation: Aggregation<SumAcc, number, SumDelta, number> = {
  kind: 'sum',
  createAccumulator: () => ({ micros: 0 }),
  add: (acc, micros) => {
    acc.micros = addMicros(acc.micros, micros);
    return acc;
  },
  merge: (a, b) => ({ micros: addMicros(a.micros, b.micros) }),
  result: (acc) => fromMicros(acc.micros),
  deltaOf: (micros) => ({ kind: 'sum', micros }),
  addToDelta: (d, micros) => {
    d.micros = addMicros(d.micros, micros);
    return d;
  },
  mergeDelta: (a, b) => ({ kind: 'sum', micros: addMicros(a.micros, b.micros) }),
  applyDelta: (acc, d) => {
    acc.micros = addMicros(acc.micros, d.micros);
    return acc;
  },
  finalizeDelta: (d) => d,
};

export const avgAggregation: Aggregation<AvgAcc, number, AvgDelta, number | null> = {
  kind: 'avg',
  createAccumulator: () => ({ micros: 0, count: 0 }),
  add: (acc, micros) => {
    acc.micros = addMicros(acc.micros, micros);
    acc.count++;
    return acc;
  },
  merge: (a, b) => ({ micros: addMicros(a.micros, b.micros), count: a.count + b.count }),
  result: (acc) => (acc.count === 0 ? null : fromMicros(acc.micros) / acc.count),
  deltaOf: (micros) => ({ kind: 'avg', micros, count: 1 }),
  addToDelta: (d, micros) => {
    d.micros = addMicros(d.micros, micros);
    d.count++;
    return d;
  },
  mergeDelta: (a, b) => ({ kind: 'avg', micros: addMicros(a.micros, b.micros), count: a.count + b.count }),
  applyDelta: (acc, d) => {
    acc.micros = addMicros(acc.micros, d.micros);
    acc.count += d.count;
    return acc;
  },
  finalizeDelta: (d) => d,
};
