/**
 * Two counters over flagged records. Input: bit flags (FLAG_A = 1, FLAG_B = 2).
 * - ratio: numerator (FLAG_A) / denominator (FLAG_B); e.g. payment_failure_rate: payment_failed has both
 *   flags, payment_succeeded only the denominator's. Result { ratio | null, numerator, denominator }.
 * - abandonment: started (FLAG_A) and completed (FLAG_B) records of a session; abandoned = started > 0 and
 *   completed = 0 (cart_abandonment: add_to_cart without order_placed).
 * Deltas { numerator, denominator } / { started, completed } → two HINCRBYs.
 */
import { FLAG_A, FLAG_B } from './aggregation';
import type { AbandonmentAcc, AbandonmentDelta, AbandonmentResult, Aggregation, FlagsInput, RatioAcc, RatioDelta, RatioResult } from './aggregation';

export const ratioAggregation: Aggregation<RatioAcc, FlagsInput, RatioDelta, RatioResult> = {
  kind: 'ratio',
  createAccumulator: () => ({ numerator: 0, denominator: 0 }),
  add: (acc, f) => {
    if (f & FLAG_A) acc.numerator++;
    if (f & FLAG_B) acc.denominator++;
    return acc;
  },
  merge: (a, b) => ({ numerator: a.numerator + b.numerator, denominator: a.denominator + b.denominator }),
  result: (acc) => ({ ratio: acc.denominator === 0 ? null : acc.numerator / acc.denominator, numerator: acc.numerator, denominator: acc.denominator }),
  deltaOf: (f) => ({ kind: 'ratio', numerator: f & FLAG_A ? 1 : 0, denominator: f & FLAG_B ? 1 : 0 }),
  addToDelta: (d, f) => {
    if (f & FLAG_A) d.numerator++;
    if (f & FLAG_B) d.denominator++;
    return d;
  },
  mergeDelta: (a, b) => ({ kind: 'ratio', numerator: a.numerator + b.numerator, denominator: a.denominator + b.denominator }),
  applyDelta: (acc, d) => {
    acc.numerator += d.numerator;
    acc.denominator += d.denominator;
    return acc;
  },
  finalizeDelta: (d) => d,
};

export const abandonmentAggregation: Aggregation<AbandonmentAcc, FlagsInput, AbandonmentDelta, AbandonmentResult> = {
  kind: 'abandonment',
  createAccumulator: () => ({ started: 0, completed: 0 }),
  add: (acc, f) => {
    if (f & FLAG_A) acc.started++;
    if (f & FLAG_B) acc.completed++;
    return acc;
  },
  merge: (a, b) => ({ started: a.started + b.started, completed: a.completed + b.completed }),
  result: (acc) => ({ abandoned: acc.started > 0 && acc.completed === 0, started: acc.started, completed: acc.completed }),
  deltaOf: (f) => ({ kind: 'abandonment', started: f & FLAG_A ? 1 : 0, completed: f & FLAG_B ? 1 : 0 }),
  addToDelta: (d, f) => {
    if (f & FLAG_A) d.started++;
    if (f & FLAG_B) d.completed++;
    return d;
  },
  mergeDelta: (a, b) => ({ kind: 'abandonment', started: a.started + b.started, completed: a.completed + b.completed }),
  applyDelta: (acc, d) => {
    acc.started += d.started;
    acc.completed += d.completed;
    return acc;
  },
  finalizeDelta: (d) => d,
};
