/**
 * Aggregations (Flink's AggregateFunction: createAccumulator / add / merge / getResult) with a DELTA form.
 *
 * A delta is what one batch contributes to one window, JSON-serialisable and mapping onto commutative Redis
 * updates, so the aggregation service applies a batch with one atomic script and the in-memory operator goes
 * through the very same path (`applyDelta`). For every aggregation:
 *
 *   add(acc, x)                      ≡ applyDelta(acc, deltaOf(x))
 *   applyDelta(applyDelta(acc, a), b) ≡ applyDelta(acc, mergeDelta(a, b))
 *   merge and mergeDelta are associative and commutative (results compared, HyperLogLog registers included).
 *
 * Accumulators are mutable: `add` and `applyDelta` update the accumulator they are given and return it.
 * `merge` and `mergeDelta` are pure (they return new values and leave their arguments alone). `absorb` is the
 * merge for a caller that owns its target (a freshly decoded or created accumulator): it may update the target in
 * place rather than copy it, so folding k accumulators costs their sizes once, not k copies of the growing total.
 * A delta always describes at least one input (deltas are created from a first input).
 *
 * Delta formats and their Redis mapping (one hash / key per metric|key|window):
 *
 * | kind        | delta                                         | Redis                                              |
 * |-------------|-----------------------------------------------|----------------------------------------------------|
 * | count       | { count }                                      | HINCRBY count                                      |
 * | sum         | { micros }  (value × 1e6, integer)             | HINCRBY micros                                     |
 * | avg         | { micros, count }                              | HINCRBY micros, HINCRBY count                      |
 * | min / max   | { value }                                      | compare-and-set (keep the smaller / larger)        |
 * | distinct    | { members } (the distinct members of the batch, sorted) | PFADD members…                           |
 * | topK        | { counts: {member: n} }                         | ZINCRBY n member, per member                       |
 * | ratio       | { numerator, denominator }                      | HINCRBY numerator, HINCRBY denominator             |
 * | funnel      | { sessions: {sessionId: maxStageIndex} }        | per session: keep the larger stage (hash with max)  |
 * | abandonment | { started, completed }                          | HINCRBY started, HINCRBY completed                 |
 */
import type { HyperLogLog } from '../hll';

export interface CountDelta {
  kind: 'count';
  count: number;
}
export interface SumDelta {
  kind: 'sum';
  /** Sum of the values in micro-units (each value × 1e6 rounded, then added). */
  micros: number;
}
export interface AvgDelta {
  kind: 'avg';
  micros: number;
  count: number;
}
export interface MinDelta {
  kind: 'min';
  value: number;
}
export interface MaxDelta {
  kind: 'max';
  value: number;
}
export interface DistinctDelta {
  kind: 'distinct';
  /** Distinct members added, sorted (canonical after finalizeDelta; duplicates are harmless before). */
  members: string[];
}
export interface TopKDelta {
  kind: 'topK';
  /** Count increment per member. */
  counts: Record<string, number>;
}
export interface RatioDelta {
  kind: 'ratio';
  numerator: number;
  denominator: number;
}
export interface FunnelDelta {
  kind: 'funnel';
  /** Per session (member), the highest stage index reached (0-based). */
  sessions: Record<string, number>;
}
export interface AbandonmentDelta {
  kind: 'abandonment';
  /** Records of a "started" type (e.g. add_to_cart). */
  started: number;
  /** Records of a "completed" type (e.g. order_placed). */
  completed: number;
}

export type AggregateDelta =
  | CountDelta
  | SumDelta
  | AvgDelta
  | MinDelta
  | MaxDelta
  | DistinctDelta
  | TopKDelta
  | RatioDelta
  | FunnelDelta
  | AbandonmentDelta;

export type AggregationKind = AggregateDelta['kind'];

/** Accumulators (plain data the service can also build from what it reads back from Redis). */
export interface CountAcc {
  count: number;
}
export interface SumAcc {
  micros: number;
}
export interface AvgAcc {
  micros: number;
  count: number;
}
export interface ExtremumAcc {
  value: number | null;
}
export type DistinctAcc = HyperLogLog;
export interface TopKAcc {
  counts: Map<string, number>;
}
export interface RatioAcc {
  numerator: number;
  denominator: number;
}
export interface FunnelAcc {
  sessions: Map<string, number>;
}
export interface AbandonmentAcc {
  started: number;
  completed: number;
}

/** Inputs, as extracted from a record by a compiled metric. */
export interface FunnelInput {
  member: string;
  /** 0-based stage index of the record's event type. */
  stage: number;
}
/** Bit flags: 1 = numerator / started, 2 = denominator / completed. */
export type FlagsInput = number;
export const FLAG_A = 1;
export const FLAG_B = 2;

/** Results (the `value` of a window result). */
export interface TopKEntry {
  member: string;
  count: number;
}
export interface RatioResult {
  /** numerator / denominator, null when the denominator is 0. */
  ratio: number | null;
  numerator: number;
  denominator: number;
}
export interface FunnelResult {
  /** Distinct sessions whose highest stage reached is >= the stage. */
  stages: { name: string; sessions: number }[];
  /** sessions(stage i+1) / sessions(stage i), null when the lower stage has no session. */
  rates: { from: string; to: string; rate: number | null }[];
}
export interface AbandonmentResult {
  /** At least one "started" record and no "completed" record. */
  abandoned: boolean;
  started: number;
  completed: number;
}

export interface Aggregation<Acc, In, D extends AggregateDelta, Out> {
  readonly kind: D['kind'];
  createAccumulator(): Acc;
  /** Adds one input; mutates and returns acc. */
  add(acc: Acc, input: In): Acc;
  /** A new accumulator holding both; a and b are unchanged. */
  merge(a: Acc, b: Acc): Acc;
  /**
   * ≡ merge(target, source) for a target the caller owns: updates target and returns it; source is unchanged.
   * Only where merge copies a collection (top-K, funnel, distinct); call it through `absorb` below.
   */
  absorb?(target: Acc, source: Acc): Acc;
  result(acc: Acc): Out;
  /** The delta of a single input. */
  deltaOf(input: In): D;
  /** Adds one more input to a delta under construction; mutates and returns it. */
  addToDelta(delta: D, input: In): D;
  /** Both deltas as one; a and b are unchanged. */
  mergeDelta(a: D, b: D): D;
  /** Applies a delta; mutates and returns acc. */
  applyDelta(acc: Acc, delta: D): Acc;
  /** The canonical (deduplicated, sorted) form of a delta built with addToDelta; mutates and returns it. */
  finalizeDelta(delta: D): D;
}

// eslint-disable-next-line @typescript-eslint/no-explicit-any
export type AnyAggregation = Aggregation<any, any, AggregateDelta, unknown>;

/** merge(target, source) for a target the caller owns (see Aggregation.absorb): in place where the kind can. */
export function absorb(agg: AnyAggregation, target: unknown, source: unknown): unknown {
  return agg.absorb ? agg.absorb(target, source) : agg.merge(target, source);
}

/** A null-prototype record: safe for any member name, JSON-serialisable. */
export function emptyRecord<V>(): Record<string, V> {
  return Object.create(null) as Record<string, V>;
}
